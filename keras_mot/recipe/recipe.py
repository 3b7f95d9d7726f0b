"""`Recipe` and `Rule`: a versioned plan of what to do to which layer.

A recipe names a target and an ordered list of rules; for each layer the first rule whose
selector matches decides (first match wins). A rule says `quantize` (a scheme name, or `None` to
keep the layer float) and `prune` (a `SparsityPattern`, `"target"` for the target's choice, or
`None`). Pruning uses the recipe's `schedule`.

YAML form (`Recipe.to_yaml`; the `keras_mot.codec` encoding, loaded with `yaml.safe_load`;
patterns and schedules only from the codec's registered types):

    type: Recipe
    version: 1
    config:
      target: tflite_int8
      schedule: {type: PolynomialDecay, version: 1, config: {initial_sparsity: 0.0,
                 final_sparsity: 0.8, begin_step: 0, end_step: 2000, power: 3, frequency: 100}}
      rules:
      - {type: Rule, version: 1, config: {select: "class:Dense", quantize: int8,
         prune: {type: Block, version: 1, config: {rows: 4, cols: 1, pooling: avg}}}}
      - {type: Rule, version: 1, config: {select: _default, quantize: target, prune: null}}

A hand-written file may use the short form (also what older keras_mot wrote):

    version: 1
    target: tflite_int8
    schedule: {type: PolynomialDecay, initial_sparsity: 0.0, final_sparsity: 0.8,
               begin_step: 0, end_step: 2000}
    rules:
      - {select: "class:Dense", quantize: int8, prune: {type: Block, rows: 4, cols: 1}}
      - {select: "re:.*logits", quantize: null}
      - {select: _default, quantize: int8}
"""

import dataclasses
from typing import Optional, Tuple

import yaml

from keras_mot import codec, compression, targets
from keras_mot.errors import KerasMotError, format_error
from keras_mot.recipe import selectors
from keras_mot.sparsity.patterns import SparsityPattern
from keras_mot.sparsity.schedules import PruningSchedule

VERSION = 1  # the config version of `Recipe` in `keras_mot.codec`


def _require_keys(data, allowed, required, what, example):
    """Unknown (or missing required) keys of a recipe part are an error naming the valid ones."""
    if not isinstance(data, dict):
        raise KerasMotError(
            format_error(
                f"Invalid {what}.", received=repr(data), fix=f"A {what} is a mapping, e.g. {example}."
            )
        )
    unknown = sorted(set(data) - set(allowed))
    missing = [k for k in required if k not in data]
    if unknown or missing:
        raise KerasMotError(
            format_error(
                f"Invalid {what}: unknown keys {unknown}, missing keys {missing}.",
                received=repr(data),
                fix=f"A {what} has the keys: {', '.join(allowed)}; e.g. {example}.",
            )
        )


@codec.register()
@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule: `select` -> `quantize` scheme (or None) and `prune` pattern (or None).

    Args:
        select: selector (see `keras_mot.recipe.selectors`).
        quantize: scheme name, `None` (keep float), or `"target"` (the target's scheme).
        prune: a `SparsityPattern`, `"target"` (the target's pattern for the layer kind), or
            `None`.
        compress: a `keras_mot.compression.WeightCompression` (e.g. `Cluster(16)`) or `None`.
        cluster: the same as `compress` (reads well for `Cluster`).

    Example:
        >>> Rule("class:Conv2D", cluster=Cluster(16), prune=Unstructured(), quantize="int8")
    """

    select: str
    quantize: Optional[str] = "target"
    prune: object = None
    compress: object = None
    cluster: dataclasses.InitVar[object] = None

    def __post_init__(self, cluster=None):
        selectors.validate(self.select)
        if cluster is not None:
            object.__setattr__(self, "compress", cluster)
        object.__setattr__(self, "compress", compression.get(self.compress))

    def get_config(self):
        """Plain data (see `keras_mot.codec`); the pattern is encoded."""
        config = {"select": self.select, "quantize": self.quantize, "prune": codec.encode_field(self.prune)}
        if self.compress is not None:  # absent when unused: files stay as before
            config["compress"] = codec.encode(self.compress)
        return config

    @classmethod
    def from_config(cls, config):
        """Inverse of `get_config` (validating keys; `prune` may use the codec's short form)."""
        _require_keys(
            config,
            ("select", "quantize", "prune", "compress"),
            ("select",),
            "recipe rule",
            "{select: 'class:Dense', quantize: int8}",
        )
        return cls(
            select=config["select"],
            quantize=config.get("quantize", "target"),
            prune=codec.decode_field(config.get("prune"), SparsityPattern),
            compress=compression.get(config.get("compress")),
        )


def _check_scheme(rule):
    """A rule's scheme must exist when the recipe is built, not after a float training phase."""
    from keras_mot.quantization.scheme import get_scheme

    if rule.quantize in (None, "target"):
        return
    try:
        get_scheme(rule.quantize)
    except KerasMotError as error:
        raise KerasMotError(f"Recipe rule {rule.select!r}: {error}") from None


@codec.register(version=VERSION)
@dataclasses.dataclass(frozen=True)
class Recipe:
    """A plan: a target, a pruning schedule and ordered rules (first match wins).

    Example:
        >>> Recipe("tflite_int8", rules=(Rule("re:.*logits", quantize=None), Rule("_default")))
    """

    target: str = "tflite_int8"
    rules: Tuple[Rule, ...] = (Rule("_default"),)
    schedule: object = None
    version: int = VERSION

    def __post_init__(self):
        targets.get(self.target)
        if self.version != VERSION:
            raise KerasMotError(
                format_error(
                    "Unsupported recipe version.",
                    received=repr(self.version),
                    fix=f"This keras_mot reads version {VERSION}.",
                )
            )
        object.__setattr__(self, "rules", tuple(self.rules))
        for rule in self.rules:
            _check_scheme(rule)

    def rule_for(self, layer, path):
        """The first rule selecting `layer` at `path`, or `None`."""
        for rule in self.rules:
            if selectors.matches(rule.select, layer, path):
                return rule
        return None

    def get_config(self):
        """Plain data (see `keras_mot.codec`); the schedule and the rules are encoded."""
        return {
            "target": self.target,
            "schedule": codec.encode_field(self.schedule),
            "rules": [codec.encode(r) for r in self.rules],
        }

    @classmethod
    def from_config(cls, config):
        """Inverse of `get_config` (unknown keys are an error; parts may use the short form)."""
        _require_keys(
            config,
            ("target", "schedule", "rules"),
            (),
            "recipe",
            "{target: tflite_int8, rules: [{select: _default}]}",
        )
        rules = tuple(codec.decode(r, expect=Rule) for r in config.get("rules") or [{"select": "_default"}])
        return cls(
            target=config.get("target", "tflite_int8"),
            rules=rules,
            schedule=codec.decode_field(config.get("schedule"), PruningSchedule),
        )

    def to_dict(self):
        """The recipe encoded by `keras_mot.codec` (what `to_yaml` writes)."""
        return codec.encode(self)

    def to_yaml(self, path=None):
        """YAML text of the recipe (also written to `path` when given)."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    @classmethod
    def from_dict(cls, data):
        """Builds a recipe from its `keras_mot.codec` encoding, or from the short form
        `{version, target, schedule, rules}` (unknown keys are an error)."""
        return codec.decode(data, expect=Recipe)

    @classmethod
    def from_yaml(cls, path_or_text):
        """Loads a recipe from a YAML file path or YAML text (safe loading)."""
        text = path_or_text
        if "\n" not in str(path_or_text) and str(path_or_text).endswith((".yaml", ".yml")):
            with open(path_or_text) as f:
                text = f.read()
        return cls.from_dict(yaml.safe_load(text))
