"""Selective post-training quantization: a float model exported with chosen layers kept float.

`mot.export(float_model, dir, target="tflite_int8", representative_data=..., recipe=... |
exclude=[...])` quantizes the float model with the recipe (excluded layers left float),
calibrates it on the data (running min/max, as the converter's own calibration does) as the
parity reference. The `.tflite` model is the converter's own post-training quantization of the
float model, calibrated on the same batches, with the kept layers' ops denylisted: they run float
between DEQUANTIZE and QUANTIZE even between two quantized layers
(`keras_mot.export.converter_private`), and the report lists them (`kept_float`) instead of
failing on their float ops.

Example:
    >>> result = mot.export(model, "out", "tflite_int8", representative_data=(x, y),
    ...                     exclude=["spiky"])
    >>> result.report["kept_float"]
    ['spiky']
"""

from keras_mot import graph
from keras_mot.errors import ExportError, format_error
from keras_mot.export.plan import has_wrappers
from keras_mot.wrapper import Wrapper

CALIBRATION_EXAMPLES = 512


def prepare(model, target, recipe=None, exclude=None, data=None):
    """`(prepared model, kept-float layer paths)` for a selective int8 export of `model`.

    Example:
        >>> qmodel, kept = prepare(model, target, exclude=["spiky"], data=(x, y))
    """
    from keras_mot import api
    from keras_mot.calibration import calibrate
    from keras_mot.export.data import collect
    from keras_mot.quantization.mode import float_weights
    from keras_mot.recipe import Recipe, Rule

    if target.converter.quantize != "int8":
        raise ExportError(
            format_error(
                "recipe= / exclude= choose the layers an int8 export keeps float.",
                received=f"target={target.name!r}",
                fix="Use target='tflite_int8'.",
            )
        )
    if has_wrappers(model):
        raise ExportError(
            format_error(
                f"Model '{model.name}' is already prepared; recipe= / exclude= apply to a float model.",
                received="a model with keras_mot wrappers",
                fix="Pass the float model, or export the prepared model without recipe= / exclude=.",
            )
        )
    if data is None:
        raise ExportError(
            format_error(
                "A selective post-training export calibrates on data, but none was given.",
                fix="Pass representative_data= (or calibration_data=).",
            )
        )
    from keras_mot.debug.measuring import post_training

    recipe = post_training(recipe or Recipe(target.name, rules=(Rule("_default"),)), target)
    examples = collect(data, model, CALIBRATION_EXAMPLES, what="calibration_data")
    batches = [
        graph.pack_inputs(model, [x[s : s + 32] for x in examples.inputs])
        for s in range(0, len(examples), 32)
    ]
    prepared = api.apply(model, recipe, exclude=exclude)
    with float_weights():  # post-training calibration runs the float model
        calibrate(prepared, iter(batches), bn_statistics="keep")
    return prepared, KeptLayers(kept_float(prepared), model, batches)


class KeptLayers(list):
    """The kept-float layer paths of a selective export, with the float model they came from:
    `convert` quantizes that float model with the converter, keeping their ops float.

    Example:
        >>> tflite_bytes = kept.convert(plan)
    """

    def __init__(self, paths, float_model, batches):
        super().__init__(paths)
        self.float_model, self.batches = float_model, batches

    def convert(self, plan):
        """`.tflite` bytes: `float_model` in int8 with the kept layers' ops float, calibrated on
        the batches the prepared model (the parity reference) was calibrated on, so both agree."""
        from keras_mot.export.convert import convert_keeping_float
        from keras_mot.export.inspect import op_list

        outputs = output_layers(self.float_model)

        def choose(calibrated):
            ops = intended(op_list(calibrated), list(self), outputs)
            return sorted({name for op in ops for name in op.get("output_names", ())})

        return convert_keeping_float(self.float_model, plan, self.batches, choose)


def kept_float(prepared):
    """Paths of the layers with weights (or wrapped ops) that the prepared model leaves float.

    Example:
        >>> kept_float(qmodel)
        ['spiky']
    """
    out = []
    for path, layer in graph.iter_layers(prepared):
        if isinstance(layer, Wrapper):
            if not layer.quantize:
                out.append(path)
        elif not graph.is_graph_model(layer) and layer.weights:
            out.append(path)
    return out


def output_layers(model):
    """Names of the layers whose outputs are `model`'s outputs.

    Example:
        >>> output_layers(model)
        {'logits'}
    """
    fm = graph.functional_view(model)
    return {
        t._keras_history.operation.name for t in fm.outputs if getattr(t, "_keras_history", None) is not None
    }


def intended(float_ops, kept, outputs=()):
    """The float compute ops (`inspect.float_compute_ops` rows) that belong to kept layers.

    An op belongs to a kept layer when one of its output tensor names has the layer's name as
    a path component (the traced graph may suffix it: `model_1/spiky_1/MatMul`), or when its
    output is a model output (named `Identity...`) and a kept layer writes a model output.

    Example:
        >>> intended(floats, ["spiky"])
    """
    import re

    names = [p.rsplit("/", 1)[-1] for p in kept]
    pattern = re.compile(r"(^|/)(" + "|".join(re.escape(n) for n in names) + r")(_\d+)?/")
    kept_output = any(n in outputs for n in names)

    def ours(op):
        tensors = op.get("output_names", ())
        return any(pattern.search(t) for t in tensors) or (kept_output and any("/" not in t for t in tensors))

    return [op for op in float_ops if ours(op)] if names else []


def debug_chart(prepared, examples, target, path, max_examples=256):
    """Writes the per-layer error chart of a selectively quantized model (the debugger's own
    and accumulated error per layer, measured on the export's examples) to `path`.

    Returns:
        `None` when written, else the note saying why not (matplotlib missing, no rows).

    Example:
        >>> note = debug_chart(prepared, examples, "tflite_int8", "out/debug.png")
    """
    from keras_mot.debug.measuring import measure
    from keras_mot.debug.views import plot_report

    n = min(len(examples), max_examples)
    batches = [
        graph.pack_inputs(prepared, [x[s : min(s + 32, n)] for x in examples.inputs]) for s in range(0, n, 32)
    ]
    return plot_report(measure(prepared, batches, None, target, "post_training"), path)


def not_kept_findings(float_ops, kept, outputs=()):
    """Warnings for the kept layers the converter quantized anyway (no float op of theirs).

    A layer left float between two quantized neighbours reads and writes int8 tensors; the
    converter then quantizes its constant weights itself and the layer runs in int8.

    Example:
        >>> not_kept_findings(floats, ["dw"])[0].code
        'kept-layer-quantized'
    """
    from keras_mot.findings import Finding

    return [
        Finding(
            path,
            None,
            "warning",
            f"Layer '{path}' was to stay float, but the converter quantized it (no float op of "
            "its is in the TFLite model): its neighbours' int8 tensors let the converter quantize it.",
            "Keep a neighbour float too (exclude the layer before or after it), or accept it in int8.",
            "kept-layer-quantized",
        )
        for path in kept
        if not intended(float_ops, [path], outputs)
    ]
