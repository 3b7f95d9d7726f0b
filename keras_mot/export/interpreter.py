"""The one place keras_mot builds a TFLite interpreter.

keras_mot verifies and times exported models with the LiteRT interpreter
(`ai_edge_litert.interpreter.Interpreter`, a core dependency): it is the runtime users deploy,
and keras_mot's kernel-exact emulation follows its XNNPack kernels. TensorFlow's
`tf.lite.Interpreter` is only a fallback for an environment without `ai-edge-litert`; it is
deprecated, and it rounds some int8 ops (MEAN) differently from LiteRT
(docs/converter_facts.md §8). The fallback is announced once with a logged warning, and every
caller learns which runtime it got, so reports can say which one ran.

Example:
    >>> interpreter, runtime = make_interpreter(tflite_bytes, num_threads=1)
    >>> runtime
    'ai_edge_litert'
"""

import logging

LITERT = "ai_edge_litert"
TF_LITE = "tf.lite"
RUNTIME_LABELS = {
    LITERT: "LiteRT interpreter (ai_edge_litert)",
    TF_LITE: "tf.lite.Interpreter (fallback: ai-edge-litert is not installed)",
}

_logger = logging.getLogger(__name__)
_warned = []


def _litert_class():
    """LiteRT's `Interpreter` class, or `None` when `ai-edge-litert` cannot be imported."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


def runtime_name():
    """`"ai_edge_litert"`, or `"tf.lite"` when LiteRT is missing: what `make_interpreter` uses."""
    return LITERT if _litert_class() is not None else TF_LITE


def runtime_label(name=None):
    """A human-readable name for a runtime (default: the one `make_interpreter` uses)."""
    name = name or runtime_name()
    return RUNTIME_LABELS.get(name, name)


def _warn_fallback():
    if not _warned:
        _warned.append(True)
        _logger.warning(
            "keras_mot: ai-edge-litert is not installed, so TFLite models run in TensorFlow's "
            "deprecated tf.lite.Interpreter, whose int8 MEAN rounds differently from LiteRT "
            "(agreement with the Keras model may drop slightly). Fix: pip install ai-edge-litert."
        )


def make_interpreter(model_content, num_threads=None, **kwargs):
    """Builds an interpreter for a `.tflite` flatbuffer (not yet allocated).

    Args:
        model_content: the flatbuffer bytes.
        num_threads: interpreter threads (`None`: the runtime's default).
        **kwargs: further keyword arguments for the interpreter class
            (e.g. `experimental_preserve_all_tensors=True`).

    Returns:
        `(interpreter, runtime)`: `runtime` is `"ai_edge_litert"` (LiteRT) or, only when
        `ai-edge-litert` cannot be imported, `"tf.lite"` (after a logged warning).

    Example:
        >>> it, runtime = make_interpreter(open("model.tflite", "rb").read())
        >>> it.allocate_tensors()
    """
    cls = _litert_class()
    runtime = LITERT
    if cls is None:
        _warn_fallback()
        import tensorflow as tf

        cls, runtime = tf.lite.Interpreter, TF_LITE
    return cls(model_content=model_content, num_threads=num_threads, **kwargs), runtime
