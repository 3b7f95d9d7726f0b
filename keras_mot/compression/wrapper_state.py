"""`CompressedWeights`: the part of `keras_mot.wrapper.Wrapper` that runs a `WeightCompression`.

The wrapper builds the algorithm's state for each prunable weight (`"kernel"`), projects the
masked weight in every forward pass (before BatchNormalization folding and fake quantization), and
asks for one shared int8 grid when the algorithm shares values across channels.

Example:
    >>> wrapper.compressed_weights()["kernel"]   # the projected (e.g. clustered) kernel
"""

from keras import ops

from keras_mot.layers.base import resolve_attr
from keras_mot.quantization import bn_fold, ranges


class CompressedWeights:
    """Mixin of `Wrapper`: compression state, projection and the shared weight grid."""

    def _build_compression(self):
        self._compression_state = {}
        if getattr(self, "compress", None) is None:
            return
        refs = self.adapter.weights(self.layer)
        for wname in self.adapter.prunable_weights(self.layer):
            weight = ops.convert_to_numpy(resolve_attr(self.layer, refs[wname].attr))
            if wname in getattr(self, "masks", {}):
                weight = weight * ops.convert_to_numpy(self.masks[wname])
            self._compression_state[wname] = self.compress.build(
                self, wname, weight, refs[wname].channel_axis
            )

    def _compress_weights(self, weights, training=None):
        """`weights` with each compressed entry replaced by its projection."""
        for wname, state in getattr(self, "_compression_state", {}).items():
            weights[wname] = self.compress.project(weights[wname], state, training)
        return weights

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
            out[wname] = self.compress.project(w, state, False)
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
        return ranges.weight_range(flat, spec, flat_axis)
