"""`PreparedModel`: a Functional model that knows its deployment target and lints at compile.

`mot.quantize` / `mot.prune` / `mot.apply` return one. `compile()` runs `mot.lint` for the
target before any training step and shows a compact table of findings (`lint="table"`, the
default), stays quiet (`lint="off"`), or raises on errors (`lint="strict"`). The table goes
through the `"keras_mot.prepared"` logger, which prints to stdout by default
(`keras_mot.log`: set its level to WARNING to silence it). A plain model opts in
with `mot.lint_on_compile(model, target)`. Nothing global is patched, and `.keras` save/load
(with `safe_mode=True`) keeps the target.
"""

import keras
from keras.src.models.functional import Functional, functional_from_config

from keras_mot.errors import KerasMotError, format_error
from keras_mot.log import compile_logger
from keras_mot.quantization.linking import link_bias_ranges
from keras_mot.quantization.mode import simulating

LINT_MODES = ("table", "off", "strict")
LOW_COVERAGE = 0.9  # below this share of MACs, compile() suggests post-training export


def _simulated(name):
    """A `keras.Model` method `name` run inside `simulating()`."""

    def method(self, *args, **kwargs):
        with simulating():
            return getattr(Functional, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = (
        f"`keras.Model.{name}`, computing as the int8 kernels do "
        "(see `keras_mot.quantization.mode.simulating`)."
    )
    return method


@keras.saving.register_keras_serializable(package="keras_mot")
class PreparedModel(Functional):
    """A Functional model carrying `target` (name) and the findings of its preparation.

    Args:
        inputs, outputs, name: as for `keras.Model(inputs, outputs, name=...)`.
        target: deployment target name the model is prepared for.
    """

    def __init__(self, inputs, outputs, name=None, *, target=None, **kwargs):
        super().__init__(inputs, outputs, name=name, **kwargs)
        link_bias_ranges(self)
        self.mot_target = target
        self.mot_findings = []
        self.mot_lint_report = None
        self._mot_restoring = False

    def compile(self, *args, lint="table", **kwargs):
        """`keras.Model.compile` plus the op-compatibility lint for the target.

        Args:
            lint: `"table"` (show findings through the `"keras_mot.prepared"` logger, printed by
                default), `"off"`, or `"strict"` (raise on errors). On the JAX or PyTorch
                backend `"table"` logs that the lint was skipped (it would trace a
                TensorFlow-backend copy in a subprocess, tens of seconds per compile; call
                `mot.lint(model)` for it); `"strict"` runs it.
        """
        if lint not in LINT_MODES:
            raise KerasMotError(
                format_error(
                    "Unknown lint mode for compile().",
                    received=repr(lint),
                    fix=f"Use one of: {', '.join(LINT_MODES)}.",
                )
            )
        if self.mot_target and lint != "off" and not self._mot_restoring:
            from keras_mot import tf_bridge

            if lint == "table" and not tf_bridge.is_tensorflow_backend():
                compile_logger().info(
                    f"keras_mot lint [{self.mot_target}]: skipped at compile() on the "
                    f"'{tf_bridge.backend_name()}' backend; mot.lint(model) traces a "
                    "TensorFlow-backend copy (compile(lint='strict') runs it here)."
                )
            else:
                self.run_lint(strict=(lint == "strict"), verbose=True)
        return super().compile(*args, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' symbolic build, from one replica's batch under `MultiWorkerMirroredStrategy`."""
        from keras_mot.multi_worker import is_multi_worker, symbolic_build_batch

        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is None or data_batch is not None or not is_multi_worker(strategy):
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = symbolic_build_batch(strategy, next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def train_step(self, *args, **kwargs):
        """Keras' train step; under `MultiWorkerMirroredStrategy` its scalar logs get rank 1."""
        from keras_mot.multi_worker import reducible_logs

        return reducible_logs(self, super().train_step(*args, **kwargs))

    def test_step(self, *args, **kwargs):
        """Keras' test step; under `MultiWorkerMirroredStrategy` its scalar logs get rank 1."""
        from keras_mot.multi_worker import reducible_logs

        return reducible_logs(self, super().test_step(*args, **kwargs))

    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, refusing up front to train a pruned model without `UpdateMasks`."""
        from keras_mot.callbacks.pruning import require_update_masks

        require_update_masks(self, callbacks)
        return super().fit(*args, callbacks=callbacks, **kwargs)

    # Keras traces its test / predict functions inside these calls, so the kernel-exact rounding
    # (keras_mot.quantization.mode.simulating) is what they compile. Training keeps the fused
    # FakeQuant op: the exact rounding only moves near-ties, which do not matter for learning.
    evaluate = _simulated("evaluate")
    predict = _simulated("predict")
    test_on_batch = _simulated("test_on_batch")
    predict_on_batch = _simulated("predict_on_batch")

    def run_lint(self, strict=False, verbose=False):
        """Lints the model for its target; stores and returns the `LintReport`.

        With `verbose`, the preparation summary and the findings table are logged at INFO on
        the `"keras_mot.prepared"` logger (shown on stdout unless silenced, see `keras_mot.log`).
        """
        from keras_mot.lint import lint as run

        report = run(self, target=self.mot_target)
        self.mot_lint_report = report
        if verbose:
            log = compile_logger()
            summary = self.preparation_summary(report)
            if summary:
                log.info(summary)
            if report.findings or not report.ok:
                log.info(report.format_table(min_severity="warning"))
            else:
                log.info(report.summary())
        if strict and report.errors:
            raise KerasMotError(
                f"Lint for target '{self.mot_target}' found {len(report.errors)} error(s):\n"
                + report.format_table(min_severity="error")
            )
        return report

    def preparation_summary(self, report=None):
        """What preparation did, for `compile()` to show: the QAT coverage line, a hint when
        it is low, and the rewrite's warnings (layers left float and why).

        Example:
            >>> print(qmodel.preparation_summary())
        """
        report = report or self.mot_lint_report
        lines = []
        if report is not None and report.coverage_line:
            lines.append(report.coverage_line)
            if report.coverage is not None and report.coverage < LOW_COVERAGE:
                lines.append(
                    "Low coverage: exporting the float model post-training "
                    "(mot.export(float_model, ..., representative_data=...)) "
                    "quantizes more of it than this QAT model will."
                )
        for f in self.mot_findings:
            if f.severity in ("warning", "error"):
                lines.append(f"  {f.severity}: {f.layer}: {f.message}")
        return "\n".join(lines)

    def compile_from_config(self, config):
        """Restores the compiled state on `.keras` load, without linting again."""
        from keras.src.saving import serialization_lib

        config = serialization_lib.deserialize_keras_object(config)
        self._mot_restoring = True
        try:
            self.compile(**config)
        finally:
            self._mot_restoring = False
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config["target"] = self.mot_target
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        target = config.pop("target", None)
        model = functional_from_config(cls, config, custom_objects=custom_objects)
        model.mot_target = target
        return model


def prepared(model, target, findings=()):
    """Re-wraps a Functional model's graph (same layers) as a `PreparedModel` for `target`."""
    from keras_mot import graph

    fm = graph.functional_view(model)
    result = PreparedModel(
        fm._inputs_struct, fm._outputs_struct, name=model.name, target=getattr(target, "name", target)
    )
    result.mot_findings = list(findings)
    return result


def lint_on_compile(model, target):
    """Returns `model` as a `PreparedModel` (sharing its layers) that lints at `compile()`.

    Example:
        >>> model = mot.lint_on_compile(model, "tflite_int8")
        >>> model.compile(optimizer="adam", loss="mse")   # prints the lint table first
    """
    return prepared(model, target)
