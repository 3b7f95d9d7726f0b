"""Typed dataclass <-> plain dict conversion with strict key and type checks.

The experiment schema (`keras_mot.garden.config`) is a tree of dataclasses. `from_dict` builds it from the
mapping that `yaml.safe_load` returns, rejecting unknown keys (the error lists the valid keys at that level,
with the dotted path) and values of the wrong type; `to_dict` turns it back into plain YAML-ready data;
`apply_overrides` edits the raw mapping with `"a.b.c=value"` strings before validation.

What this module checks itself: the Model Garden blocks (`runtime`, `task`, `trainer` and their
optimizer / learning-rate one-of blocks), which are plain typed dataclasses in Model Garden's own
YAML words rather than keras_mot objects: key names, value types, nesting and each block's
`validate`. keras_mot config objects inside a config (the `keras_mot.recipe` rules) are checked by
`keras_mot.codec`, the one decoder of recipe and `.keras` files: a field declared with
`metadata={"codec": SomeClass}` has each value decoded as a `SomeClass` (errors carry the dotted
key), and is kept as written so that a dumped config compares equal to the file it came from.
"""

import dataclasses
import re
import types
import typing

import yaml

from keras_mot import codec
from keras_mot.errors import KerasMotError, format_error


def _type_name(hint):
    if hint is type(None):
        return "null"
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _fail(path, what, received, fix):
    raise KerasMotError(format_error(f"Config key '{path}': {what}", received=received, fix=fix))


def _convert_scalar(value, hint, path):
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, hint)
    if not ok:
        _fail(
            path,
            f"expected {_type_name(hint)}.",
            f"{value!r} ({type(value).__name__})",
            f"Give a value of type {_type_name(hint)}.",
        )
    return value


def _convert(value, hint, path):
    """Checks `value` against the type `hint` and converts it (lists to tuples, dicts to dataclasses)."""
    origin = typing.get_origin(hint)
    if hint is typing.Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            _fail(path, "may not be null.", "null", "Give a value or remove the key to use the default.")
        candidates = [o for o in options if o is not type(None)]
        if len(candidates) == 1:
            return _convert(value, candidates[0], path)
        for option in candidates:
            try:
                return _convert(value, option, path)
            except KerasMotError:
                if isinstance(value, dict) and dataclasses.is_dataclass(option):
                    raise  # the mapping was meant for this block: report the key inside it
        _fail(
            path,
            f"expected one of {', '.join(_type_name(o) for o in options)}.",
            repr(value),
            "Give a value of one of these types.",
        )
    if value is None:
        _fail(path, "may not be null.", "null", "Give a value or remove the key to use the default.")
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path)
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            _fail(
                path, f"expected a list ({_type_name(hint)}).", repr(value), "Give a YAML list, e.g. [1, 2]."
            )
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                _fail(path, f"expected exactly {len(args)} items.", repr(value), f"Give {len(args)} items.")
            return tuple(_convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else typing.Any
        items = [_convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            _fail(path, "expected a mapping.", repr(value), "Give a YAML mapping (key: value).")
        return dict(value)
    return _convert_scalar(value, hint, path)


def field_names(cls):
    """Names of the keys a schema dataclass accepts, in declaration order.

    Example:
        >>> field_names(SomeConfig)
        ['a', 'b']
    """
    return [f.name for f in dataclasses.fields(cls)]


def from_dict(cls, data, path=""):
    """Builds the dataclass `cls` from a mapping, checking every key and value.

    Args:
        cls: a schema dataclass.
        data: a mapping (from `yaml.safe_load`) or `None` (all defaults).
        path: dotted path of `data` in the whole file, for error messages.

    Returns:
        An instance of `cls`.

    Raises:
        KerasMotError: unknown key (the message lists the valid keys) or a value of the wrong type.

    Example:
        >>> from_dict(TrainerConfig, {"train_steps": 5}).train_steps
        5
    """
    where = path or "<top level>"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _fail(where, "expected a mapping.", repr(data), "Give a YAML mapping (key: value).")
    hints = typing.get_type_hints(cls)
    valid = field_names(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else str(key)
        if key not in valid:
            raise KerasMotError(
                format_error(
                    f"Unknown config key '{dotted}'.",
                    received=repr(key),
                    fix=f"Valid keys under '{where}': {', '.join(valid)}.",
                )
            )
        kwargs[key] = _convert(value, hints[key], dotted)
        _check_with_codec(kwargs[key], fields[key].metadata.get("codec"), dotted)
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path)
    return obj


def _check_with_codec(value, expect, path):
    """Decodes `value` (or each item of a list) as an `expect` with `keras_mot.codec`."""
    if expect is None or value is None:
        return
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        where = f"{path}[{i}]" if isinstance(value, list) else path
        try:
            codec.decode(item, expect=expect)
        except KerasMotError as error:
            raise KerasMotError(f"Config key '{where}': {error}") from None


def to_dict(obj, compact=False):
    """Turns a schema dataclass back into plain data (dicts, lists, scalars) that YAML can write.

    Args:
        obj: a schema dataclass instance.
        compact: leave out values equal to their defaults.

    Example:
        >>> to_dict(from_dict(TrainerConfig, {"train_steps": 5}), compact=True)
        {'train_steps': 5}
    """
    out = {}
    default = type(obj)() if compact else None
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if compact and value == getattr(default, f.name):
            continue
        out[f.name] = _plain(value, compact)
    return out


def _plain(value, compact):
    if dataclasses.is_dataclass(value):
        return to_dict(value, compact)
    if isinstance(value, (list, tuple)):
        return [_plain(v, compact) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, compact) for k, v in value.items()}
    return value


def parse_override(text):
    """Splits `"a.b.c=value"` into `(["a", "b", "c"], value)`, the value parsed as YAML.

    Example:
        >>> parse_override("trainer.train_steps=5")
        (['trainer', 'train_steps'], 5)
    """
    if not isinstance(text, str) or "=" not in text:
        raise KerasMotError(
            format_error(
                "An override must look like 'dotted.key=value'.",
                received=repr(text),
                fix="Example: --set trainer.train_steps=5",
            )
        )
    key, _, raw = text.partition("=")
    keys = [k for k in key.strip().split(".")]
    if not all(keys):
        raise KerasMotError(
            format_error(
                "An override key has an empty part.",
                received=repr(text),
                fix="Use dotted keys like task.model.num_classes=10.",
            )
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise KerasMotError(
            format_error(
                f"Override value of '{key}' is not valid YAML.",
                received=repr(raw),
                fix=f"Quote or fix the value ({e}).",
            )
        ) from e
    return keys, value


def apply_overrides(data, overrides):
    """Applies `["a.b=1", ...]` to a raw (not yet validated) mapping, creating missing levels.

    Keys are checked later, when the result is validated, so a misspelt override fails with the list of
    valid keys like a misspelt file key does.

    Example:
        >>> apply_overrides({"trainer": {"train_steps": 100}}, ["trainer.train_steps=5"])
        {'trainer': {'train_steps': 5}}
    """
    data = dict(data or {})
    for text in overrides or ():
        keys, value = parse_override(text)
        node = data
        for i, k in enumerate(keys[:-1]):
            child = node.get(k)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise KerasMotError(
                    format_error(
                        f"Override '{text}' goes below '{'.'.join(keys[: i + 1])}', which is not a mapping.",
                        received=repr(child),
                        fix="Override that key itself, or fix the dotted path.",
                    )
                )
            else:
                child = dict(child)
            node[k] = child
            node = child
        node[keys[-1]] = value
    return data


class OneOf:
    """Mixin for Model Garden's one-of blocks: `type` names which sibling field is in use.

    Example:
        >>> backbone.type, backbone.get().model_id
        ('mobilenet', 'MobileNetV2')
    """

    def variants(self):
        """Names that `type` may take."""
        return [n for n in field_names(type(self)) if n != "type"]

    def get(self):
        """The config block of the active variant, or `None` when `type` is unset."""
        return getattr(self, self.type) if self.type else None

    def validate(self, path):
        """Checks that `type` names one of the variants."""
        if self.type is not None and self.type not in self.variants():
            _fail(
                f"{path}.type" if path else "type",
                "unknown type.",
                repr(self.type),
                f"Use one of: {', '.join(self.variants())}.",
            )
