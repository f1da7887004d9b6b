"""Reusable multimodal layers: keras.layers and keras.ops only."""

from zoo.layers.attention import AttentionPooling
from zoo.layers.encoders import audio_encoder
from zoo.layers.encoders import image_cnn_encoder
from zoo.layers.fusion import FUSIONS
from zoo.layers.fusion import AttentionFusion
from zoo.layers.fusion import ConcatFusion
from zoo.layers.fusion import GatedFusion
from zoo.layers.fusion import ModalityDropout
from zoo.layers.fusion import fusion_layer

__all__ = [
    "FUSIONS",
    "AttentionFusion",
    "AttentionPooling",
    "ConcatFusion",
    "GatedFusion",
    "ModalityDropout",
    "audio_encoder",
    "fusion_layer",
    "image_cnn_encoder",
]
