"""`keras_mot.codec`: one versioned, allowlisted serialization for keras_mot's config objects.

Recipes, rules, sparsity patterns, pruning schedules, prune specs and quantization schemes are
turned into plain data (dicts, lists, strings, numbers, booleans, `None`) by `encode` and back by
`decode`. The same dict is written to a recipe YAML file (`Recipe.to_yaml`, read back with
`yaml.safe_load`) and into a `.keras` file (the configs of `Wrapper` and `Annotated`, loaded with
`keras.saving.load_model(..., safe_mode=True)`):

    {"type": "Block", "version": 1, "config": {"rows": 4, "cols": 1, "pooling": "avg"}}

Only registered types can be decoded (`register`): a file cannot name an arbitrary class.
`decode` also reads the forms written before this codec (see `decode`), so older files load.

Example:
    >>> data = encode(Block(4, 1))
    >>> data["type"], data["version"], decode(data, expect=SparsityPattern) == Block(4, 1)
    ('Block', 1, True)
"""

import dataclasses
import enum

from keras_mot.errors import KerasMotError, format_error

FORMAT_KEYS = ("type", "version", "config")
LEGACY_VERSION = 1  # a mapping without a version was written before versions existed


@dataclasses.dataclass(frozen=True)
class _Entry:
    name: str
    cls: type
    version: int
    upgrades: dict


_BY_NAME = {}
_BY_CLASS = {}


def register(name=None, *, version=1, upgrades=None):
    """Class decorator: allows `decode` to build the class from data named `name`.

    The class needs `get_config()` (plain data: dicts with string keys, lists, strings, numbers,
    booleans, `None`; nested config objects as `encode(...)` dicts) and a classmethod
    `from_config(config)`. When a class's config changes, raise `version` and give one function
    per older version that turns a config of that version into one of the next.

    Args:
        name: the `type` written to files (default: the class name). Names are global; a
            third-party type should use a prefixed name, e.g. `"mylib.Ladder"`.
        version: the version of the class's config that `get_config` writes.
        upgrades: `{old_version: function(config) -> config of old_version + 1}` for every
            version below `version`.

    Example:
        >>> @register(version=2, upgrades={1: lambda c: {**c, "pooling": "avg"}})
        ... class Ladder(SparsityPattern):
        ...     ...
    """

    def decorator(cls):
        key = name or cls.__name__
        if not (callable(getattr(cls, "get_config", None)) and callable(getattr(cls, "from_config", None))):
            raise TypeError(f"codec.register: {cls.__name__} needs get_config() and from_config().")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise TypeError(f"codec.register: version of {key} must be an integer >= 1, got {version!r}.")
        steps = dict(upgrades or {})
        missing = [v for v in range(1, version) if v not in steps]
        if missing:
            raise TypeError(
                f"codec.register: {key} version {version} needs upgrades from versions {missing}."
            )
        old = _BY_NAME.get(key)
        same_class = old is not None and (old.cls.__module__, old.cls.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )  # a module reloaded, a new version
        if old is not None and not same_class:
            raise TypeError(
                f"codec.register: the name {key!r} is taken by {old.cls.__module__}."
                f"{old.cls.__qualname__}; register {cls.__name__} under another name."
            )
        entry = _Entry(key, cls, version, steps)
        _BY_NAME[key] = entry
        _BY_CLASS[cls] = entry
        return cls

    return decorator


def registered(expect=None):
    """`{name: class}` of the registered types (only subclasses of `expect` when given).

    Example:
        >>> sorted(registered(PruningSchedule))
        ['ConstantSparsity', 'PolynomialDecay']
    """
    return {n: e.cls for n, e in sorted(_BY_NAME.items()) if expect is None or issubclass(e.cls, expect)}


def version_of(cls):
    """The config version that `encode` writes for the registered class `cls`."""
    return _entry_of(cls).version


def _entry_of(cls):
    entry = _BY_CLASS.get(cls)
    if entry is None:
        raise KerasMotError(
            format_error(
                f"{cls.__name__} is not a type keras_mot's codec can write.",
                received=repr(cls),
                fix="Register it with @keras_mot.codec.register() (it needs get_config/from_config).",
            )
        )
    return entry


def encode(obj):
    """`{"type", "version", "config"}` plain data of a registered config object.

    Raises:
        KerasMotError: `obj`'s class is not registered, or its config is not plain data.

    Example:
        >>> encode(NofM(2, 4))
        {'type': 'NofM', 'version': 1, 'config': {'n': 2, 'm': 4}}
    """
    entry = _entry_of(type(obj))
    config = obj.get_config()
    if not isinstance(config, dict):
        raise KerasMotError(
            format_error(f"{entry.name}.get_config() must return a dict.", received=repr(config))
        )
    _require_plain(config, entry.name)
    return {"type": entry.name, "version": entry.version, "config": config}


def encode_field(value):
    """`encode(value)` for a registered object; tuples become lists, enums their value; other
    values (strings such as `"target"`, numbers, `None`) are returned as they are.

    Example:
        >>> encode_field("target"), encode_field(("dense", "conv"))
        ('target', ['dense', 'conv'])
    """
    if type(value) in _BY_CLASS:
        return encode(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [encode_field(v) for v in value]
    return value


def _require_plain(value, where):
    if value is None or isinstance(value, (str, bool, int, float)) and not isinstance(value, enum.Enum):
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _require_plain(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise KerasMotError(format_error(f"Config key of {where} is not a string.", received=repr(k)))
            _require_plain(v, f"{where}.{k}")
        return
    raise KerasMotError(
        format_error(
            f"Config value {where} is not plain data (YAML and .keras files hold only dicts, lists, "
            "strings, numbers, booleans and null).",
            received=f"{value!r} ({type(value).__name__})",
            fix="Return encode_field(value) from get_config (lists, not tuples; encoded nested objects).",
        )
    )


def _split(data, expect):
    """(name, version, config) of any accepted form of encoded data."""
    if not isinstance(data, dict):
        raise KerasMotError(
            format_error(
                f"Expected an encoded {_what(expect)} (a mapping with a 'type').",
                received=repr(data),
                fix=f"Write e.g. {{type: {next(iter(registered(expect)), 'Name')}, config: {{...}}}}.",
            )
        )
    if "type" in data and "config" in data and set(data) <= set(FORMAT_KEYS):
        return data["type"], data.get("version", LEGACY_VERSION), data["config"]
    if "type" in data:  # short form: arguments beside the type (hand-written YAML, older recipes)
        rest = {k: v for k, v in data.items() if k not in ("type", "version")}
        return data["type"], data.get("version", LEGACY_VERSION), rest
    if "class_name" in data and "config" in data:  # Keras registry form (older .keras files)
        name = str(data.get("registered_name") or data["class_name"]).split(">")[-1]
        return name, LEGACY_VERSION, data["config"]
    if isinstance(expect, type) and _BY_CLASS.get(expect) is not None:  # typeless: older files
        rest = {k: v for k, v in data.items() if k != "version"}
        return _BY_CLASS[expect].name, data.get("version", LEGACY_VERSION), rest
    raise KerasMotError(
        format_error(
            f"An encoded {_what(expect)} needs a 'type' key.",
            received=repr(data),
            fix=f"Add type: one of {', '.join(registered(expect)) or '(none registered)'}.",
        )
    )


def _what(expect):
    if expect is None:
        return "keras_mot object"
    if isinstance(expect, tuple):
        return " or ".join(e.__name__ for e in expect)
    return expect.__name__


def decode(data, expect=None):
    """Builds the object that `data` encodes, allowing only registered types.

    Reads the current form `{"type", "version", "config"}` and the forms older keras_mot
    wrote: the short form `{"type": "Block", "rows": 4, "cols": 1}` (recipe YAML), the Keras
    registry form `{"class_name": "Block", "config": {...}}` (older `.keras` files) and, when
    `expect` is one registered class, a bare config mapping. A missing version means 1.

    Args:
        data: the encoded mapping.
        expect: a class (or tuple of classes) the result must be an instance of.

    Raises:
        KerasMotError: the type is not registered, is not an `expect`, the version is newer than
            this keras_mot reads or not a positive integer, or the config does not fit the class.

    Example:
        >>> decode({"type": "Block", "rows": 4, "cols": 1}, expect=SparsityPattern)
        Block(rows=4, cols=1, pooling='avg')
    """
    name, version, config = _split(data, expect)
    entry = _BY_NAME.get(name) if isinstance(name, str) else None
    allowed = registered(expect)
    if entry is None:
        raise KerasMotError(
            format_error(
                f"Unknown {_what(expect)} type (only registered types can be loaded).",
                received=repr(name),
                fix=f"Use one of: {', '.join(allowed) or '(none registered)'}; register your own with "
                "@keras_mot.codec.register().",
            )
        )
    if expect is not None and not issubclass(entry.cls, expect):
        raise KerasMotError(
            format_error(
                f"A {_what(expect)} is expected here; {name!r} is not one.",
                received=repr(data),
                fix=f"Use one of: {', '.join(allowed)}.",
            )
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise KerasMotError(
            format_error(
                f"Invalid version of a {name}.",
                received=repr(version),
                fix="A version is an integer >= 1 (leave it out for 1).",
            )
        )
    if version > entry.version:
        raise KerasMotError(
            format_error(
                f"This {name} was written by a newer keras_mot (config version {version}); this one "
                f"reads versions up to {entry.version}.",
                received=f"version: {version}",
                fix="Upgrade keras_mot to load it.",
            )
        )
    if not isinstance(config, dict):
        raise KerasMotError(format_error(f"The config of a {name} must be a mapping.", received=repr(config)))
    for v in range(version, entry.version):
        config = entry.upgrades[v](dict(config))
    try:
        return entry.cls.from_config(dict(config))
    except (TypeError, KeyError) as error:
        raise KerasMotError(
            format_error(
                f"The config does not fit {name}: {type(error).__name__} {error}.",
                received=repr(config),
                fix=f"Write the keys {name}.get_config() writes.",
            )
        ) from None


def decode_field(value, expect):
    """`decode(value, expect)` for a mapping; an instance of `expect` and other values (strings
    such as `"target"`, `None`) are returned as they are.

    Example:
        >>> decode_field("target", SparsityPattern)
        'target'
    """
    if isinstance(value, dict):
        return decode(value, expect)
    return value
