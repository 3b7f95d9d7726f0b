"""`QuantizationReport`: per-layer quantization error, worst layer first, with the reasons.

Example:
    >>> report = mot.debug(model, x_val, labels=y_val)
    >>> report.worst(3)
    ['dense_2', 'conv_1', 'dense_1']
    >>> print(report.to_markdown())
"""

import dataclasses
import json
import math
from typing import Optional

# Thresholds of the reasons a row gives (`LayerError.why`).
LOW_UTILISATION = 0.05  # central 99.8 % of the values span < 5 % of the grid
LOW_GRID_USE = 0.15  # fewer than 15 % of the 256 int8 codes occur
CLIPPED = 1e-3  # more than 0.1 % of the values fall outside the range
WEIGHT_ERROR = 0.1  # a kernel channel loses more than 10 % (relative RMS)


@dataclasses.dataclass
class LayerError:
    """Quantization error at one Keras layer's output (a quantized layer of the model).

    Attributes:
        path: layer path (nested models joined by `/`); `fused`: layers folded into it
            (BatchNormalization, activation).
        layer_class: class of the Keras layer.
        elements: number of output values compared.
        rmse, mean_error, max_abs_error: of (quantized - float) at the output, with the whole
            quantized model up to this layer (accumulated error).
        scale: the output's quantization scale; `rmse_over_scale`: `rmse / scale` (TFLite's
            QuantizationDebugger metric; about 0.29 is pure rounding of that tensor).
        snr_db: signal-to-noise ratio of the accumulated error (dB).
        own_rmse, own_snr_db, own_rmse_over_scale, own_max_abs_error: the error this layer adds
            on its own (its float inputs fed to the quantized layer); the rows are sorted by
            `own_snr_db`, lowest first.
        range_utilisation: share of the output range spanned by the central 99.8 % of the
            float values; `grid_used`: share of the int8 codes that occur; `clipped`: share of
            values outside the range.
        weight_error, weight_error_channel: the worst output channel's relative RMS weight
            quantization error, and that channel.
        why: the reasons, in words.
    """

    path: str
    layer_class: str
    fused: tuple = ()
    elements: int = 0
    rmse: float = 0.0
    mean_error: float = 0.0
    max_abs_error: float = 0.0
    snr_db: float = math.inf
    own_rmse: float = 0.0
    own_snr_db: float = math.inf
    own_max_abs_error: float = 0.0
    scale: Optional[float] = None
    range: Optional[tuple] = None
    rmse_over_scale: Optional[float] = None
    own_rmse_over_scale: Optional[float] = None
    range_utilisation: Optional[float] = None
    grid_used: Optional[float] = None
    clipped: Optional[float] = None
    weight_error: Optional[float] = None
    weight_error_channel: Optional[int] = None
    peak: float = 0.0
    why: tuple = ()

    def reasons(self):
        """The reasons this layer quantizes badly (also stored in `why`)."""
        out = []
        if (
            self.range_utilisation is not None
            and self.range_utilisation < LOW_UTILISATION
            or self.grid_used is not None
            and self.grid_used < LOW_GRID_USE
        ):
            used = (
                f"{100 * self.grid_used:.1f} % of the int8 codes"
                if self.grid_used is not None
                else "few codes"
            )
            util = (
                ""
                if self.range_utilisation is None
                else (f"; 99.8 % of the values span {100 * self.range_utilisation:.2f} % of the range")
            )
            out.append(
                f"range utilisation: the activations use {used}{util}: a few outliers "
                f"(|max| {self.peak:.4g}) stretch the range [{self.range[0]:.4g}, "
                f"{self.range[1]:.4g}] (keep the layer float, or clip its activations)"
            )
        if self.clipped is not None and self.clipped > CLIPPED:
            out.append(
                f"{100 * self.clipped:.2f} % of the values fall outside the calibrated "
                "range (calibrate on more representative data)"
            )
        if self.weight_error is not None and self.weight_error > WEIGHT_ERROR:
            out.append(
                f"weights: output channel {self.weight_error_channel} loses "
                f"{100 * self.weight_error:.1f} % (relative RMS) to quantization: channel "
                "ranges differ by orders of magnitude under one scale (use a per-channel "
                "scheme or keep the layer float)"
            )
        return tuple(out)

    def to_dict(self):
        """Plain-dict form (JSON-safe: infinities become `None`)."""
        d = dataclasses.asdict(self)
        return {k: _plain(v) for k, v in d.items()}


def _plain(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


class QuantizationReport:
    """Per-layer quantization error of a model for a target, worst layer first.

    Attributes:
        target: the target name; `mode`: `"post_training"` (a float model quantized with
            calibration on the data) or `"qat"` (a prepared model as it is).
        layers: `LayerError` rows sorted by the error each layer adds on its own.
        float_metric, quantized_metric: accuracy on `labels` (or `None` without labels).
        agreement: share of examples whose top-1 prediction is the same quantized and float.
        kept_float: layers left float in the quantized model.

    Example:
        >>> report = mot.debug(model, x_val, labels=y_val)
        >>> report.layers[0].why
    """

    def __init__(
        self,
        target,
        mode,
        layers,
        agreement,
        float_metric,
        quantized_metric,
        kept_float=(),
        context=None,
        examples=0,
    ):
        self.target, self.mode, self.examples = target, mode, examples
        self.layers = sorted(layers, key=lambda r: (r.own_snr_db, -(r.own_rmse_over_scale or 0)))
        self.agreement = agreement
        self.float_metric, self.quantized_metric = float_metric, quantized_metric
        self.kept_float = tuple(kept_float)
        self._context = context

    def worst(self, k=1):
        """The paths of the `k` layers that add the most error on their own.

        Example:
            >>> report.worst(1)
            ['spiky']
        """
        return [r.path for r in self.layers[:k]]

    def row(self, path):
        """The `LayerError` of `path`.

        Example:
            >>> report.row("dense_1").rmse_over_scale
        """
        for r in self.layers:
            if r.path == path:
                return r
        raise KeyError(
            f"no quantized layer '{path}' in the report; layers: {[r.path for r in self.layers][:10]}"
        )

    def suggest(self, max_accuracy_drop=0.005, labels=None, max_float_layers=8):
        """A `Recipe` keeping the fewest layers float so the quantized model meets the budget.

        See `keras_mot.debug.suggest.suggest` (greedy: the worst layer is kept float and the
        model re-quantized and re-measured until the budget holds).

        Example:
            >>> recipe = report.suggest(max_accuracy_drop=0.005, labels=y_val)
            >>> qmodel = mot.apply(model, recipe, calibration_data=x_val)
        """
        from keras_mot.debug.suggest import suggest

        return suggest(self, max_accuracy_drop, labels, max_float_layers)

    def to_dict(self):
        """Plain-dict form (as written by `to_json`)."""
        return {
            "target": self.target,
            "mode": self.mode,
            "examples": self.examples,
            "agreement": self.agreement,
            "float_metric": self.float_metric,
            "quantized_metric": self.quantized_metric,
            "kept_float": list(self.kept_float),
            "layers": [r.to_dict() for r in self.layers],
        }

    def to_json(self, path=None):
        """The report as JSON text (also written to `path` when given).

        Example:
            >>> report.to_json("debug.json")
        """
        text = json.dumps(self.to_dict(), indent=1)
        if path:
            with open(path, "w") as f:
                f.write(text)
        return text

    def to_markdown(self, top=None):
        """A markdown table, worst layer first, with the reasons below it.

        Example:
            >>> print(report.to_markdown(top=10))
        """
        rows = self.layers[:top] if top else self.layers
        head = [f"# Quantization report ({self.target}, {self.mode}, {self.examples} examples)", ""]
        if self.agreement is not None:
            head.append(f"Top-1 agreement quantized vs float: {100 * self.agreement:.2f} %")
        if self.float_metric is not None:
            head.append(
                f"Accuracy: float {100 * self.float_metric:.2f} %, quantized "
                f"{100 * self.quantized_metric:.2f} %"
            )
        if self.kept_float:
            head.append(f"Kept float: {', '.join(self.kept_float)}")
        lines = head + [
            "",
            "| layer | class | own SNR dB | SNR dB | RMSE/scale | max abs err | "
            "range used | codes used | worst channel w err |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r.path} | {r.layer_class} | {_f(r.own_snr_db, 1)} | "
                f"{_f(r.snr_db, 1)} | {_f(r.rmse_over_scale, 3)} | "
                f"{_f(r.max_abs_error, 4)} | {_pct(r.range_utilisation)} | "
                f"{_pct(r.grid_used)} | {_pct(r.weight_error)} |"
            )
        notes = [f"- **{r.path}**: " + "; ".join(r.why) for r in rows if r.why]
        return "\n".join(lines + ([""] + notes if notes else [])) + "\n"

    def __repr__(self):
        return f"QuantizationReport({self.target}, {len(self.layers)} layers, worst {self.worst(3)})"


def _f(v, digits):
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f} %"
