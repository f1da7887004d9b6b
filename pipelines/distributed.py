"""Data-parallel training over several processes, GPUs or a Ray cluster.

What distributes how (Keras 3.15.1):

- JAX: `keras.distribution.DataParallel` over the devices of all processes, the processes
  joined by `keras.distribution.initialize` (JAX's coordination service; gloo collectives
  on CPU). Every process runs the same training: same seed, same shuffled order, same global
  batches; each reads only its contiguous part of each global batch (`shard_batches`), and
  the gradients are averaged over all of them, so the weights follow those of a one-process
  run on the same global batches (within float rounding). Process 0 writes the run
  directory; the others train and write nothing.
- TensorFlow: `tf.distribute.MirroredStrategy` over the GPUs of one machine.
  `MultiWorkerMirroredStrategy` (several machines) is broken in Keras 3.15.1 (its trainer
  fails to convert PerReplica values), so the zoo does not offer it.
- PyTorch: Keras 3.15 has no `keras.distribution` for PyTorch, and `model.fit` does not
  synchronise gradients under torch DDP: not supported.

The ways in:

    python cli.py train NAME --local-processes 2           # N processes on this machine
    python cli.py train NAME --num-processes 2 --process-id 0 --coordinator HOST:PORT  # each host
    python cli.py train NAME --ray local --workers 2       # Ray Train, local or ADDRESS
    python cli.py train NAME --backend tensorflow --gpus all   # MirroredStrategy, one machine
    ZooClassifier(NAME, distribution=keras.distribution.DataParallel(...))   # Python API

Each global batch is cut to a multiple of the number of devices (every device takes an equal
part): a last, partial batch of an epoch loses at most (devices - 1) samples in a
multi-device run. Choose a batch size that is a multiple of the number of devices (it is
checked).
"""

import contextlib
import io
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import warnings

LOOPBACK = "127.0.0.1"
LOG_TAIL_LINES = 20


class DistributedError(RuntimeError):
    """A process of a distributed run failed (its rank and the end of its log are named)."""


# -- checks ---------------------------------------------------------------------------------


def _backend():
    import keras

    return keras.backend.backend()


def is_data_parallel(distribution):
    import keras

    return isinstance(distribution, keras.distribution.DataParallel)


def is_mirrored(distribution):
    if "tensorflow" not in sys.modules:
        return False
    import tensorflow as tf

    return isinstance(distribution, tf.distribute.MirroredStrategy)


def check_distribution(distribution):
    """Raises unless `distribution` is None or fits the running backend.

    A `keras.distribution.DataParallel` needs the JAX backend and, over several processes,
    `auto_shard_dataset=False` (the estimator gives each process its part of every global
    batch itself). A `tf.distribute.MirroredStrategy` needs the TensorFlow backend.
    """
    if distribution is None:
        return
    backend = _backend()
    if is_data_parallel(distribution):
        if backend != "jax":
            raise ValueError(
                "distribution=keras.distribution.DataParallel needs the JAX backend in Keras "
                "3.15 (KERAS_BACKEND=jax). Received: distribution=DataParallel on the "
                f"{backend} backend"
            )
        if process_count() > 1 and distribution.auto_shard_dataset:
            raise ValueError(
                "A DataParallel distribution over several processes must be made with "
                "auto_shard_dataset=False: the estimator feeds each process its part of every "
                "global batch. Received: auto_shard_dataset=True"
            )
        return
    if is_mirrored(distribution):
        if backend != "tensorflow":
            raise ValueError(
                "distribution=tf.distribute.MirroredStrategy needs the TensorFlow backend. "
                f"Received: the {backend} backend"
            )
        return
    raise ValueError(
        "distribution must be None, a keras.distribution.DataParallel (JAX backend) or a "
        "tf.distribute.MirroredStrategy (TensorFlow backend). "
        f"Received: distribution={distribution!r}"
    )


def device_count(distribution):
    """The number of devices the global batch is split over."""
    if distribution is None:
        return 1
    if is_mirrored(distribution):
        return distribution.num_replicas_in_sync
    return int(distribution.device_mesh.devices.size)


def check_batch_size(distribution, batch_size):
    """Raises unless every device can take an equal part of a global batch."""
    devices = device_count(distribution)
    if batch_size % devices:
        raise ValueError(
            f"batch_size must be a multiple of the number of devices ({devices}) in a "
            "data-parallel fit: each device takes an equal part of every global batch. "
            f"Received: batch_size={batch_size}"
        )


def process_count():
    """The number of processes of the JAX job (1 outside one, and on other backends)."""
    if _backend() != "jax":
        return 1
    import jax

    return jax.process_count()


def process_index():
    if _backend() != "jax":
        return 0
    import jax

    return jax.process_index()


@contextlib.contextmanager
def scope(distribution):
    """The context a distributed fit builds, compiles and trains the model in.

    A sharded pipeline has an unknown length (a batch cut to nothing is dropped), so Keras
    learns the epoch's length in the first epoch and warns that the input "ran out of
    data" at its end: that warning is silenced here, where it is expected.
    """
    if distribution is None:
        yield
        return
    with distribution.scope(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


# -- the data: each process reads its part of each global batch ----------------------------


def shard_batches(dataset, num_parts, index, multiple=None):
    """Cuts each batch to a multiple of `multiple` rows and keeps part `index` of `num_parts`.

    Part i holds the rows [i * k, (i + 1) * k) of the cut batch (k = its size / num_parts).
    `index=None` keeps the whole cut batch (what a one-process run on the same global batches
    sees). A batch cut to nothing is dropped. `multiple` defaults to `num_parts`.

    Example:

        shard_batches(dataset.batch(32), 2, 1)   # rows 16..31 of every batch of 32
    """
    import tensorflow as tf

    multiple = multiple or num_parts

    def cut(*parts):
        size = tf.shape(tf.nest.flatten(parts)[0])[0]
        kept = size - size % multiple
        start, stop = 0, kept
        if index is not None:
            local = kept // num_parts
            start, stop = index * local, (index + 1) * local
        cut_parts = tf.nest.map_structure(lambda t: t[start:stop], parts)
        return cut_parts if len(cut_parts) > 1 else cut_parts[0]

    def not_empty(*parts):
        return tf.shape(tf.nest.flatten(parts)[0])[0] > 0

    return dataset.map(cut).filter(not_empty)


def local_part(dataset, distribution):
    """What this process feeds a data-parallel fit: its part of every global batch.

    A `MirroredStrategy` and a one-device distribution take the batches as they are.
    """
    if dataset is None or not is_data_parallel(distribution):
        return dataset
    devices = device_count(distribution)
    if devices == 1:
        return dataset
    processes = process_count()
    return shard_batches(dataset, processes, process_index() if processes > 1 else None, devices)


# -- joining a multi-process job --------------------------------------------------------------


def parse_address(text, option="--coordinator"):
    """'HOST:PORT' -> (host, port); raises naming `option`."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{option} must be HOST:PORT (a port in 1..65535), e.g. 127.0.0.1:12345. "
            f"Received: {option} {text!r}"
        )
    return host.strip("[]"), int(port)


def initialize(coordinator, num_processes, process_id):
    """Joins this process to a JAX job and returns its DataParallel distribution.

    The coordination service (process 0) binds the coordinator's own address
    (`JAX_COORDINATOR_BIND_ADDRESS`, unless set), not every interface.
    """
    host, port = parse_address(coordinator)
    os.environ.setdefault("JAX_COORDINATOR_BIND_ADDRESS", f"{host}:{port}")
    import keras

    keras.distribution.initialize(
        job_addresses=coordinator, num_processes=num_processes, process_id=process_id
    )
    return data_parallel()


def data_parallel():
    """A DataParallel over every device of the job; each process feeds its own part."""
    import keras

    return keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False
    )


def mirrored_strategy(gpus):
    """`tf.distribute.MirroredStrategy` over the GPUs TensorFlow sees, or None.

    gpus: "all" (at least one GPU needed), "auto" (a strategy when there are two or more
    GPUs, else None: the default device).
    """
    import tensorflow as tf

    found = tf.config.list_logical_devices("GPU")
    if gpus == "auto":
        return tf.distribute.MirroredStrategy() if len(found) > 1 else None
    if not found:
        raise ValueError(
            "--gpus all trains on the GPUs TensorFlow sees, and it sees none on this machine. "
            "Received: --gpus all with 0 GPUs (leave --gpus out to train on the CPU)"
        )
    return tf.distribute.MirroredStrategy([device.name for device in found])


def check_options(
    backend, num_processes, process_id, coordinator, local_processes, ray, workers, gpus
):
    """Validates the distribution options of `cli.py train`; raises naming the option."""

    def given(value):
        return value is not None

    if given(process_id) and not given(num_processes):
        raise ValueError(
            "--process-id needs --num-processes (and --coordinator). "
            f"Received: --process-id {process_id} alone"
        )
    if given(num_processes):
        if not given(process_id) or not given(coordinator):
            missing = "--process-id" if not given(process_id) else "--coordinator"
            raise ValueError(
                f"--num-processes needs --process-id and --coordinator. Received: no {missing}"
            )
        if not 0 <= process_id < num_processes:
            raise ValueError(
                f"--process-id must be in 0..{num_processes - 1} (--num-processes "
                f"{num_processes}). Received: --process-id {process_id}"
            )
        parse_address(coordinator)
    elif given(coordinator):
        raise ValueError(
            f"--coordinator needs --num-processes and --process-id. Received: --coordinator "
            f"{coordinator} alone"
        )
    if given(workers) and not given(ray):
        raise ValueError(f"--workers needs --ray ADDRESS. Received: --workers {workers} alone")
    modes = [
        flag
        for flag, value in (
            ("--num-processes", num_processes),
            ("--local-processes", local_processes),
            ("--ray", ray),
            ("--gpus", gpus),
        )
        if given(value)
    ]
    if len(modes) > 1:
        raise ValueError(
            f"Choose one way to distribute a run. Received: {' and '.join(modes)} together"
        )
    if modes and modes[0] != "--gpus" and backend not in (None, "jax"):
        raise ValueError(
            f"{modes[0]} trains with keras.distribution, which needs the JAX backend in Keras "
            f"3.15 (--backend jax). Received: backend {backend!r}"
        )
    if given(gpus) and backend not in (None, "tensorflow"):
        raise ValueError(
            "--gpus uses tf.distribute.MirroredStrategy, which needs the TensorFlow backend "
            f"(--backend tensorflow). Received: backend {backend!r}"
        )
    if given(ray) and ray != "local" and not str(ray).strip():
        raise ValueError(f"--ray must be 'local' or a cluster address. Received: --ray {ray!r}")


# -- N processes on this machine ---------------------------------------------------------------


def free_port(host=LOOPBACK):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _tail(path, lines=LOG_TAIL_LINES):
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_local_processes(cli_args, num_processes, echo=sys.stdout):
    """Runs `cli.py train` in `num_processes` processes joined over loopback.

    `cli_args` are the train command's arguments without the distribution options; each
    process gets `--num-processes N --process-id I --coordinator 127.0.0.1:PORT` (a free
    port), KERAS_BACKEND=jax and JAX_COORDINATOR_BIND_ADDRESS=127.0.0.1:PORT. Process 0's
    output is echoed as it comes; every process logs to a temporary file. When one fails,
    the others are stopped and `DistributedError` names its rank, exit code and last log
    lines; Ctrl-C or SIGTERM stops them all. Returns after all have exited with 0.
    """
    port = free_port()
    coordinator = f"{LOOPBACK}:{port}"
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_COORDINATOR_BIND_ADDRESS": coordinator,
        "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
    }
    processes = []
    # SIGTERM (a scheduler, `kill`) stops the processes too, as Ctrl-C does (signal
    # handlers can only be set in the main thread).
    main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGTERM, _exit_on_signal) if main_thread else None
    try:
        _run_and_watch(cli_args, num_processes, coordinator, env, processes, echo)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous_handler)
        _stop(processes)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def _run_and_watch(cli_args, num_processes, coordinator, env, processes, echo):
    cli = str(pathlib.Path(__file__).resolve().parent.parent / "cli.py")
    with tempfile.TemporaryDirectory(prefix="zoo-processes-") as logs:
        log_paths = [pathlib.Path(logs) / f"process-{rank}.log" for rank in range(num_processes)]
        try:
            for rank, log_path in enumerate(log_paths):
                command = [
                    sys.executable,
                    cli,
                    *cli_args,
                    "--num-processes",
                    str(num_processes),
                    "--process-id",
                    str(rank),
                    "--coordinator",
                    coordinator,
                ]
                with open(log_path, "wb") as log:
                    processes.append(
                        subprocess.Popen(
                            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd()
                        )
                    )
            echoed = 0
            while True:
                echoed = _echo_new(log_paths[0], echoed, echo)
                codes = [process.poll() for process in processes]
                failed = [rank for rank, code in enumerate(codes) if code not in (None, 0)]
                if failed:
                    rank = failed[0]
                    _stop(processes)
                    _echo_new(log_paths[0], echoed, echo)
                    raise DistributedError(
                        f"process {rank} of {num_processes} failed (exit code {codes[rank]}); "
                        f"the others were stopped. Last lines of its log:\n"
                        f"{_tail(log_paths[rank])}"
                    )
                if all(code == 0 for code in codes):
                    _echo_new(log_paths[0], echoed, echo)
                    return
                time.sleep(0.2)
        finally:
            _stop(processes)


def _echo_new(path, offset, echo):
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            chunk = log.read()
    except OSError:
        return offset
    if chunk and echo is not None:
        echo.write(chunk.decode(errors="replace"))
        echo.flush()
    return offset + len(chunk)


# -- Ray Train ---------------------------------------------------------------------------------


def init_ray(address="local", num_cpus=None):
    """Connects to a Ray cluster ("local": starts one on this machine, no dashboard).

    The workers get this project on their path (a local cluster shares this checkout; a
    remote one receives it as the job's working directory, without .venv, .git and runs).
    """
    import ray

    root = str(pathlib.Path(__file__).resolve().parent.parent)
    if ray.is_initialized():
        return
    # The workers use this process's Keras backend (Ray Train's workers switch to JAX).
    env_vars = {"KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
    if address == "local":
        env_vars["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            runtime_env={"env_vars": env_vars},
            _node_ip_address=LOOPBACK,
            log_to_driver=False,
        )
    else:
        excludes = [".venv", ".git", "runs", "exports", "*.egg-info"]
        runtime_env = {"working_dir": root, "excludes": excludes, "env_vars": env_vars}
        ray.init(address=address, runtime_env=runtime_env)


def _rendezvous_class():
    import ray

    @ray.remote(num_cpus=0)
    class Rendezvous:
        """Where process 0 leaves the coordinator address and, at the end, its run."""

        def __init__(self):
            self.values = {}

        def put(self, key, value):
            self.values[key] = value

        def get(self, key):
            return self.values.get(key)

    return Rendezvous


def _ray_worker(config):
    """The training function of each Ray worker: joins the JAX job, trains, and (process 0)
    sends its run directory back through the rendezvous actor."""
    import ray
    import ray.train

    context = ray.train.get_context()
    rank, size = context.get_world_rank(), context.get_world_size()
    rendezvous = config["rendezvous"]
    os.environ["KERAS_BACKEND"] = "jax"
    if rank == 0:
        host = LOOPBACK if config["local"] else ray.util.get_node_ip_address()
        address = f"{host}:{free_port(host)}"
        ray.get(rendezvous.put.remote("coordinator", address))
    else:
        deadline = time.monotonic() + 300
        while (address := ray.get(rendezvous.get.remote("coordinator"))) is None:
            if time.monotonic() > deadline:
                raise DistributedError("process 0 did not publish the coordinator address")
            time.sleep(0.2)
    os.environ["JAX_COORDINATOR_BIND_ADDRESS"] = address
    distribution = initialize(address, size, rank)
    from pipelines.training import train_run

    with tempfile.TemporaryDirectory(prefix="zoo-ray-") as out:
        summary = train_run(**config["train"], out=out, distribution=distribution)
        if rank == 0:
            run_dir = pathlib.Path(summary["run_dir"])
            ray.get(rendezvous.put.remote("run", (run_dir.name, pack_dir(run_dir))))


def train_on_ray(address, workers, train_kwargs, out, num_cpus=None):
    """Trains with `workers` Ray Train workers; returns the run directory, unpacked in `out`.

    Every worker runs `train_run(**train_kwargs)` in the same JAX job (process 0 is the
    coordinator, on its node's address); process 0's run directory comes back to this
    process. ADDRESS "local" starts a Ray on this machine (`num_cpus`, default `workers`).
    """
    import ray
    from ray.train import RunConfig, ScalingConfig, TrainingFailedError

    # Ray 2.60 runs Ray Train v2; its generic trainer runs a function on every worker.
    from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer

    local = address == "local"
    init_ray(address, num_cpus=(num_cpus or workers) if local else None)
    rendezvous = _rendezvous_class().remote()
    storage = tempfile.mkdtemp(prefix="zoo-ray-storage-")
    try:
        trainer = DataParallelTrainer(
            _ray_worker,
            train_loop_config={"rendezvous": rendezvous, "local": local, "train": train_kwargs},
            scaling_config=ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 1}),
            run_config=RunConfig(storage_path=storage, name="zoo-train"),
        )
        trainer.fit()
        returned = ray.get(rendezvous.get.remote("run"))
    except (TrainingFailedError, ray.exceptions.RayError) as error:
        raise DistributedError(f"the Ray run failed: {error}") from None
    finally:
        ray.kill(rendezvous)
        import shutil

        shutil.rmtree(storage, ignore_errors=True)
    if returned is None:
        raise DistributedError("the Ray run ended without process 0's run directory")
    name, payload = returned
    return unpack_dir(payload, pathlib.Path(out), name)


def pack_dir(directory):
    """A directory as the bytes of an uncompressed tar archive (its files, relative)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(directory, arcname=".")
    return buffer.getvalue()


def unpack_dir(payload, out, name):
    """Unpacks `pack_dir` bytes as out/name (a new name on a clash), atomically: into a
    temporary directory beside it, then renamed into place. Returns the path."""
    out.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out))
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r") as archive:
        archive.extractall(staging, filter="data")
    for attempt in range(1, 10_000):
        target = out / (name + (f"-{attempt}" if attempt > 1 else ""))
        try:
            staging.rename(target)  # fails when target exists and is not empty
            return target
        except OSError:
            if not target.exists():
                raise
    raise DistributedError(f"Could not place the run directory {name!r} in {out}")


def describe(distribution):
    """What a run's config.json records about its distribution."""
    kind = "DataParallel" if is_data_parallel(distribution) else type(distribution).__name__
    return {"kind": kind, "processes": process_count(), "devices": device_count(distribution)}
