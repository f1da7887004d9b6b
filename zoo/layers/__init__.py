"""Reusable multimodal layers: keras.layers and keras.ops only."""

from zoo.layers.attention import AttentionPooling
from zoo.layers.augment import FlipAveraged
from zoo.layers.encoders import audio_encoder, image_cnn_encoder
from zoo.layers.fusion import (
    FUSIONS,
    AttentionFusion,
    ConcatFusion,
    GatedFusion,
    ModalityDropout,
    fusion_layer,
)
from zoo.layers.graph import GraphConvolution, GraphPooling
from zoo.layers.image import PixelShuffle

__all__ = [
    "FUSIONS",
    "AttentionFusion",
    "AttentionPooling",
    "ConcatFusion",
    "FlipAveraged",
    "GatedFusion",
    "GraphConvolution",
    "GraphPooling",
    "ModalityDropout",
    "PixelShuffle",
    "audio_encoder",
    "fusion_layer",
    "image_cnn_encoder",
]
