"""`PruneSpec` (pattern + schedule) and `SparsityRule` (a target's per-kind entry).

A target reads its rules with `Target.pattern_for(kind, weight_shape)`.

Example:
    >>> spec = PruneSpec(Block(4, 1), PolynomialDecay(0.0, 0.9, 0, 1000))
    >>> PruneSpec.from_config(spec.get_config()) == spec
    True
"""

import dataclasses
from typing import Optional, Tuple

from keras_mot import codec
from keras_mot.errors import KerasMotError, format_error
from keras_mot.sparsity.patterns import SparsityPattern
from keras_mot.sparsity.schedules import PruningSchedule


@codec.register()
@dataclasses.dataclass(frozen=True)
class PruneSpec:
    """What pruning does to one layer: a `SparsityPattern` and a `PruningSchedule`.

    The update frequency is the schedule's `frequency`.

    Example:
        >>> PruneSpec(Unstructured(), ConstantSparsity(0.5, 0))
    """

    pattern: SparsityPattern
    schedule: PruningSchedule

    def __post_init__(self):
        if not isinstance(self.pattern, SparsityPattern):
            raise KerasMotError(
                format_error(
                    "PruneSpec.pattern must be a SparsityPattern.",
                    received=repr(self.pattern),
                    fix="Use Unstructured(), Block(rows, cols) or NofM(n, m).",
                )
            )
        if not isinstance(self.schedule, PruningSchedule):
            raise KerasMotError(
                format_error(
                    "PruneSpec.schedule must be a pruning schedule.",
                    received=repr(self.schedule),
                    fix="Use PolynomialDecay(...) or ConstantSparsity(...).",
                )
            )

    def get_config(self):
        """The pattern and the schedule, each encoded by `keras_mot.codec`."""
        return {"pattern": codec.encode(self.pattern), "schedule": codec.encode(self.schedule)}

    @classmethod
    def from_config(cls, config):
        """Rebuilds the spec from `get_config()` (older Keras-registry forms are read too)."""
        return cls(
            codec.decode(config["pattern"], expect=SparsityPattern),
            codec.decode(config["schedule"], expect=PruningSchedule),
        )


@dataclasses.dataclass(frozen=True)
class SparsityRule:
    """A target's sparsity entry for one layer kind, with the shapes it applies to.

    Attributes:
        pattern: the pattern to use when the rule applies.
        spatial: required spatial kernel size (e.g. `(1, 1)` for XNNPack's sparse 1x1 convs);
            None = any.
        source: file the fact comes from.
        note: why (shown in reports).
    """

    pattern: SparsityPattern
    spatial: Optional[Tuple[int, ...]] = None
    source: str = ""
    note: str = ""

    def applies(self, weight_shape):
        """True when a weight of `weight_shape` is pruned by this rule."""
        if self.spatial is None:
            return True
        return tuple(int(s) for s in weight_shape[: len(self.spatial)]) == tuple(self.spatial)
