"""Exception types raised by keras_mot.

Every error names what went wrong, where (layer path or key), what was received and
how to fix it, so that a user can act on the message alone.
"""


class KerasMotError(ValueError):
    """Base class for keras_mot errors about user input."""


class UnsupportedLayerError(KerasMotError):
    """A layer cannot be handled in `strict=True` mode (no adapter is registered)."""


class ExportError(KerasMotError):
    """An export could not be completed; nothing was left on disk."""


def format_error(what, *, layer=None, received=None, fix=None):
    """Builds the standard error text: what, where, `Received: ...`, how to fix.

    Example:
        >>> format_error("Unknown target.", received="'tflite_in8'", fix="Use one of: tflite.")
        "Unknown target. Received: 'tflite_in8'. Use one of: tflite."
    """
    parts = []
    if layer is not None:
        parts.append(f"Layer '{layer}': {what}")
    else:
        parts.append(what)
    if received is not None:
        parts.append(f"Received: {received}.")
    if fix:
        parts.append(fix)
    return " ".join(parts)
