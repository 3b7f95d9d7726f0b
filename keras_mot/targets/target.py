"""The `Target` record: what one deployment runtime accepts and prefers.

A target is data, not behaviour. Lint, quantization-scheme defaults, the choice of sparsity
pattern per layer and export all read it. Knowledge about a runtime lives in the tables of the
module that defines the target (one module per runtime family), each entry citing its source.
"""

import dataclasses
from typing import Mapping, Optional, Tuple

from keras_mot.errors import KerasMotError, format_error
from keras_mot.sparsity.patterns import SparsityPattern
from keras_mot.sparsity.spec import SparsityRule


@dataclasses.dataclass(frozen=True)
class ConverterSettings:
    """How `tf.lite.TFLiteConverter` is configured to produce this target's model.

    Attributes:
        supported_ops: names of `tf.lite.OpsSet` members (e.g. `("TFLITE_BUILTINS",)`).
        optimizations: names of `tf.lite.Optimize` members (e.g. `("DEFAULT",)`).
        quantize: `None` (float), `"int8"` (full integer), `"int16x8"`, `"dynamic"`
            (dynamic-range weights) or `"float16"`.
        sparsity: whether `Optimize.EXPERIMENTAL_SPARSITY` is requested.
    """

    supported_ops: Tuple[str, ...] = ("TFLITE_BUILTINS",)
    optimizations: Tuple[str, ...] = ()
    quantize: Optional[str] = None
    sparsity: bool = False


@dataclasses.dataclass(frozen=True)
class Target:
    """A deployment runtime described as data.

    Attributes:
        name: registry key, e.g. `"tflite_int8"`.
        description: one line for humans.
        kind: `"float"`, `"int8"` or `"int16x8"`: the numeric regime of the shipped model,
            which decides the lint's verdict vocabulary.
        scheme: name of the default `QuantScheme` (`None` for float targets).
        post_training_scheme: the scheme the converter's own post-training quantization of a
            float model uses, when it differs from `scheme` (`None`: the same); `mot.debug` of a
            float model and selective post-training export simulate with it.
        converter: `ConverterSettings` used by export.
        op_table: name of the op-compatibility table the lint uses.
        sparsity: mapping of layer family -> sparsity pattern spec (read by `mot.prune`);
            empty when the target exploits no sparsity.
        min_sparsity: the fraction of zeros below which the runtime ignores sparsity.
        references: sources the facts of this target come from.
        lint_checks: names of extra pruning lint checks this runtime needs (keys of
            `keras_mot.lint.pruning_checks.TARGET_CHECKS`), e.g. `("xnnpack_nchw_cluster",)`.
        export_checks: names of whole-model checks of the converted .tflite this runtime needs
            (keys of `keras_mot.export.sparse_check.EXPORT_CHECKS`), run by the export's
            sparsity verification, e.g. `("xnnpack_nchw_cluster",)`.
        export_format: what `mot.export` writes: `"tflite"` (TFLite conversion) or
            `"tf_serving"` (a quantized SavedModel, `keras_mot.export.tf_serving`).

    Example:
        >>> t = Target("my_mcu", "Cortex-M with CMSIS-NN", kind="int8", scheme="int8")
        >>> t.is_integer, t.pattern_for("dense", (64, 10))
        (True, None)
    """

    name: str
    description: str
    kind: str = "float"
    scheme: Optional[str] = None
    post_training_scheme: Optional[str] = None
    converter: ConverterSettings = ConverterSettings()
    op_table: str = "tflite_builtins"
    sparsity: Mapping[str, object] = dataclasses.field(default_factory=dict)
    min_sparsity: float = 0.0
    references: Tuple[str, ...] = ()
    lint_checks: Tuple[str, ...] = ()
    export_checks: Tuple[str, ...] = ()

    def __post_init__(self):
        for kind, entry in self.sparsity.items():
            if not isinstance(entry, (SparsityPattern, SparsityRule)):
                raise KerasMotError(
                    format_error(
                        f"Target '{self.name}' has a malformed sparsity entry for kind '{kind}'.",
                        received=repr(entry),
                        fix="Use a SparsityPattern or a SparsityRule.",
                    )
                )

    def pattern_for(self, kind, weight_shape):
        """The pattern this target prescribes for a `kind` weight of `weight_shape` (None = not pruned).

        Args:
            kind: layer family (a `keras_mot.LayerKind`, e.g. `LayerKind.DENSE`, or its string).
            weight_shape: the Keras weight shape.

        Example:
            >>> targets.get("tflite_sparse_fc").pattern_for("dense", (512, 2048))
            Block(rows=4, cols=1, pooling='avg')
            >>> targets.get("xnnpack_sparse").pattern_for("conv", (3, 3, 16, 32)) is None
            True
        """
        entry = self.sparsity.get(kind)
        if isinstance(entry, SparsityRule):
            return entry.pattern if entry.applies(weight_shape) else None
        return entry

    export_format: str = "tflite"

    @property
    def is_integer(self):
        """True when the shipped model computes in integers."""
        return self.kind in ("int8", "int16x8")
