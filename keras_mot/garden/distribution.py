"""`runtime.distribution_strategy` of a Model Garden config → a `tf.distribute` strategy.

The trainer builds, prepares and compiles its models inside the strategy's scope; Keras' `fit`
then runs each step on every replica. keras_mot writes no distribution engine of its own.

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
}


class _NoStrategy:
    """The one-device run: a scope that does nothing."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def build_strategy(name):
    """The strategy named by `runtime.distribution_strategy` (checked; TensorFlow imported lazily).

    Args:
        name: one of `STRATEGIES` (case-insensitive; `None` is one device).

    Returns:
        An object with `scope()` and `num_replicas_in_sync`.

    Raises:
        KerasMotError: for a name keras_mot does not run (e.g. `tpu`, `parameter_server`).

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
                fix=f"Use one of: {allowed}. For JAX data parallelism see docs/backends.md.",
            )
        )
    if key in ("one_device", "default", "off"):
        return _NoStrategy()
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
