"""`runtime.distribution_strategy` of a Model Garden config → a `tf.distribute` strategy or a
`keras.distribution` data-parallel distribution (JAX).

The trainer builds, prepares and compiles its models inside the strategy's `scope()` and runs
`fit` inside `fit_scope(strategy)`; Keras' `fit` then runs each step on every replica (device).
keras_mot writes no distribution engine of its own.

Example:
    >>> strategy = build_strategy("one_device")
    >>> with strategy.scope():
    ...     pass
"""

import contextlib

from keras_mot.errors import KerasMotError, format_error

# Model Garden's names (official/common/distribute_utils.py) that keras_mot runs, and what each is.
STRATEGIES = {
    "one_device": "one device, no tf.distribute strategy",
    "default": "the same as one_device",
    "off": "the same as one_device",
    "mirrored": "tf.distribute.MirroredStrategy over all local GPUs (the CPU when there is none)",
    "multi_worker_mirrored": "tf.distribute.MultiWorkerMirroredStrategy; the cluster from TF_CONFIG",
    "jax_data_parallel": "keras.distribution.DataParallel over keras.distribution.list_devices() (JAX backend)",
}


class _NoStrategy:
    """The one-device run: a scope that does nothing."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


class DataParallelRun:
    """`jax_data_parallel`: a `keras.distribution.DataParallel` set while models are built and fit.

    Inside `scope()` and `fit_scope()` the distribution is Keras' global one: variables are
    created replicated on every device and each `fit` batch is split over the devices (one SPMD
    program, so batch statistics and activation ranges are over the whole global batch, as on
    one device). Outside them (evaluation, prediction, export) the replicated model runs as one
    model on batches of any size.

    Example:
        >>> run = DataParallelRun(keras.distribution.list_devices())
        >>> with run.scope():
        ...     model = build_model()
    """

    def __init__(self, devices):
        import keras

        self.devices = list(devices)
        self.distribution = keras.distribution.DataParallel(devices=self.devices)
        self.num_replicas_in_sync = len(self.devices)

    def scope(self):
        """The distribution set as Keras' global distribution (restored on exit)."""
        return self.distribution.scope()

    def fit_scope(self):
        """The same: JAX's `fit` reads the distribution when it shards each batch."""
        return self.distribution.scope()


def fit_scope(strategy):
    """The context `fit` runs in: the distribution of a `DataParallelRun`, else nothing.

    A tf.distribute strategy needs none: a model compiled in its scope keeps it for `fit`.

    Example:
        >>> with fit_scope(build_strategy("one_device")):
        ...     pass
    """
    scope = getattr(strategy, "fit_scope", None)
    return scope() if scope is not None else contextlib.nullcontext()


def build_strategy(name, global_batch_size=None):
    """The strategy named by `runtime.distribution_strategy` (checked; TensorFlow imported lazily).

    Args:
        name: one of `STRATEGIES` (case-insensitive; `None` is one device).
        global_batch_size: the training batch (`task.train_data.global_batch_size`); a
            data-parallel run splits it evenly over the devices.

    Returns:
        An object with `scope()` and `num_replicas_in_sync` (run `fit` in `fit_scope(it)`).

    Raises:
        KerasMotError: for a name keras_mot does not run (e.g. `tpu`, `parameter_server`), a
            tf.distribute strategy on a backend other than TensorFlow, `jax_data_parallel` on a
            backend other than JAX, or a batch that the devices do not divide.

    Example:
        >>> build_strategy("default").num_replicas_in_sync
        1
    """
    key = (name or "one_device").lower()
    if key not in STRATEGIES:
        allowed = "; ".join(f"'{k}' ({v})" for k, v in STRATEGIES.items())
        raise KerasMotError(
            format_error(
                "Config key 'runtime.distribution_strategy': keras-mot train does not run this strategy.",
                received=repr(name),
                fix=f"Use one of: {allowed}.",
            )
        )
    if key in ("one_device", "default", "off"):
        return _NoStrategy()
    if key == "jax_data_parallel":
        return _data_parallel(global_batch_size)
    from keras_mot import tf_bridge

    if not tf_bridge.is_tensorflow_backend():
        raise KerasMotError(
            format_error(
                f"runtime.distribution_strategy '{key}' is a tf.distribute strategy: it needs "
                "the TensorFlow backend of Keras.",
                received=repr(tf_bridge.backend_name()),
                fix="Run with KERAS_BACKEND=tensorflow, or set runtime.distribution_strategy: one_device.",
            )
        )
    import tensorflow as tf

    if key == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def _data_parallel(global_batch_size):
    import keras

    backend = keras.backend.backend()
    if backend != "jax":
        raise KerasMotError(
            format_error(
                "runtime.distribution_strategy 'jax_data_parallel' is keras.distribution.DataParallel, "
                "which keras-mot train runs on the JAX backend of Keras only.",
                received=f"KERAS_BACKEND={backend}",
                fix="Set KERAS_BACKEND=jax (or use 'mirrored' on the TensorFlow backend).",
            )
        )
    devices = keras.distribution.list_devices()
    if global_batch_size is not None and global_batch_size % len(devices):
        raise KerasMotError(
            format_error(
                f"runtime.distribution_strategy 'jax_data_parallel' splits each training batch over "
                f"{len(devices)} devices, which must divide task.train_data.global_batch_size.",
                received=f"global_batch_size={global_batch_size}, devices={len(devices)}",
                fix=f"Set task.train_data.global_batch_size to a multiple of {len(devices)}.",
            )
        )
    return DataParallelRun(devices)
