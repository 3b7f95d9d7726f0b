"""The export plan: what one conversion does, derived once from the target and the model.

`export_plan(model, target, input_type, output_type)` decides the conversion mode, the
inference input/output types, the converter settings and whether the converter needs a
representative dataset; conversion, the parity check and the report all read the same
`ExportPlan`, so they cannot disagree.

Modes (the parity tolerances of `keras_mot.export.verify.TOLERANCES` are keyed by them):
`float`, `float16`, `dynamic` (dynamic-range weights), `qat_int8` (an int8 target and a model
that fake-quantizes: the converter reads its FakeQuant ranges), `ptq_int8` (an int8 target and a
float model: the converter calibrates) and `int16x8`.

Example:
    >>> plan = export_plan(qat_model, "tflite_int8", input_type="int8")
    >>> plan.mode, plan.calibrate, plan.supported_ops
    ('qat_int8', False, ('TFLITE_BUILTINS',))
"""

import dataclasses

from keras_mot import graph, targets
from keras_mot.errors import ExportError, format_error
from keras_mot.wrapper import Wrapper

IO_TYPES = ("float32", "int8", "uint8", "int16")
# converter quantize setting -> mode; int8 depends on whether the model fake-quantizes.
MODES = {None: "float", "float16": "float16", "dynamic": "dynamic", "int16x8": "int16x8"}
# The int16x8 path (keras_mot.export.int16x8) takes float32 or int16 at the model boundary.
INT16X8_IO = ("float32", "int16")


@dataclasses.dataclass(frozen=True)
class ExportPlan:
    """How one model is converted for one target.

    Attributes:
        target: the `Target`.
        mode: conversion mode (see module doc).
        input_type, output_type: dtype names of the `.tflite` inputs/outputs.
        supported_ops: names of `tf.lite.OpsSet` members the converter may use.
        optimizations: names of `tf.lite.Optimize` members.
        supported_types: `target_spec.supported_types` names (`("float16",)` for float16).
        calibrate: the converter needs a representative dataset (PTQ int8, int16x8).
        strip: the model holds keras_mot wrappers, so `mot.strip` runs (once) before conversion.
        keep_quantization: `strip` keeps the fake quantization (QAT int8).
        float_reference: parity compares with the stripped float model (a quantization-aware
            model exported to a target that does not keep its quantization).
    """

    target: object
    mode: str
    input_type: str
    output_type: str
    supported_ops: tuple[str, ...]
    optimizations: tuple[str, ...]
    supported_types: tuple[str, ...]
    calibrate: bool
    strip: bool
    keep_quantization: bool
    float_reference: bool

    def to_dict(self):
        """Plain-dict form for reports (the target by name)."""
        d = dataclasses.asdict(self)
        d["target"] = self.target.name
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _fail(what, received, fix):
    return ExportError(format_error(what, received=received, fix=fix))


def _check_io(target, input_type, output_type):
    for name, value in (("input_type", input_type), ("output_type", output_type)):
        if value not in IO_TYPES:
            raise _fail(f"Unknown {name}.", repr(value), f"Use one of: {', '.join(IO_TYPES)}.")
    io = f"input_type={input_type!r}, output_type={output_type!r}"
    if not target.is_integer and (input_type, output_type) != ("float32", "float32"):
        raise _fail(
            f"Target '{target.name}' is a float model: its inputs/outputs are float32.",
            io,
            "Use an integer target (e.g. 'tflite_int8') for integer I/O.",
        )
    if target.converter.quantize == "int16x8" and not (
        input_type in INT16X8_IO and output_type in INT16X8_IO
    ):
        raise _fail(
            f"Target '{target.name}' takes float32 or int16 inputs and outputs.",
            io,
            "Use input_type/output_type 'float32' or 'int16'.",
        )


def has_wrappers(model):
    """True when the model holds keras_mot `Wrapper` or `WeightOnlyWrapper` layers at any depth:
    `strip` removes both (weight-only weights are baked onto their grid, which TFLite's
    dynamic-range quantization then stores per channel).

    Example:
        >>> has_wrappers(mot.quantize(model))
        True
    """
    from keras_mot.weight_only_wrapper import WeightOnlyWrapper

    return any(isinstance(layer, (Wrapper, WeightOnlyWrapper)) for _, layer in graph.iter_layers(model))


def is_quantized(model):
    """True when some `Wrapper` of the model fake-quantizes (a quantization-aware model).

    Example:
        >>> is_quantized(mot.prune(model))
        False
    """
    return any(isinstance(layer, Wrapper) and layer.quantize for _, layer in graph.iter_layers(model))


def export_plan(model, target, input_type="float32", output_type="float32"):
    """The `ExportPlan` for converting `model` to `target`.

    Args:
        model: the Keras model (prepared by keras_mot or plain).
        target: target name or `Target`.
        input_type: `.tflite` input dtype (`"float32"`, `"int8"`, `"uint8"`, `"int16"`;
            integer types only for integer targets).
        output_type: `.tflite` output dtype (the same choices).

    Returns:
        `ExportPlan`.

    Raises:
        ExportError: an unknown I/O type, or one the target cannot take.

    Example:
        >>> export_plan(float_model, "tflite_int8").mode
        'ptq_int8'
    """
    target = targets.get(target)
    _check_io(target, input_type, output_type)
    settings = target.converter
    quantized = is_quantized(model)
    mode = MODES.get(settings.quantize) or ("qat_int8" if quantized else "ptq_int8")
    calibrate = mode in ("ptq_int8", "int16x8")
    optimizations = tuple(
        dict.fromkeys(settings.optimizations + (("EXPERIMENTAL_SPARSITY",) if settings.sparsity else ()))
    )
    # PTQ int8 is full-integer only; the QAT path keeps TFLITE_BUILTINS and its FakeQuant ops
    # decide (a representative dataset is mandatory with TFLITE_BUILTINS_INT8 in TF 2.21).
    supported_ops = ("TFLITE_BUILTINS_INT8",) if mode == "ptq_int8" else settings.supported_ops
    integer_io = settings.quantize in ("int8", "int16x8")
    return ExportPlan(
        target=target,
        mode=mode,
        input_type=input_type if integer_io else "float32",
        output_type=output_type if integer_io else "float32",
        supported_ops=tuple(supported_ops),
        optimizations=optimizations,
        supported_types=("float16",) if mode == "float16" else (),
        calibrate=calibrate,
        strip=has_wrappers(model),
        keep_quantization=mode == "qat_int8",
        float_reference=quantized and mode != "qat_int8",
    )
