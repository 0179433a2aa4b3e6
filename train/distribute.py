"""Where a run trains, on the engine of its Keras backend; nothing here exchanges gradients itself.

- TensorFlow (the default): one device, or tf.distribute.MirroredStrategy over the GPUs of one host.
- JAX (KERAS_BACKEND=jax): keras.distribution.DataParallel over the local devices, and over several processes or
  hosts when KERAS_DISTRIBUTION_JOB_ADDRESSES / _NUM_PROCESSES / _PROCESS_ID are set (Keras calls
  jax.distributed.initialize with them): the documented multi-process route of Keras 3.

Several hosts on TensorFlow are refused: with Keras 3 (3.15.1, TensorFlow 2.21 here) MultiWorkerMirroredStrategy
fails in model.fit with "Attempt to convert a value (PerReplica:{...}) with an unsupported type ... to a Tensor", as
keras-team/keras#20585 reports.

--batch-size is per replica: the global batch is batch size x replicas (every device of every process). The learning
rate is used as given; with more replicas at the same per-replica batch, the linear scaling rule (learning rate x
replicas) is the usual start."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass

import keras

from edge.errors import UserError
from train.preflight import processes

JAX_ROUTE = ("set KERAS_BACKEND=jax and KERAS_DISTRIBUTION_JOB_ADDRESSES=HOST:PORT (process 0's address), "
             "KERAS_DISTRIBUTION_NUM_PROCESSES=N and KERAS_DISTRIBUTION_PROCESS_ID=0..N-1 on each host")
TF_MULTI_WORKER_BROKEN = "Keras 3's model.fit fails under TensorFlow's MultiWorkerMirroredStrategy (keras-team/keras#20585)"


@dataclass
class Placement:
    """What a trainer needs to know of where it runs. Build, compile and fit inside scope(); predict outside it."""

    name: str  # one, mirrored or multiworker
    replicas: int  # devices the global batch is split over, in every process
    processes: int = 1
    process: int = 0  # 0 is the chief: the only process that writes the run folder
    engine: object = None  # the tf.distribute strategy or keras.distribution in use; None: the default device

    @property
    def chief(self) -> bool:
        return self.process == 0

    def scope(self):
        return self.engine.scope() if self.engine is not None else contextlib.nullcontext()

    def local_batch(self, per_replica: int) -> int:
        """This process's part of the global batch: what its input pipeline batches."""
        return per_replica * self.replicas // self.processes

    def share(self, indices):
        """This process's part of INDICES: cut to a multiple of the replicas (Keras fails on a batch that splits
        unevenly over them), then every process takes every processes-th one, so all take the same number of steps."""
        even = indices[:len(indices) // self.replicas * self.replicas]
        return even[self.process::self.processes]


ONE = Placement("one", 1)


def _tf_workers() -> int:
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _cpu_devices() -> int:
    """EDGE_CPU_DEVICES=N: split the CPU into N logical devices (to try mirroring without GPUs; tests use it)."""
    return int(os.environ.get("EDGE_CPU_DEVICES") or 0)


def gpus() -> int:
    """GPUs this process sees, through the backend in use."""
    if keras.backend.backend() == "jax":
        import jax

        return sum(d.platform == "gpu" for d in jax.local_devices())
    import tensorflow as tf

    return len(tf.config.list_logical_devices("GPU"))


def _tensorflow(name: str) -> Placement:
    import tensorflow as tf

    if _tf_workers() > 1:
        raise UserError(f"TF_CONFIG lists {_tf_workers()} workers, but {TF_MULTI_WORKER_BROKEN}; to train across "
                        f"hosts, unset TF_CONFIG and {JAX_ROUTE}")
    if name == "multiworker" or processes() > 1:
        raise UserError(f"--strategy multiworker: needs the JAX backend ({TF_MULTI_WORKER_BROKEN}); {JAX_ROUTE}")
    if _cpu_devices():
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * _cpu_devices())
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    if name == "auto":
        name = "mirrored" if len(devices) > 1 else "one"
    if name == "one":
        return ONE
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
    return Placement("mirrored", strategy.num_replicas_in_sync, engine=strategy)


def _jax(name: str) -> Placement:
    import jax

    if _cpu_devices():
        jax.config.update("jax_num_cpu_devices", _cpu_devices())
    if processes() > 1:
        if name not in ("auto", "multiworker"):
            raise UserError(f"--strategy {name}: KERAS_DISTRIBUTION_NUM_PROCESSES is {processes()}; "
                            "use --strategy auto or multiworker, or unset it to train in this process only")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU processes exchange over TCP
        keras.distribution.initialize()  # jax.distributed.initialize from the KERAS_DISTRIBUTION_* variables
        name = "multiworker"
    elif name == "multiworker":
        raise UserError("--strategy multiworker: KERAS_DISTRIBUTION_NUM_PROCESSES is not set; " + JAX_ROUTE)
    devices = jax.devices()
    if name == "auto":
        name = "mirrored" if len(devices) > 1 else "one"
    if name == "one":
        return ONE
    # every device of every process; each process feeds its own share of the examples (Placement.share)
    distribution = keras.distribution.DataParallel(auto_shard_dataset=False)
    return Placement(name, len(devices), jax.process_count(), jax.process_index(), distribution)


def choose(name: str) -> Placement:
    """Where a run trains as --strategy NAME asks (auto: several processes -> multiworker, several devices ->
    mirrored, else one); prints what it uses. UserError for a combination this backend cannot run."""
    backend = keras.backend.backend()
    placement = _jax(name) if backend == "jax" else _tensorflow(name)
    count = gpus()
    kind = f"{count} GPU{'s' * (count != 1)}" if count else "CPU"
    plural = "s" * (placement.replicas != 1)
    process = f", process {placement.process} of {placement.processes}" if placement.processes > 1 else ""
    print(f"backend: {backend}; devices: {kind}; strategy: {placement.name} ({placement.replicas} replica{plural}{process})")
    return placement
