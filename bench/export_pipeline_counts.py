"""How often one `mot.export` re-reads its own result: interpreters, flatbuffer parses, strips.

Run: python bench/export_pipeline_counts.py [--scenario NAME ...]

Trains two tiny digits models for a few steps, exports them through the real converter, and
counts real calls while each export runs (counters wrap the real functions; nothing is
replaced): every TFLite interpreter constructed (LiteRT or `tf.lite`), every parse of the
flatbuffer with TensorFlow's generated schema (a `ModelT` object tree, and separately a
`Model.GetRootAs` root read; outside and inside the converter, which parses its own output), every op-table read through an interpreter, every
call of `keras_mot.strip.strip` and every decision of the conversion mode. Each count is shown
with the keras_mot function that made the call.

Scenarios:
- `qat_int8`: a quantization-aware CNN to `tflite_int8`, default formats (SavedModel + .tflite).
- `qat_int8_io`: the same, `.tflite` only, int8 input and output.
- `sparse_ptq_int8`: a pruned MLP to `tflite_sparse_fc_int8` (calibrated; sparse checks run).
"""

import argparse
import collections
import functools
import importlib
import os
import sys
import tempfile
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras

import keras_mot as mot
from keras_mot.garden.digits import load_digits

SCENARIOS = ("qat_int8", "qat_int8_io", "sparse_ptq_int8")


class Counts:
    """Counters keyed by event, with the keras_mot caller of each call."""

    def __init__(self):
        self.events = collections.Counter()
        self.callers = collections.defaultdict(collections.Counter)
        self._depth = collections.Counter()
        self.in_converter = 0

    def wrap(self, event, fn, group=None):
        """`fn` counting its outermost calls (per `group`) as `event`."""
        group = group or event

        @functools.wraps(fn)
        def counted(*args, **kwargs):
            outer = self._depth[group] == 0
            if outer:
                name = event + (
                    " (inside the converter)" if self.in_converter and event.startswith("flatbuffer") else ""
                )
                self.events[name] += 1
                self.callers[name][_caller()] += 1
            self._depth[group] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth[group] -= 1

        return counted


def _caller():
    """The innermost keras_mot frame on the stack (module:function)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = frame.filename.replace(os.sep, "/")
        if "/keras_mot/" in path and "/bench/" not in path:
            module = path.rsplit("/keras_mot/", 1)[1][:-3].replace("/", ".")
            return f"{module}:{frame.name}"
    return "(outside keras_mot)"


def _patch_everywhere(original, replacement, patched):
    """Rebinds `original` in every loaded keras_mot module that imported it by name."""
    for name, module in list(sys.modules.items()):
        if not (name == "keras_mot" or name.startswith("keras_mot.")) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is original:
                patched.append((module, attr, value))
                setattr(module, attr, replacement)


def install(counts):
    """Wraps the real functions; returns an undo callable."""
    import ai_edge_litert.interpreter as litert
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema

    # import_module: `keras_mot.export` the attribute is the function `mot.export`.
    convert = importlib.import_module("keras_mot.export.convert")
    strip_mod = importlib.import_module("keras_mot.strip")

    for mod in (
        "keras_mot.export.api",
        "keras_mot.export.sparse_check",
        "keras_mot.export.xnnpack_check",
        "keras_mot.export.inspect",
        "keras_mot.export.verify",
        "keras_mot.export.plan",
        "keras_mot.export.tflite_model",
        "keras_mot.lint.tflite_check",
    ):
        try:
            importlib.import_module(mod)
        except ImportError:
            pass
    patched = []

    def on_class(cls, attr, event, group):
        original = cls.__dict__[attr]
        fn = original.__func__ if isinstance(original, classmethod) else original
        wrapped = counts.wrap(event, fn, group)
        patched.append((cls, attr, original))
        setattr(cls, attr, classmethod(wrapped) if isinstance(original, classmethod) else wrapped)

    on_class(litert.Interpreter, "__init__", "interpreter built (LiteRT)", "interpreter")
    tf_interpreter = tf.lite.Interpreter
    if tf_interpreter is not litert.Interpreter:
        on_class(tf_interpreter, "__init__", "interpreter built (tf.lite)", "interpreter")
    for cls in (litert.Interpreter, tf_interpreter):
        if "_get_ops_details" in cls.__dict__:
            on_class(cls, "_get_ops_details", "op table read through an interpreter", "ops")
    for attr in ("GetRootAs", "GetRootAsModel"):
        if attr in schema.Model.__dict__:
            on_class(schema.Model, attr, "flatbuffer root read (schema Model.GetRootAs)", "root")
    for attr in ("InitFromBuf", "InitFromPackedBuf", "InitFromObj"):
        if attr in schema.ModelT.__dict__:
            on_class(schema.ModelT, attr, "flatbuffer parse (schema ModelT object tree)", "parse")

    def converting(original):
        @functools.wraps(original)
        def wrapped(*args, **kwargs):
            counts.in_converter += 1
            try:
                return original(*args, **kwargs)
            finally:
                counts.in_converter -= 1

        return wrapped

    for name in ("to_tflite", "convert"):  # `convert` runs the converter since the export plan
        if hasattr(convert, name):
            _patch_everywhere(getattr(convert, name), converting(getattr(convert, name)), patched)
    _patch_everywhere(strip_mod.strip, counts.wrap("strip", strip_mod.strip), patched)
    if hasattr(convert, "is_quantized"):  # where the mode was decided before the export plan
        _patch_everywhere(
            convert.is_quantized,
            counts.wrap("conversion mode decided (is_quantized)", convert.is_quantized),
            patched,
        )
    plan = sys.modules.get("keras_mot.export.plan")
    if plan is not None and hasattr(plan, "export_plan"):
        _patch_everywhere(
            plan.export_plan, counts.wrap("conversion mode decided (export_plan)", plan.export_plan), patched
        )
    model_mod = sys.modules.get("keras_mot.export.tflite_model")
    if model_mod is not None and hasattr(model_mod, "TfliteModel"):
        on_class(model_mod.TfliteModel, "__init__", "TfliteModel parsed", "tflite_model")

    def undo():
        for owner, attr, value in reversed(patched):
            setattr(owner, attr, value)

    return undo


def _digits():
    x, y = load_digits("train", channels=1)
    xv, yv = load_digits("validation", channels=1)
    return x.astype("float32"), y, xv.astype("float32"), yv


def _compile(model):
    kwargs = {
        "optimizer": keras.optimizers.Adam(5e-3),
        "metrics": ["accuracy"],
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    }
    if isinstance(model, mot.PreparedModel):
        kwargs["lint"] = "off"
    model.compile(**kwargs)


def qat_cnn(x, y):
    """A small CNN, trained briefly, then quantization-aware trained for one epoch."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.DepthwiseConv2D(3, padding="same")(h)
    h = keras.layers.ReLU(6.0)(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(10)(h), name="small_cnn")
    _compile(model)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    qat = mot.quantize(model, "tflite_int8", calibration_data=x[:128])
    _compile(qat)
    qat.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=mot.callbacks(qat))
    return qat


def pruned_mlp(x, y):
    """A 64-64-10 MLP pruned to 75 % in 1x16 blocks for `tflite_sparse_fc_int8`."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(64, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10)(h), name="mlp")
    pruned = mot.prune(model, "tflite_sparse_fc_int8", schedule=mot.ConstantSparsity(0.75, 0, frequency=1))
    _compile(pruned)
    pruned.fit(x.reshape(-1, 64), y, epochs=1, batch_size=64, verbose=0, callbacks=mot.callbacks(pruned))
    return pruned


def run(scenario, models, data):
    """Counts for one export scenario."""
    _, _, xv, yv = data
    counts = Counts()
    directory = tempfile.mkdtemp(prefix="mot_counts_")
    if scenario == "sparse_ptq_int8":
        model = models["mlp"]
        kwargs = {"representative_data": (xv.reshape(-1, 64), yv), "formats": ("tflite",)}
    else:
        model = models["cnn"]
        kwargs = {"representative_data": (xv, yv), "target": "tflite_int8"}
        if scenario == "qat_int8_io":
            kwargs.update(formats=("tflite",), input_type="int8", output_type="int8")
    undo = install(counts)
    try:
        result = mot.export(model, os.path.join(directory, "out"), **kwargs)
    finally:
        undo()
    return counts, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    args = parser.parse_args()
    data = _digits()
    models = {"cnn": qat_cnn(data[0], data[1])}
    if "sparse_ptq_int8" in args.scenario:
        models["mlp"] = pruned_mlp(data[0], data[1])
    for scenario in args.scenario:
        counts, result = run(scenario, models, data)
        print(
            f"\n## {scenario}: target {result.target}, mode {result.report['mode']}, "
            f"ok {result.ok}, runtime {result.report.get('runtime')}\n"
        )
        print("| event | count | called from |")
        print("|---|---:|---|")
        for event in sorted(counts.events):
            where = ", ".join(f"{c} x{n}" for c, n in counts.callers[event].most_common())
            print(f"| {event} | {counts.events[event]} | {where} |")


if __name__ == "__main__":
    main()
