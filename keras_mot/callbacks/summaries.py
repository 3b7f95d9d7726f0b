"""`Summaries`: pruning sparsity as TensorBoard scalars, and `sparsity_summary` (the numbers).

Tags written (one point per epoch, or every `update_freq` steps):
- `sparsity/<layer path>`: fraction of zeros in the layer's masked kernel;
- `sparsity/global`: zeros over all pruned kernels, weighted by their sizes;
- `sparsity/target/<layer path>`: what the layer's schedule asks for at that step.
The x axis is the optimizer step (`model.optimizer.iterations`), so resumed runs line up.
"""

import os

import numpy as np
from keras import callbacks as keras_callbacks
from keras import ops

from keras_mot.callbacks.quantization import optimizer_step
from keras_mot.errors import KerasMotError, format_error


def write_scalar(tf, tag, value, step):
    """A TensorBoard scalar event: a float32 scalar tensor tagged for the "scalars" plugin
    (the plugin name TensorBoard's scalar summaries use; works without the tensorboard package,
    which `tf.summary.scalar` needs).

    Example:
        >>> with writer.as_default():
        ...     write_scalar(tf, "quant_agreement", 0.99, step=100)
    """
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )
    tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step, metadata=meta)


def sparsity_summary(model):
    """Per-layer and global sparsity of a model's pruned kernels, with the scheduled targets.

    Returns:
        dict: `{"layers": {path: zeros fraction}, "targets": {path: scheduled sparsity at the
        layer's last mask update (0.0 before the first)}, "global": weighted zeros fraction
        (None when nothing is pruned)}`.

    Example:
        >>> sparsity_summary(pruned_model)["global"]
        0.8
    """
    from keras_mot import graph
    from keras_mot.wrapper import Wrapper

    layers, targets, zeros, total = {}, {}, 0, 0
    for path, w in graph.iter_layers(model):
        if not isinstance(w, Wrapper) or w.prune is None or not w.built:
            continue
        folded = w.folded_weights()[0]
        pruned = [ops.convert_to_numpy(folded[name]) for name in w.masks]
        n_zero, size = sum(int(np.sum(k == 0)) for k in pruned), sum(k.size for k in pruned)
        layers[path] = n_zero / size
        step = int(ops.convert_to_numpy(w.mask_step))
        targets[path] = float(w.prune.schedule.sparsity_at(step)) if step >= 0 else 0.0
        zeros, total = zeros + n_zero, total + size
    return {"layers": layers, "targets": targets, "global": zeros / total if total else None}


class Summaries(keras_callbacks.Callback):
    """Writes per-layer and global sparsity of the pruned kernels as TensorBoard scalars.

    Args:
        log_dir: TensorBoard log directory; events go to `<log_dir>/sparsity`.
        update_freq: `"epoch"` (default) or an integer N: write every N training steps.

    Example:
        >>> model.fit(ds, callbacks=mot.callbacks(model) + [mot.callbacks.Summaries("logs/")])
    """

    def __init__(self, log_dir, update_freq="epoch"):
        super().__init__()
        valid_freq = update_freq == "epoch" or (
            isinstance(update_freq, int) and not isinstance(update_freq, bool) and update_freq > 0
        )
        if not valid_freq:
            raise KerasMotError(
                format_error(
                    "Summaries: `update_freq` must be 'epoch' or a positive number of steps.",
                    received=repr(update_freq),
                    fix="Pass update_freq='epoch' or e.g. 100.",
                )
            )
        if not isinstance(log_dir, (str, os.PathLike)):
            raise KerasMotError(
                format_error(
                    "Summaries: `log_dir` must be a path.", received=repr(log_dir), fix="Pass e.g. 'logs/'."
                )
            )
        self.log_dir = os.fspath(log_dir)
        self.update_freq = update_freq
        self._writer = None

    def _write(self):
        import tensorflow as tf  # the event-file writer, imported lazily like Keras' TensorBoard

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "sparsity"))
        summary = sparsity_summary(self.model)
        if summary["global"] is None:
            return
        scalars = {f"sparsity/{p}": v for p, v in summary["layers"].items()}
        scalars.update({f"sparsity/target/{p}": v for p, v in summary["targets"].items()})
        scalars["sparsity/global"] = summary["global"]
        step = optimizer_step(self.model)
        with self._writer.as_default():
            for tag, value in scalars.items():
                write_scalar(tf, tag, value, step)
        self._writer.flush()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq != "epoch" and optimizer_step(self.model) % self.update_freq == 0:
            self._write()

    def on_epoch_end(self, epoch, logs=None):
        if self.update_freq == "epoch":
            self._write()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
