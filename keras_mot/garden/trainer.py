"""`keras-mot train`: a Model Garden experiment config -> trained, optimized, exported, measured.

Float training (`keras_mot.float_train_steps`, skipped when a `pretrained_original_checkpoint` is
given), then quantization-aware training and/or pruning per `task.quantization` / `task.pruning`
for `trainer.train_steps` (lint at compile, Keras progress bars, TensorBoard logs), then
`mot.export` of the target (plus a post-training int8 export when the target is not int8), and
a results table measured on the validation split. Everything goes under `out`:

    out/config.yaml  out/logs/{float,<mode>}/ (TensorBoard; `.csv` files when it is not
    installed)  out/checkpoints/{float,<mode>}.keras
    out/export/<target>/  out/results.json  out/results.md

Example:
    >>> result = train("model_garden_configs/mobilenetv2_qat_cpu.yaml", out="runs/mnv2")
    >>> print(result.table)
"""

import dataclasses
import json
import math
import os
import time

import keras
import numpy as np
import yaml

from keras_mot.callbacks.nonfinite import StopOnNonFinite
from keras_mot.errors import KerasMotError, format_error
from keras_mot.export.interpreter import runtime_name
from keras_mot.garden import results as _results
from keras_mot.garden.builders import build_model
from keras_mot.garden.config import ExperimentConfig, dump_config, load_config
from keras_mot.garden.data import build_dataset, resolve_source
from keras_mot.garden.distribution import build_strategy, fit_scope
from keras_mot.garden.run_state import PeriodicCheckpoint, RunState
from keras_mot.garden.training import build_loss, build_optimizer, one_hot_labels
from keras_mot.multi_worker import enable as enable_multi_worker
from keras_mot.multi_worker import is_multi_worker

DEFAULT_TARGETS = {
    "qat": "tflite_int8",
    "pruning": "generic",
    "qat+pruning": "tflite_int8",
    "float": "tflite",
}
# (weight bits, activation bits) -> keras_mot scheme (Model Garden's change_num_bits).
BIT_SCHEMES = {(8, 8): "int8", (8, 16): "int16x8"}


@dataclasses.dataclass
class TrainResult:
    """What `train` produced.

    Attributes:
        name, mode, target: config name, `"qat"` / `"pruning"` / ..., deployment target.
        out: output directory.
        float_accuracy, optimized_accuracy: Keras validation accuracy before / after QAT or
            pruning (`None` when not measured).
        exports: `{target: ExportResult}`.
        rows: results-table rows (dicts), also in `results.json`.
        table: the printed Markdown table.
        seconds: wall time per phase.
    """

    name: str
    mode: str
    target: str
    out: str
    float_accuracy: object
    optimized_accuracy: object
    exports: dict
    rows: list
    table: str
    seconds: dict

    @property
    def ok(self):
        """Every export passed its checks."""
        return all(r.ok for r in self.exports.values())


def _config_name(config, path):
    if config.keras_mot.name:
        return config.keras_mot.name
    return os.path.splitext(os.path.basename(path))[0] if path else "experiment"


def _labels_fn(config):
    if not one_hot_labels(config):
        return None
    n = config.task.model.num_classes
    return lambda x, y: (x, keras.ops.one_hot(y, n))


def _arrays(ds, limit=None):
    xs, ys, n = [], [], 0
    for x, y in ds:
        xs.append(np.asarray(x))
        ys.append(np.asarray(y))
        n += len(ys[-1])
        if limit is not None and n >= limit:
            break
    return np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]


def _log_callback(log_dir, config):
    """TensorBoard when the `tensorboard` package is installed, else a CSV log of the metrics."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        os.makedirs(os.path.dirname(log_dir), exist_ok=True)
        return keras.callbacks.CSVLogger(log_dir + ".csv")
    return keras.callbacks.TensorBoard(log_dir, update_freq=max(1, config.trainer.summary_interval))


def _fit(model, train_ds, steps, config, log_dir, callbacks, verbose, strategy):
    loop = config.trainer.steps_per_loop
    per_epoch = loop if 0 < loop <= steps and steps % loop == 0 else steps
    # Outside any tf.distribute scope (the compiled model keeps its strategy); inside the
    # distribution of a JAX data-parallel run, which shards each batch over the devices.
    with fit_scope(strategy):
        model.fit(
            train_ds,
            epochs=math.ceil(steps / per_epoch),
            steps_per_epoch=per_epoch,
            callbacks=list(callbacks) + [_log_callback(log_dir, config)],
            verbose=verbose,
            shuffle=False,
        )


def _compile(model, config, lint, learning_rate=None):
    kwargs = dict(
        optimizer=build_optimizer(config, learning_rate),
        loss=build_loss(config),
        metrics=["accuracy"],
        run_eagerly=config.runtime.run_eagerly or None,
        # `runtime.enable_xla` is TensorFlow's switch; JAX without jit runs every op eagerly.
        jit_compile=bool(config.runtime.enable_xla) or keras.backend.backend() == "jax",
    )
    if hasattr(model, "mot_target"):
        kwargs["lint"] = lint
    elif is_multi_worker(getattr(model, "_distribute_strategy", None)):
        enable_multi_worker(model)  # a plain Keras model's fit fails there on its own
    model.compile(**kwargs)


def _schedule(pruning):
    from keras_mot.sparsity import ConstantSparsity, PolynomialDecay

    if pruning.pruning_schedule == "ConstantSparsity":
        return ConstantSparsity(
            pruning.final_sparsity, pruning.begin_step, pruning.end_step, frequency=pruning.frequency
        )
    return PolynomialDecay(
        pruning.initial_sparsity,
        pruning.final_sparsity,
        pruning.begin_step,
        max(pruning.end_step, pruning.begin_step + 1),
        frequency=pruning.frequency,
    )


def _scheme(quantization):
    if quantization is None:
        return None
    bits = (
        (quantization.num_bits_weight, quantization.num_bits_activation)
        if quantization.change_num_bits
        else (8, 8)
    )
    if bits not in BIT_SCHEMES:
        raise KerasMotError(
            format_error(
                "task.quantization bit widths are not supported by keras_mot.",
                received=f"weights {bits[0]} bits, activations {bits[1]} bits",
                fix="Use 8/8 (int8) or 8/16 (int16x8).",
            )
        )
    return "target" if bits == (8, 8) else BIT_SCHEMES[bits]


def build_recipe(config, target):
    """The `mot.Recipe` a config asks for: `keras_mot.recipe` rules, else one `_default` rule.

    Example:
        >>> build_recipe(load_config("model_garden_configs/resnet50_pruning_cpu.yaml"), "generic")
        Recipe(target='generic', rules=(Rule(select='_default', quantize=None, prune='target'),), ...)
    """
    from keras_mot import codec, targets
    from keras_mot.recipe import Recipe, Rule
    from keras_mot.sparsity import NofM

    target = targets.get(target)
    pruning = config.task.pruning
    schedule = _schedule(pruning) if pruning is not None else None
    if config.keras_mot.recipe:
        return Recipe(
            target=target.name,
            schedule=schedule,
            rules=tuple(codec.decode(r, expect=Rule) for r in config.keras_mot.recipe),
        )
    scheme = _scheme(config.task.quantization)
    if scheme == "target" and target.scheme is None:
        raise KerasMotError(
            format_error(
                "task.quantization asks for QAT but the target runs float models.",
                received=f"keras_mot.target: {target.name}",
                fix="Set keras_mot.target to an integer target, e.g. tflite_int8.",
            )
        )
    prune = None
    if pruning is not None:
        prune = NofM(*pruning.sparsity_m_by_n) if pruning.sparsity_m_by_n else "target"
    return Recipe(
        target=target.name, schedule=schedule, rules=(Rule("_default", quantize=scheme, prune=prune),)
    )


def _load_checkpoint(model, config):
    blocks = [b for b in (config.task.quantization, config.task.pruning) if b is not None]
    path = (
        next((b.pretrained_original_checkpoint for b in blocks if b.pretrained_original_checkpoint), None)
        or config.task.init_checkpoint
    )
    if not path:
        return False
    if path.endswith(".keras"):
        model.set_weights(keras.saving.load_model(path, safe_mode=True).get_weights())
    else:
        model.load_weights(path)
    return True


def train(
    config,
    out=None,
    overrides=None,
    verbose=1,
    lint="table",
    export_targets=None,
    reference=True,
    checkpoints=True,
    max_examples=512,
    fresh=False,
):
    """Runs a whole experiment; returns a `TrainResult` (and prints its table when verbose).

    Args:
        config: path to a YAML config, or an `ExperimentConfig`.
        out: output directory (default `runs/<config name>`).
        overrides: `["dotted.key=value", ...]` applied to the file before validation.
        verbose: Keras verbosity (0 silent, 1 progress bars, 2 one line per epoch); the table is
            printed when > 0.
        lint: lint mode at compile (`"table"`, `"off"`, `"strict"`).
        export_targets: targets to export (default: the config's export target, plus
            `tflite_int8` post-training quantization when that is not an int8 target).
        reference: also convert the float model to a float `.tflite` for the table's
            reference row (size, latency, accuracy).
        checkpoints: save the float and optimized models as `.keras` under `out/checkpoints`,
            and every `trainer.checkpoint_interval` steps a resume checkpoint: re-running the
            same experiment on `out` continues where it stopped (`keras_mot.garden.run_state`).
        max_examples: validation examples used by the exports' parity check.
        fresh: discard a previous run in `out` instead of resuming it.

    Returns:
        `TrainResult`.
    """
    import keras_mot as mot
    from keras_mot import targets

    path = None
    if not isinstance(config, ExperimentConfig):
        path = os.fspath(config)
        config = load_config(path, overrides)
    name = _config_name(config, path)
    mode = config.mode
    target = targets.get(config.keras_mot.target or DEFAULT_TARGETS[mode])
    # The whole config is checked before any training step: recipe (schemes, bits, target)
    # and export targets now, the recipe's selectors against the model once it is built.
    recipe = None if mode == "float" else build_recipe(config, target)
    _export_targets(config, target)
    # Before any other TensorFlow op: MultiWorkerMirroredStrategy starts this worker's server.
    strategy = build_strategy(config.runtime.distribution_strategy, config.task.train_data.global_batch_size)
    out = os.path.abspath(out or os.path.join("runs", name))
    state = RunState.open(out, dump_config(config, compact=True), fresh=fresh)
    if state.phase != "float" and not checkpoints:
        raise KerasMotError(
            format_error(
                "This run stopped after its float phase but keeps no checkpoints to resume from.",
                received=repr(out),
                fix="Pass --fresh (fresh=True) to start over.",
            )
        )
    with open(os.path.join(out, "config.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(dump_config(config, compact=True), f, sort_keys=False)
    interval = config.trainer.checkpoint_interval if checkpoints else 0
    ckpt = os.path.join(out, "checkpoints")
    seconds, clock = {}, time.perf_counter()
    keras.utils.set_random_seed(config.keras_mot.seed)

    relabel = _labels_fn(config)
    train_ds = build_dataset(config, "train", repeat=True)
    val_ds = build_dataset(config, "validation")
    if relabel is not None:
        train_ds, val_ds_fit = train_ds.map(relabel), val_ds.map(relabel)
    else:
        val_ds_fit = val_ds
    x_val, y_val = _arrays(val_ds)
    x_cal, _ = _arrays(
        build_dataset(config, "train", shuffle=False), config.keras_mot.representative_examples
    )

    if state.phase == "float":
        with strategy.scope():
            model, done = state.load_resume("float"), state.step
            if model is None:
                model, done = build_model(config), 0
                if recipe is not None:
                    mot.check_recipe(model, recipe)
                restored = _load_checkpoint(model, config)
                float_steps = 0 if restored else config.keras_mot.float_train_steps
                _compile(model, config, lint, config.keras_mot.float_learning_rate)
            else:  # resumed: compiled, optimizer state restored
                float_steps = config.keras_mot.float_train_steps
        if float_steps > done:
            _fit(
                model,
                train_ds,
                float_steps - done,
                config,
                os.path.join(out, "logs", "float"),
                [StopOnNonFinite(raise_error=True), PeriodicCheckpoint(state, "float", interval, done)],
                verbose,
                strategy,
            )
        if checkpoints:
            model.save(os.path.join(ckpt, "float.keras"))
        float_acc = float(model.evaluate(val_ds_fit, verbose=0)[1])
        state.advance("optimize", float_acc=float_acc)
    else:
        with strategy.scope():
            model = keras.saving.load_model(os.path.join(ckpt, "float.keras"), safe_mode=True)
        float_acc = state.data["float_acc"]
    seconds["float"] = time.perf_counter() - clock

    clock = time.perf_counter()
    optimized, opt_acc = model, None
    saved = os.path.join(ckpt, mode.replace("+", "_") + ".keras")
    if mode != "float" and state.phase == "optimize":
        with strategy.scope():
            optimized, done = state.load_resume("optimize"), state.step
            if optimized is None:
                optimized, done = mot.apply(model, recipe, calibration_data=x_cal), 0
                _compile(optimized, config, lint)
        if config.trainer.train_steps > done:
            _fit(
                optimized,
                train_ds,
                config.trainer.train_steps - done,
                config,
                os.path.join(out, "logs", mode.replace("+", "_")),
                list(mot.callbacks(optimized, stop_on_non_finite=False))
                + [StopOnNonFinite(raise_error=True), PeriodicCheckpoint(state, "optimize", interval, done)],
                verbose,
                strategy,
            )
        if checkpoints:
            optimized.save(saved)
        opt_acc = float(optimized.evaluate(val_ds_fit, verbose=0)[1])
        state.advance("export", opt_acc=opt_acc)
    elif mode != "float":
        with strategy.scope():
            optimized = keras.saving.load_model(saved, safe_mode=True)
        opt_acc = state.data["opt_acc"]
    else:
        state.advance("export")
    seconds["optimize"] = time.perf_counter() - clock

    clock = time.perf_counter()
    export_to = export_targets or _export_targets(config, target)
    exports = {}
    for t in export_to:
        exports[t] = mot.export(
            optimized,
            os.path.join(out, "export", t),
            target=t,
            representative_data=(x_val, y_val),
            calibration_data=x_cal,
            formats=tuple(config.keras_mot.export_formats),
            max_examples=max_examples,
        )
    seconds["export"] = time.perf_counter() - clock

    rows = _results.rows(
        model, optimized, float_acc, opt_acc, mode, exports, x_val, y_val, reference=reference
    )
    data = {
        "name": name,
        "mode": mode,
        "target": target.name,
        "data": resolve_source(config),
        "validation_examples": int(len(y_val)),
        "rows": rows,
        "runtime": runtime_name(),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    table = _results.format_table(data)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    state.advance("done")
    if verbose:
        print(table)
    return TrainResult(
        name, mode, target.name, out, float_acc, opt_acc, exports, rows, table, data["seconds"]
    )


def _export_targets(config, target):
    from keras_mot import targets

    primary = targets.get(config.keras_mot.export_target or target.name)
    extra = [] if primary.kind == "int8" else ["tflite_int8"]
    return [primary.name] + extra
