"""Pruning-mask updates of a `Wrapper` (the mixin `MaskUpdates`).

The mask of a pruned wrapper is recomputed outside the traced training step, by the
`UpdateMasks` callback at the steps its `PruningSchedule` makes due; `call` only multiplies the
kernel by it.
"""

from keras import ops

from keras_mot.errors import KerasMotError, format_error


def _due_update_step(schedule, step):
    """The schedule's latest mask-update step <= `step` (None before `begin_step`)."""
    if step < schedule.begin_step:
        return None
    last = step if schedule.end_step == -1 else min(step, schedule.end_step)
    return schedule.begin_step + (last - schedule.begin_step) // schedule.frequency * schedule.frequency


class MaskUpdates:
    """Mask-update methods of `Wrapper` (needs `prune`, `adapter`, `layer`, `kernel_mask` and
    `mask_step`, which `Wrapper.build` creates for a pruned layer)."""

    def prune_kind(self, name=None):
        """Layer family of pruned weight `name` (default: the first) for sparsity patterns."""
        name = name or next(iter(self.masks), "kernel")
        return self.adapter.sparsity_kind(self.layer, name) or self.adapter.weights(self.layer)[name].kind

    def update_mask(self, step):
        """Recomputes the pruning mask for integer training `step`, if an update is due.

        The due update is the schedule's latest update step <= `step` (so a skipped call, e.g.
        with `steps_per_execution > 1`, catches up); it is applied once (idempotent per step;
        `mask_step` records it and is saved with the model). Returns True when recomputed.
        """
        due = _due_update_step(self.prune.schedule, int(step)) if self.prune else None
        if due is None or due <= int(ops.convert_to_numpy(self.mask_step)):
            return False
        from keras_mot.layers.base import resolve_attr  # lazy: layers import this package

        sparsity = self.prune.schedule.sparsity_at(due)
        refs = self.adapter.weights(self.layer)
        for name, mask in self.masks.items():
            weight = resolve_attr(self.layer, refs[name].attr)
            masked = ops.convert_to_tensor(weight) * mask
            mask.assign(self.prune.pattern.compute_mask(masked, sparsity, self.prune_kind(name)))
        self.mask_step.assign(float(due))
        return True

    def _require_mask_updates(self):
        """Raises when this pruned layer is trained while no `UpdateMasks` callback is attached
        (checked when the training step is traced)."""
        if not getattr(self, "_mask_updates_attached", False):
            raise KerasMotError(
                format_error(
                    f"Layer '{self.name}' is pruned ({self.prune.pattern!r}) but is trained without "
                    "the UpdateMasks callback, so its pruning mask would never be updated.",
                    received="a training call (fit / train_step) with no UpdateMasks attached",
                    fix="Pass callbacks=mot.callbacks(model) (or add mot.callbacks.UpdateMasks()) "
                    "to fit(). In a custom loop: cb = UpdateMasks(); cb.set_model(model); "
                    "cb.on_train_begin(); then cb.on_train_batch_begin(i) before each step. "
                    "Call model.compile(...) again before the next fit(): Keras keeps the "
                    "training function whose tracing failed.",
                )
            )
