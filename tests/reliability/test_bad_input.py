"""Bad input is refused where it enters, with a message naming the value and the fix.

Each case asserts the error type, that the message names what was received and how to fix it,
and, for export, that nothing (not even a hidden partial directory) is left on disk. Tiny models
(8x8 inputs, a few Conv/Dense layers) keep the file fast.
"""

import os
import warnings

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.callbacks import wrappers
from keras_mot.errors import ExportError, KerasMotError
from keras_mot.export.convert import to_tflite
from keras_mot.finite import check_finite, first_nonfinite

L = keras.layers
BAD = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def _model():
    i = keras.Input((8, 8, 1), name="image")
    x = L.Conv2D(4, 3, activation="relu", name="conv")(i)
    x = L.Flatten(name="flat")(x)
    return keras.Model(i, L.Dense(3, name="logits")(x), name="tiny")


def _conv_only():
    i = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, name="conv")(i)
    return keras.Model(i, L.GlobalAveragePooling2D(name="gap")(x), name="convs")


def _x(n=40):
    return np.random.default_rng(0).uniform(0, 1, (n, 8, 8, 1)).astype("float32")


def _with(value, index, n=40):
    x = _x(n)
    x[index, 3, 4, 0] = value
    return x


def _nothing_left(parent):
    assert os.listdir(parent) == [], os.listdir(parent)  # no export, no .NAME.partial-*


# ------------------------------------------------------------------ non-finite data


@pytest.mark.parametrize("kind", sorted(BAD))
def test_non_finite_calibration_data_is_refused_naming_the_example(kind):
    with pytest.raises(KerasMotError) as info:
        mot.quantize(_model(), calibration_data=_with(BAD[kind], 5))
    msg = str(info.value)
    assert "calibration_data" in msg and "example 5" in msg
    assert f"Received: {kind} in example 5" in msg and "np.nan_to_num" in msg


@pytest.mark.parametrize("entry", ["quantize", "apply", "calibrate"])
def test_non_finite_calibration_counts_examples_across_batches(entry):
    x = _with(np.nan, 37)  # the second batch of 32
    if entry == "quantize":
        call = lambda: mot.quantize(_model(), calibration_data=x)  # noqa: E731
    elif entry == "apply":
        call = lambda: mot.apply(_model(), mot.Recipe("tflite_int8"), calibration_data=x)  # noqa
    else:
        q = mot.quantize(_model())
        call = lambda: mot.calibrate(q, x)  # noqa: E731
    with pytest.raises(KerasMotError, match=r"calibration_data contains .* at example 37"):
        call()


def test_check_finite_is_structure_agnostic_and_names_the_input():
    batch = {"image": _x(4), "mask": np.ones((4, 2), "float32"), "ids": np.arange(4)}
    check_finite(batch, "calibration_data")  # finite: passes
    batch["mask"][2, 1] = np.inf
    assert first_nonfinite(batch) == (2, ("mask",), np.inf)
    with pytest.raises(KerasMotError) as info:
        check_finite(batch, "calibration_data", start=64)
    assert "at example 66 (input mask)" in str(info.value)
    assert "Received: inf in example 66" in str(info.value)
    assert first_nonfinite([np.arange(3), np.zeros((3, 2))]) is None  # ints cannot be NaN


@pytest.mark.parametrize("arg", ["representative_data", "calibration_data"])
def test_non_finite_export_data_is_refused_and_nothing_is_written(tmp_path, arg):
    q = mot.quantize(_model(), calibration_data=_x())
    good, bad = _x(16), _with(np.nan, 9, n=16)
    kwargs = (
        {"representative_data": bad}
        if arg == "representative_data"
        else {"representative_data": good, "calibration_data": bad}
    )
    with pytest.raises(ExportError) as info:
        mot.export(q, tmp_path / "out", **kwargs)
    msg = str(info.value)
    assert f"{arg} contains a non-finite value" in msg and "example 9" in msg
    assert "Received: nan in example 9" in msg and "np.nan_to_num" in msg
    _nothing_left(tmp_path)


def test_non_finite_labels_are_refused(tmp_path):
    q = mot.quantize(_model(), calibration_data=_x())
    y = np.eye(3, dtype="float32")[np.arange(16) % 3]
    y[4, 0] = np.nan
    with pytest.raises(ExportError, match="representative_data labels contains .* example 4"):
        mot.export(q, tmp_path / "out", representative_data=(_x(16), y))
    _nothing_left(tmp_path)


def _break_range(q, layer="logits", point="output"):
    q.get_layer(layer).range_variables()[point][1].assign(np.nan)


def test_non_finite_range_is_never_handed_to_the_converter(tmp_path):
    q = mot.quantize(_model(), calibration_data=_x())
    _break_range(q)
    with pytest.raises(ExportError) as info:
        mot.export(q, tmp_path / "out", representative_data=_x(16))
    msg = str(info.value)
    assert msg.startswith("Layer 'logits': Its quantization range 'output' is not finite")
    assert "Received: output min=" in msg and "max=nan" in msg and "mot.calibrate" in msg
    _nothing_left(tmp_path)
    with pytest.raises(ExportError, match="Layer 'logits'.*before conversion"):
        to_tflite(q, "tflite_int8")


def test_non_finite_weights_are_caught_after_strip():
    q = mot.quantize(_model(), calibration_data=_x())
    kernel = q.get_layer("conv").layer.kernel
    kernel.assign(np.where(np.arange(kernel.shape[-1]) == 1, np.inf, kernel.numpy()))
    with pytest.raises(ExportError, match=r"Layer 'conv'.*range 'kernel'.*mot\.strip"):
        to_tflite(q, "tflite_int8")


# ------------------------------------------------------------------ StopOnNonFinite


def _compiled(q):
    q.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), lint="off")
    return q


class _BreakRangeAt(keras.callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self.at = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.at:
            _break_range(self.model, "conv")


def test_stop_on_non_finite_is_a_default_callback():
    from keras_mot.callbacks.choose import RANGE_CHECK_EVERY

    q = mot.quantize(_model())
    (stop,) = [c for c in mot.callbacks(q) if isinstance(c, mot.callbacks.StopOnNonFinite)]
    assert stop.check_ranges_every == RANGE_CHECK_EVERY == 32  # the loss: every step
    assert not any(
        isinstance(c, mot.callbacks.StopOnNonFinite) for c in mot.callbacks(q, stop_on_non_finite=False)
    )


def test_stop_on_non_finite_stops_at_a_bad_range_while_the_loss_is_finite():
    q = _compiled(mot.quantize(_model(), calibration_data=_x()))
    stop = mot.callbacks.StopOnNonFinite()  # every batch (mot.callbacks reads ranges every 32)
    y = np.arange(40) % 3
    with pytest.warns(RuntimeWarning, match="first layer with a non-finite range is 'conv'"):
        q.fit(_x(), y, batch_size=8, epochs=3, verbose=0, callbacks=[_BreakRangeAt(1), stop])
    assert stop.stopped_step == 2 and int(q.optimizer.iterations.numpy()) == 2
    assert "Training stopped at step 2 (batch 1)" in stop.message
    assert "Lower the learning rate" in stop.message


@pytest.mark.parametrize("every, where", [(1, "batch 4"), (3, "end of epoch"), (0, None)])
def test_stop_on_non_finite_reads_ranges_every_n_batches(every, where):
    """A range broken after the last batch's loss: found at once, at the epoch's end, or
    (loss only) not at all."""
    q = _compiled(mot.quantize(_model(), calibration_data=_x()))
    stop = mot.callbacks.StopOnNonFinite(check_ranges_every=every)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        q.fit(_x(), np.arange(40) % 3, batch_size=8, epochs=1, verbose=0, callbacks=[_BreakRangeAt(4), stop])
    if where is None:
        assert stop.message is None and stop.stopped_step is None
    else:
        assert stop.stopped_step == 5 and f"step 5 ({where})" in stop.message
        assert "the loss is still finite" in stop.message and "'conv'" in stop.message


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_stop_on_non_finite_rejects_a_bad_period(bad):
    with pytest.raises(KerasMotError, match=rf"check_ranges_every .* Received: {bad!r}"):
        mot.callbacks.StopOnNonFinite(check_ranges_every=bad)


def test_stop_on_non_finite_stops_at_a_nan_loss_and_can_raise():
    model = _model()  # no wrappers: only the loss is checked
    model.compile("sgd", "mse")
    x, y = _x(), np.zeros((40, 3), "float32")
    y[0, 1] = np.nan
    stop = mot.callbacks.StopOnNonFinite()
    with pytest.warns(RuntimeWarning, match="the loss is nan"):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[stop])
    assert stop.stopped_step == 1 and "Received: loss=nan" in stop.message
    assert int(model.optimizer.iterations.numpy()) == 1
    with pytest.raises(KerasMotError, match="Training stopped at step 2 .*the loss is nan"):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[mot.callbacks.StopOnNonFinite(raise_error=True)],
        )


def test_stop_on_non_finite_names_the_first_layer_when_the_data_is_nan():
    q = _compiled(mot.quantize(_model(), calibration_data=_x()))
    stop = mot.callbacks.StopOnNonFinite()
    first = wrappers(q)[0].name  # the input quantizer sees the NaN first
    with pytest.warns(RuntimeWarning, match=f"first layer with a non-finite range is '{first}'"):
        q.fit(
            _with(np.nan, 0),
            np.arange(40) % 3,
            batch_size=8,
            epochs=2,
            verbose=0,
            shuffle=False,
            callbacks=[stop],
        )
    assert stop.stopped_step == 1 and int(q.optimizer.iterations.numpy()) == 1


def test_stop_on_non_finite_leaves_finite_training_alone():
    q = _compiled(mot.quantize(_model(), calibration_data=_x()))
    stop = mot.callbacks.StopOnNonFinite()
    q.fit(_x(), np.arange(40) % 3, batch_size=8, epochs=1, verbose=0, callbacks=[stop])
    assert stop.message is None and int(q.optimizer.iterations.numpy()) == 5


# ------------------------------------------------------------------ selectors that match nothing


@pytest.mark.parametrize(
    "call, selector, closest",
    [
        (lambda m: mot.quantize(m, exclude=["logit"]), "logit", "logits"),
        (lambda m: mot.quantize(m, exclude="conv1"), "conv1", "conv"),
        (
            lambda m: mot.prune(m, "generic", schedule=mot.ConstantSparsity(0.5, 0), exclude=["class:Dens"]),
            "class:Dens",
            "class:Dense",
        ),
        (
            lambda m: mot.apply(
                m,
                mot.Recipe(
                    "tflite_int8", rules=(mot.Rule("clas:Dense", quantize=None), mot.Rule("_default"))
                ),
            ),
            "clas:Dense",
            "class:Dense",
        ),
        (
            lambda m: mot.apply(
                m,
                mot.Recipe("tflite_int8", rules=(mot.Rule("re:logit", quantize=None), mot.Rule("_default"))),
            ),
            "re:logit",
            "re:logits",
        ),
    ],
    ids=["exclude", "exclude-str", "prune-exclude-class", "rule-typo", "rule-regex"],
)
def test_selector_matching_nothing_is_an_error_naming_the_closest_layers(call, selector, closest):
    with pytest.raises(KerasMotError) as info:
        call(_model())
    msg = str(info.value)
    assert f"{selector!r} matches no layer of the model" in msg
    assert f"Received: {selector!r}" in msg and f"Closest: {closest!r}" in msg


def test_recipe_yaml_whose_rules_match_nothing_is_an_error(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\ntarget: tflite_int8\nrules:\n  - {select: 'class:LSTM', quantize: null}\n")
    with pytest.raises(KerasMotError) as info:
        mot.apply(_model(), str(path))
    msg = str(info.value)
    assert "recipe rule selector 'class:LSTM' matches no layer" in msg
    assert "Layers of the model:" in msg or "Closest:" in msg


def test_matching_selectors_and_default_still_work():
    q = mot.quantize(_model(), exclude="logits")  # one string is one selector
    assert not isinstance(q.get_layer("logits"), mot.Wrapper)
    assert isinstance(q.get_layer("conv"), mot.Wrapper)


def test_prune_for_a_target_without_sparsity_is_an_error():
    with pytest.raises(KerasMotError) as info:
        mot.prune(_model(), target="tflite_int8", schedule=mot.ConstantSparsity(0.5, 0))
    msg = str(info.value)
    assert "Target 'tflite_int8' has no sparsity pattern" in msg
    assert "Received: target='tflite_int8'" in msg and "tflite_sparse_fc" in msg
    assert "pattern=mot.Unstructured()" in msg


def test_prune_whose_target_prunes_none_of_the_layers_is_an_error():
    with pytest.raises(KerasMotError) as info:
        mot.prune(_conv_only(), target="tflite_sparse_fc", schedule=mot.ConstantSparsity(0.5, 0))
    msg = str(info.value)
    assert "pruned no layer of model 'convs'" in msg and "only these layer kinds: dense" in msg
    assert "Received: target='tflite_sparse_fc'" in msg and "'generic'" in msg
    pm = mot.prune(
        _conv_only(),
        target="tflite_sparse_fc",
        schedule=mot.ConstantSparsity(0.5, 0),
        pattern=mot.Unstructured(),
    )  # an explicit pattern prunes the conv
    assert [w.name for w in wrappers(pm) if w.prune is not None] == ["conv"]


# ------------------------------------------------------------------ unclear messages


@pytest.mark.parametrize(
    "call",
    [
        lambda m: mot.quantize(m),
        lambda m: mot.prune(m, "generic", schedule=mot.ConstantSparsity(0.5, 0)),
        lambda m: mot.apply(m, mot.Recipe("tflite_int8")),
    ],
    ids=["quantize", "prune", "apply"],
)
@pytest.mark.parametrize("bad", ["not a model", None, L.Dense(2)], ids=["str", "none", "layer"])
def test_not_a_model_is_a_clear_error(call, bad):
    with pytest.raises(KerasMotError) as info:
        call(bad)
    msg = str(info.value)
    assert "keras_mot prepares Keras models only" in msg
    assert f"Received: {type(bad).__name__}" in msg and "keras.Model(inputs, outputs)" in msg


@pytest.mark.parametrize("steps", [0, -1, 2.5, True])
def test_bad_calibration_steps_is_a_clear_error(steps):
    with pytest.raises(KerasMotError) as info:
        mot.quantize(_model(), calibration_data=_x(), calibration_steps=steps)
    msg = str(info.value)
    assert f"Received: calibration_steps={steps!r}" in msg and "calibration_steps=8" in msg
    q = mot.quantize(_model())
    with pytest.raises(KerasMotError, match=rf"Received: steps={steps!r}"):
        mot.calibrate(q, _x(), steps=steps)


@pytest.mark.parametrize("max_examples", [0, -5, 1.5])
def test_bad_max_examples_is_a_clear_error_and_writes_nothing(tmp_path, max_examples):
    q = mot.quantize(_model(), calibration_data=_x())
    with pytest.raises(ExportError) as info:
        mot.export(q, tmp_path / "out", representative_data=_x(16), max_examples=max_examples)
    msg = str(info.value)
    assert f"Received: max_examples={max_examples!r}" in msg and "max_examples=512" in msg
    _nothing_left(tmp_path)


@pytest.mark.parametrize("n_labels", [12, 20])
def test_labels_and_examples_of_different_lengths_is_a_clear_error(tmp_path, n_labels):
    q = mot.quantize(_model(), calibration_data=_x())
    with pytest.raises(ExportError) as info:
        mot.export(q, tmp_path / "out", representative_data=(_x(16), np.zeros(n_labels, int)))
    msg = str(info.value)
    assert f"Received: inputs with [16] examples and {n_labels} labels" in msg
    assert "one label per example" in msg
    _nothing_left(tmp_path)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--max-examples", "-5"], "Received: max_examples=-5"),
        (["--max-examples", "0"], "Received: max_examples=0"),
        ([], "Received: nan in example 3"),
    ],
    ids=["max-examples-negative", "max-examples-zero", "nan-data"],
)
def test_cli_export_refuses_bad_input_and_writes_nothing(tmp_path, capsys, args, expected):
    from keras_mot.cli import main

    models = tmp_path / "in"
    models.mkdir()
    q = mot.quantize(_model(), calibration_data=_x())
    q.save(models / "q.keras")
    np.save(models / "x.npy", _with(np.nan, 3, n=8) if not args else _x(8))
    out = tmp_path / "outs"
    out.mkdir()
    code = main(["export", str(models / "q.keras"), str(out / "e"), "--data", str(models / "x.npy"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("keras-mot export: ") and expected in err, err
    _nothing_left(out)


# ------------------------------------------------------------------ mixed precision


def test_mixed_float16_model_is_refused_for_qat_with_the_reason():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    with pytest.raises(KerasMotError) as info:
        mot.quantize(model, calibration_data=_x(8))
    msg = str(info.value)
    assert "'conv'" in msg and "mixed_float16" in msg and "set_global_policy('float32')" in msg
    pruned = mot.prune(model, schedule=mot.ConstantSparsity(0.5, begin_step=0))  # allowed
    assert any(getattr(w, "prune", None) is not None for w in wrappers(pruned))


def test_garden_config_with_float16_is_refused_before_training():
    from keras_mot.garden import load_config

    with pytest.raises(KerasMotError, match="runtime.mixed_precision_dtype.*float32"):
        load_config(
            "model_garden_configs/mobilenetv2_qat_cpu.yaml",
            overrides=["runtime.mixed_precision_dtype=float16"],
        )


# ------------------------------------------------------------------ prepared twice, input forms


@pytest.mark.parametrize("second", ["quantize", "prune", "apply"])
def test_preparing_a_prepared_model_again_is_refused(second):
    q = mot.quantize(_model(), calibration_data=_x(8))
    calls = {
        "quantize": lambda: mot.quantize(q),
        "prune": lambda: mot.prune(q, schedule=mot.ConstantSparsity(0.5, begin_step=0)),
        "apply": lambda: mot.apply(q, mot.Recipe("tflite_int8", rules=(mot.Rule("_default"),))),
    }
    with pytest.raises(KerasMotError) as info:
        calls[second]()
    msg = str(info.value)
    assert "already prepared by keras_mot" in msg and "conv" in msg
    assert "mot.strip(model, keep_quantization=False)" in msg and "one recipe" in msg


@pytest.mark.parametrize(
    "data, expected",
    [
        (np.full((8, 8, 8, 1), "a"), r"input 'image' holds <U1 values; the model's input is float32"),
        (
            np.zeros((8, 9, 9, 1), "float32"),
            r"input 'image' has examples of shape \(9, 9, 1\); "
            r"the model expects \(8, 8, 1\)",
        ),
        ([1, 2, 3], r"input 'image' has examples of shape \(\)"),
        ({"pixels": _x(8)}, r"keys \['pixels'\].*Give exactly these keys: \['image'\]"),
    ],
    ids=["strings", "wrong-shape", "list-of-ints", "dict-wrong-key"],
)
def test_calibration_data_of_the_wrong_form_names_the_input_and_the_shape(data, expected):
    with pytest.raises(KerasMotError, match=expected):
        mot.quantize(_model(), calibration_data=data)


def test_representative_data_of_the_wrong_dtype_is_refused_and_writes_nothing(tmp_path):
    q = mot.quantize(_model(), calibration_data=_x(8))
    with pytest.raises(ExportError, match=r"input 'image' holds <U1 values"):
        mot.export(q, tmp_path / "out", representative_data=np.full((8, 8, 8, 1), "a"))
    _nothing_left(tmp_path)


def test_unknown_scheme_in_a_recipe_rule_is_refused_when_the_recipe_is_built():
    with pytest.raises(KerasMotError, match=r"Recipe rule 'class:Dense'.*'int9'.*int8"):
        mot.Recipe("tflite_int8", rules=(mot.Rule("class:Dense", quantize="int9"),))


# ------------------------------------------------------------------ what is not a model


class _Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(2)

    def call(self, x):
        return self.dense(x)


@pytest.mark.parametrize(
    "model, expected",
    [
        ("subclassed", "Wrap it in a Functional model first"),
        ("string", "mot.export exports Keras models"),
    ],
    ids=["subclassed", "string"],
)
def test_export_of_what_it_cannot_convert_is_a_clear_error(tmp_path, model, expected):
    if model == "subclassed":
        model = _Subclassed()
        model(np.zeros((1, 4), "float32"))
    else:
        model = "model.keras"
    with pytest.raises(ExportError, match=expected):
        mot.export(model, tmp_path / "out", representative_data=np.zeros((4, 4), "float32"))
    _nothing_left(tmp_path)


def _bad_keras_files(tmp_path):
    good = tmp_path / "good.keras"
    _model().save(good)
    data = good.read_bytes()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.keras").write_bytes(b"PK\x03\x04 not a zip")
    import zipfile

    with zipfile.ZipFile(tmp_path / "other.keras", "w") as z:
        z.writestr("readme.txt", "hello")
    (tmp_path / "dir.keras").mkdir()
    (tmp_path / "model.pb").write_bytes(b"x")
    return tmp_path


@pytest.mark.parametrize(
    "name, expected",
    [
        ("truncated.keras", "not a zip archive .* corrupt or truncated"),
        ("garbage.keras", "not a zip archive .* corrupt or truncated"),
        ("other.keras", "not a Keras model: it has no config.json"),
        ("missing.keras", "No such file"),
        ("dir.keras", "It is a directory"),
        ("model.pb", "ends in .keras"),
    ],
)
def test_lint_of_a_bad_keras_file_says_what_is_wrong(tmp_path, capsys, name, expected):
    from keras_mot.cli import main

    folder = _bad_keras_files(tmp_path)
    with pytest.raises(KerasMotError, match=expected):
        mot.lint(str(folder / name), "tflite_int8")
    assert main(["lint", str(folder / name), "--target", "tflite_int8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-mot lint: Cannot load model") and "File not found" not in err


def test_lint_accepts_a_keras_file_path(tmp_path):
    _model().save(tmp_path / "m.keras")
    assert mot.lint(tmp_path / "m.keras", "tflite").verdict == "builtins"


# ------------------------------------------------------------------ garden: fail before training


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["keras_mot.target=tflite"], "float models"),
        (["task.quantization.change_num_bits=true", "task.quantization.num_bits_weight=4"], "4 bits"),
        (["keras_mot.recipe=[{select: 'class:Dens', quantize: int8}]"], "matches no layer"),
        (["keras_mot.recipe=[{select: _default, quantize: int9}]"], "'int9'"),
    ],
    ids=["float-target", "bits", "selector", "scheme"],
)
def test_garden_config_errors_surface_before_any_training_step(tmp_path, monkeypatch, overrides, expected):
    import keras_mot.garden.trainer as trainer

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the config was validated")

    monkeypatch.setattr(trainer, "_fit", no_training)
    with pytest.raises(KerasMotError, match=expected):
        trainer.train(
            "model_garden_configs/mobilenetv2_qat_cpu.yaml",
            out=tmp_path / "run",
            overrides=["keras_mot.float_train_steps=2", *overrides],
            verbose=0,
        )


def test_garden_diverging_training_stops_with_the_layer_and_no_checkpoint(tmp_path):
    from keras_mot.garden.trainer import train

    overrides = [
        "keras_mot.float_train_steps=3",
        "keras_mot.float_learning_rate=1e30",
        "task.train_data.global_batch_size=8",
        "runtime.run_eagerly=true",
        "trainer.steps_per_loop=1",
    ]
    with pytest.raises(
        KerasMotError,
        match=r"(?s)Training stopped at step \d+ .*the loss is (nan|inf).*"
        r"Lower the learning rate",
    ):
        train(
            "model_garden_configs/mobilenetv2_qat_cpu.yaml",
            out=tmp_path / "run",
            overrides=overrides,
            verbose=0,
        )
    assert not (tmp_path / "run" / "checkpoints" / "float.keras").exists()
