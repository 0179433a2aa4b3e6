"""Which devices a run trains on, through tf.distribute: one device, or MirroredStrategy over the GPUs of one host.
Nothing here exchanges gradients itself.

Several hosts are refused for now: with Keras 3 (3.15.1, TensorFlow 2.21 here) MultiWorkerMirroredStrategy fails in
model.fit with "Attempt to convert a value (PerReplica:{...}) with an unsupported type ... to a Tensor", as
keras-team/keras#20585 reports; the route Keras 3 documents instead is its distribution API on the JAX backend.

--batch-size is per replica: the global batch is batch size x replicas. The learning rate is used as given; with
more replicas at the same per-replica batch, the linear scaling rule (learning rate x replicas) is the usual start."""

from __future__ import annotations

import json
import os

STRATEGIES = ("auto", "one", "mirrored")
MULTI_WORKER_BROKEN = ("TF_CONFIG lists {workers} workers, but training across hosts is not available: Keras 3's model.fit "
                       "fails under MultiWorkerMirroredStrategy (keras-team/keras#20585); unset TF_CONFIG to train on "
                       "this host (--strategy mirrored uses all its GPUs)")


def _workers() -> int:
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _split_cpu(count: int) -> None:
    """EDGE_CPU_DEVICES=N: split the CPU into N logical devices (to try mirroring without GPUs; tests use it)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def choose(name: str):
    """The tf.distribute strategy NAME asks for (auto: more than one GPU or logical CPU device -> mirrored, else one
    device); prints what it uses. UserError when TF_CONFIG asks for several workers."""
    import tensorflow as tf

    if _workers() > 1:
        from edge.errors import UserError

        raise UserError(MULTI_WORKER_BROKEN.format(workers=_workers()))
    if os.environ.get("EDGE_CPU_DEVICES"):
        _split_cpu(int(os.environ["EDGE_CPU_DEVICES"]))
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if name == "auto":
        name = "mirrored" if len(devices) > 1 else "one"
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices]) if name == "mirrored" else tf.distribute.get_strategy()
    kind = f"{len(gpus)} GPU{'s' * (len(gpus) != 1)}" if gpus else f"CPU ({len(devices)} logical device{'s' * (len(devices) != 1)})"
    print(f"devices: {kind}; strategy: {name} ({type(strategy).__name__}, {strategy.num_replicas_in_sync} replicas)")
    return strategy
