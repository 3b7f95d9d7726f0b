"""Registry of deployment targets, keyed by name."""

from keras_mot.errors import KerasMotError, format_error
from keras_mot.targets.target import Target

_TARGETS = {}


def register(target, *, overwrite=False):
    """Adds a `Target` to the registry and returns it.

    Example:
        >>> register(Target("my_mcu", "Cortex-M with CMSIS-NN", kind="int8", scheme="int8"))
    """
    if not isinstance(target, Target):
        raise KerasMotError(
            format_error(
                "targets.register() takes a keras_mot.targets.Target.",
                received=repr(target),
                fix="Build one with Target(name, description, ...).",
            )
        )
    if target.name in _TARGETS and not overwrite:
        raise KerasMotError(
            format_error(
                f"A target named '{target.name}' is already registered.",
                fix="Pick another name or pass overwrite=True.",
            )
        )
    _TARGETS[target.name] = target
    return target


def get(name):
    """Returns the registered `Target` called `name` (a `Target` is returned as is)."""
    if isinstance(name, Target):
        return name
    try:
        return _TARGETS[name]
    except (KeyError, TypeError):
        raise KerasMotError(
            format_error(
                "Unknown deployment target.",
                received=repr(name),
                fix=f"Use one of: {', '.join(sorted(_TARGETS))}, or register your own "
                "with keras_mot.targets.register().",
            )
        ) from None


def pattern_for(target, kind, weight_shape):
    """The pattern target `target` (a name or `Target`) prescribes for a `kind` weight.

    Example:
        >>> pattern_for("tflite_sparse_fc", "dense", (512, 2048))
        Block(rows=4, cols=1, pooling='avg')
    """
    return get(target).pattern_for(kind, weight_shape)


def names():
    """Sorted names of all registered targets."""
    return sorted(_TARGETS)
