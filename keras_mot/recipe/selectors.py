"""Layer selectors used by recipe rules.

Forms: an exact layer path (`"backbone/Conv1"`; a bare name also matches a layer of that name
at any depth), `"re:<regex>"` (full match against the path), `"class:<ClassName>"` (the layer's
class or a base class), and `"_default"` (every layer).
"""

import re

from keras_mot.errors import KerasMotError, format_error


def matches(selector, layer, path):
    """True when `selector` selects `layer` found at `path`.

    Example:
        >>> matches("class:Conv2D", keras.layers.Conv2D(1, 1, name="c"), "c")
        True
    """
    if not isinstance(selector, str) or not selector:
        raise KerasMotError(format_error("A rule selector must be a non-empty string.",
                                          received=repr(selector),
                                          fix="Use a layer path, 're:<regex>', "
                                              "'class:<ClassName>' or '_default'."))
    if selector == "_default":
        return True
    if selector.startswith("re:"):
        return re.fullmatch(selector[3:], path) is not None
    if selector.startswith("class:"):
        wanted = selector[6:]
        return any(k.__name__ == wanted for k in type(layer).__mro__)
    return selector == path or selector == path.rsplit("/", 1)[-1]


def validate(selector):
    """Raises a clear error for a malformed selector (bad regex)."""
    if isinstance(selector, str) and selector.startswith("re:"):
        try:
            re.compile(selector[3:])
        except re.error as e:
            raise KerasMotError(format_error("Invalid regular expression in selector.",
                                             received=repr(selector), fix=f"Fix the regex: {e}."))
    matches(selector, object(), "")
