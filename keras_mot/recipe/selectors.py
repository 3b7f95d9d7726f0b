"""Layer selectors used by recipe rules.

Forms: an exact layer path (`"backbone/Conv1"`; a bare name also matches a layer of that name
at any depth), `"re:<regex>"` (full match against the path), `"class:<ClassName>"` (the layer's
class or a base class), and `"_default"` (every layer).
"""

import difflib
import re

from keras_mot.errors import KerasMotError, format_error


def matches(selector, layer, path):
    """True when `selector` selects `layer` found at `path`.

    Example:
        >>> matches("class:Conv2D", keras.layers.Conv2D(1, 1, name="c"), "c")
        True
    """
    if not isinstance(selector, str) or not selector:
        raise KerasMotError(
            format_error(
                "A rule selector must be a non-empty string.",
                received=repr(selector),
                fix="Use a layer path, 're:<regex>', 'class:<ClassName>' or '_default'.",
            )
        )
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
            raise KerasMotError(
                format_error(
                    "Invalid regular expression in selector.",
                    received=repr(selector),
                    fix=f"Fix the regex: {e}.",
                )
            )
    matches(selector, object(), "")


def closest(selector, layers, n=3):
    """The layer paths, names and `class:` selectors of `layers` closest to `selector`.

    Args:
        selector: a selector that matched nothing.
        layers: `(path, layer)` pairs, e.g. from `keras_mot.graph.iter_layers(model)`.
        n: at most this many suggestions.

    Example:
        >>> closest("logit", [("logits", keras.layers.Dense(2))])
        ['logits']
    """
    candidates = []
    for path, layer in layers:
        for name in (path, path.rsplit("/", 1)[-1], f"class:{type(layer).__name__}", f"re:{path}"):
            if name not in candidates:
                candidates.append(name)
    if selector.startswith("re:"):
        pool = [c for c in candidates if c.startswith("re:")]
    else:
        pool = [c for c in candidates if not c.startswith("re:")]
    return difflib.get_close_matches(selector, pool, n=n, cutoff=0.5)


def require_match(selector, layers, what):
    """Raises `KerasMotError` when `selector` selects none of `layers` (`"_default"` passes).

    Args:
        selector: the selector to check.
        layers: `(path, layer)` pairs of the model.
        what: what the selector is, for the message (e.g. `"exclude entry"`).

    Example:
        >>> require_match("class:Dense", list(graph.iter_layers(model)), "rule selector")
    """
    if selector == "_default" or any(matches(selector, layer, path) for path, layer in layers):
        return
    near = closest(selector, layers)
    if near:
        hint = f"Closest: {', '.join(repr(c) for c in near)}."
    else:
        names = [path for path, _ in layers]
        hint = f"Layers of the model: {', '.join(repr(p) for p in names[:12])}" + (
            f" (and {len(names) - 12} more)." if len(names) > 12 else "."
        )
    raise KerasMotError(
        format_error(
            f"The {what} {selector!r} matches no layer of the model, so it would do nothing.",
            received=repr(selector),
            fix=f"{hint} A selector is a layer path or name, 're:<regex>' (full match on the "
            "path), 'class:<ClassName>' or '_default'.",
        )
    )
