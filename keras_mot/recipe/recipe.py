"""`Recipe` and `Rule`: a versioned plan of what to do to which layer.

A recipe names a target and an ordered list of rules; for each layer the first rule whose
selector matches decides (first match wins). A rule says `quantize` (a scheme name, or `None` to
keep the layer float) and `prune` (a `SparsityPattern`, `"target"` for the target's choice, or
`None`). Pruning uses the recipe's `schedule`.

YAML form (loaded with `yaml.safe_load`; patterns and schedules only from keras_mot's allowlist):

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

from keras_mot import targets
from keras_mot.errors import KerasMotError, format_error
from keras_mot.recipe import selectors
from keras_mot.sparsity import patterns as _patterns
from keras_mot.sparsity import schedules as _schedules

VERSION = 1
_UNSET = "__unset__"

# The only classes a recipe file may name (safe loading: no arbitrary objects).
PATTERN_TYPES = {"Unstructured": _patterns.Unstructured, "Block": _patterns.Block,
                 "NofM": _patterns.NofM}
SCHEDULE_TYPES = {"PolynomialDecay": _schedules.PolynomialDecay,
                  "ConstantSparsity": _schedules.ConstantSparsity}


def _from_typed_dict(data, allowed, what):
    if not isinstance(data, dict) or "type" not in data:
        raise KerasMotError(format_error(f"A {what} must be a mapping with a 'type' key.",
                                         received=repr(data),
                                         fix=f"Use one of the types: {', '.join(allowed)}."))
    args = dict(data)
    kind = args.pop("type")
    if kind not in allowed:
        raise KerasMotError(format_error(f"Unknown {what} type.", received=repr(kind),
                                         fix=f"Use one of: {', '.join(allowed)}."))
    return allowed[kind](**args)


def _to_typed_dict(obj):
    return {"type": type(obj).__name__, **obj.get_config()}


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule: `select` -> `quantize` scheme (or None) and `prune` pattern (or None).

    Args:
        select: selector (see `keras_mot.recipe.selectors`).
        quantize: scheme name, `None` (keep float), or `"target"` (the target's scheme).
        prune: a `SparsityPattern`, `"target"` (the target's pattern for the layer kind), or
            `None`.
    """

    select: str
    quantize: Optional[str] = "target"
    prune: object = None

    def __post_init__(self):
        selectors.validate(self.select)

    def to_dict(self):
        """YAML-ready mapping."""
        prune = self.prune
        if prune is not None and not isinstance(prune, str):
            prune = _to_typed_dict(prune)
        return {"select": self.select, "quantize": self.quantize, "prune": prune}

    @classmethod
    def from_dict(cls, data):
        """Inverse of `to_dict` (validating keys)."""
        allowed = {"select", "quantize", "prune"}
        unknown = set(data) - allowed
        if unknown or "select" not in data:
            raise KerasMotError(format_error(
                "Invalid recipe rule.", received=repr(data),
                fix=f"A rule has 'select' and optionally 'quantize', 'prune' (unknown keys: "
                    f"{sorted(unknown)})."))
        prune = data.get("prune")
        if isinstance(prune, dict):
            prune = _from_typed_dict(prune, PATTERN_TYPES, "sparsity pattern")
        return cls(select=data["select"], quantize=data.get("quantize", "target"), prune=prune)


def _check_scheme(rule):
    """A rule's scheme must exist when the recipe is built, not after a float training phase."""
    from keras_mot.quantization.scheme import get_scheme

    if rule.quantize in (None, "target"):
        return
    try:
        get_scheme(rule.quantize)
    except KerasMotError as error:
        raise KerasMotError(f"Recipe rule {rule.select!r}: {error}") from None


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
            raise KerasMotError(format_error("Unsupported recipe version.",
                                             received=repr(self.version),
                                             fix=f"This keras_mot reads version {VERSION}."))
        object.__setattr__(self, "rules", tuple(self.rules))
        for rule in self.rules:
            _check_scheme(rule)

    def rule_for(self, layer, path):
        """The first rule selecting `layer` at `path`, or `None`."""
        for rule in self.rules:
            if selectors.matches(rule.select, layer, path):
                return rule
        return None

    def to_dict(self):
        """YAML-ready mapping."""
        return {"version": self.version, "target": self.target,
                "schedule": _to_typed_dict(self.schedule) if self.schedule is not None else None,
                "rules": [r.to_dict() for r in self.rules]}

    def to_yaml(self, path=None):
        """YAML text of the recipe (also written to `path` when given)."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    @classmethod
    def from_dict(cls, data):
        """Builds a recipe from a mapping (unknown keys are an error)."""
        allowed = {"version", "target", "schedule", "rules"}
        if not isinstance(data, dict) or set(data) - allowed:
            raise KerasMotError(format_error(
                "Invalid recipe.", received=repr(sorted(set(data) - allowed)) if isinstance(
                    data, dict) else repr(data),
                fix=f"A recipe has the keys: {', '.join(sorted(allowed))}."))
        schedule = data.get("schedule")
        if schedule is not None:
            schedule = _from_typed_dict(schedule, SCHEDULE_TYPES, "pruning schedule")
        rules = tuple(Rule.from_dict(r) for r in data.get("rules") or [{"select": "_default"}])
        return cls(target=data.get("target", "tflite_int8"), rules=rules, schedule=schedule,
                   version=data.get("version", VERSION))

    @classmethod
    def from_yaml(cls, path_or_text):
        """Loads a recipe from a YAML file path or YAML text (safe loading)."""
        text = path_or_text
        if "\n" not in str(path_or_text) and str(path_or_text).endswith((".yaml", ".yml")):
            with open(path_or_text) as f:
                text = f.read()
        return cls.from_dict(yaml.safe_load(text))
