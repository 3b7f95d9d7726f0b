"""`CompressedWeights`: the part of `keras_mot.wrapper.Wrapper` that runs a `WeightCompression`.

The wrapper builds the algorithm's state for each prunable weight (`"kernel"`), projects the
masked weight in every forward pass (before BatchNormalization folding and fake quantization), and
asks for one shared int8 grid when the algorithm shares values across channels.

Example:
    >>> wrapper.compressed_weights()["kernel"]   # the projected (e.g. clustered) kernel
"""

from keras import ops

from keras_mot.errors import KerasMotError, format_error
from keras_mot.layers.base import resolve_attr
from keras_mot.quantization import bn_fold, ranges


class CompressedWeights:
    """Mixin of `Wrapper`: compression state, projection and the shared weight grid."""

    def _build_compression(self):
        self._compression_state = {}
        self.compression_active = None
        if getattr(self, "compress", None) is None:
            return
        refs = self.adapter.weights(self.layer)
        for wname in self.adapter.prunable_weights(self.layer):
            self._compression_state[wname] = self.compress.build(
                self, wname, self._masked_numpy(wname), refs[wname].channel_axis
            )
        if getattr(self.compress, "start_step", 0) > 0:  # staged: 0 until `update_compression`
            self.compression_active = self.add_weight(
                name="compression_active", shape=(), initializer="zeros", trainable=False
            )

    def _masked_numpy(self, wname):
        ref = self.adapter.weights(self.layer)[wname]
        weight = ops.convert_to_numpy(resolve_attr(self.layer, ref.attr))
        if wname in getattr(self, "masks", {}):
            weight = weight * ops.convert_to_numpy(self.masks[wname])
        return weight

    def _when_active(self, compressed, plain):
        active = getattr(self, "compression_active", None)
        if active is None:
            return compressed
        return ops.where(ops.convert_to_tensor(active) > 0, compressed, plain)

    def _compress_weights(self, weights, training=None):
        """`weights` with each compressed entry replaced by its projection (once active)."""
        for wname, state in getattr(self, "_compression_state", {}).items():
            projected = self.compress.project(weights[wname], state, training)
            weights[wname] = self._when_active(projected, weights[wname])
        return weights

    def compression_is_active(self):
        """Whether the projection is in effect (always, unless staged and before `start_step`).

        Example:
            >>> wrapper.compression_is_active()
            True
        """
        active = getattr(self, "compression_active", None)
        return active is None or float(ops.convert_to_numpy(active)) > 0

    def update_compression(self, step):
        """Activates a staged compression at integer training `step` >= its `start_step`: the
        state is re-initialised (`initialize`) from the current masked weights, once (the flag
        `compression_active` is saved with the model). Returns True when activated now.

        Example:
            >>> wrapper.update_compression(600)   # with compress=mot.Cluster(16, start_step=600)
            True
        """
        if self.compression_is_active() or int(step) < self.compress.start_step:
            return False
        for wname, state in self._compression_state.items():
            self.compress.initialize(state, self._masked_numpy(wname))
        self.compression_active.assign(1.0)
        return True

    def _require_compression_updates(self):
        """Raises when a staged compression is trained without `UpdateCompression` (checked
        when the training step is traced)."""
        if getattr(self, "compression_active", None) is None:
            return
        if not getattr(self, "_compression_updates_attached", False):
            raise KerasMotError(
                format_error(
                    f"Layer '{self.name}' has {self.compress!r} with start_step="
                    f"{self.compress.start_step}, trained without the UpdateCompression callback, "
                    "so the compression would never start.",
                    received="a training call (fit / train_step) with no UpdateCompression attached",
                    fix="Pass callbacks=mot.callbacks(model) (or add "
                    "mot.callbacks.UpdateCompression() after UpdateMasks) to fit(); call "
                    "model.compile(...) again before the next fit().",
                )
            )

    def compression_state(self):
        """`{weight name: state}` of the compression algorithm (`{}` when none).

        Example:
            >>> centroids = wrapper.compression_state()["kernel"]["centroids"]
        """
        return dict(getattr(self, "_compression_state", {}))

    def compressed_weights(self):
        """`{weight name: tensor}`: the projected weights before folding and quantization."""
        refs = self.adapter.weights(self.layer)
        out = {}
        for wname, state in self.compression_state().items():
            w = ops.convert_to_tensor(resolve_attr(self.layer, refs[wname].attr))
            if wname in getattr(self, "masks", {}):
                w = w * self.masks[wname]
            out[wname] = self._when_active(self.compress.project(w, state, False), w)
        return out

    def shared_weight_range(self, wname, lo, hi, spec, axis):
        """The weight range, widened to one grid for all channels when the algorithm shares its
        values across channels (each channel c gets `m * |bn scale c|`, m the shared magnitude)."""
        state = getattr(self, "_compression_state", {}).get(wname)
        if state is None or axis is None or not spec.per_channel:
            return lo, hi
        m = self.compress.shared_magnitude(state)
        if m is None:
            return lo, hi
        ref = self.adapter.weights(self.layer)[wname]
        filled = ops.ones(tuple(resolve_attr(self.layer, ref.attr).shape)) * ops.stop_gradient(m)
        if self.bn is not None and wname == "kernel":
            filled = bn_fold.fold_kernel(filled, bn_fold.bn_scale(self.bn), ref.channel_axis)
        flat, flat_axis = ranges.flatten_channel_axes(filled, ref.channel_axis)
        shared_lo, shared_hi = ranges.weight_range(flat, spec, flat_axis)
        return self._when_active(shared_lo, lo), self._when_active(shared_hi, hi)
