"""Helpers: small Keras models with hand-zeroed weights, converted by the real converter."""

import numpy as np
import pytest
import tensorflow as tf


def convert(model, mode="float", input_shape=None):
    """Converts with the real TFLite converter; mode "float" or "int8" (+ sparsity)."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "int8":
        shape = input_shape or (1,) + tuple(model.inputs[0].shape[1:])
        rng = np.random.default_rng(0)
        conv.optimizations = [tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        conv.representative_dataset = lambda: (
            [rng.standard_normal(shape).astype("float32")] for _ in range(8)
        )
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    else:
        conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return conv.convert()


def litert_runs(tflite_bytes):
    """Loads and invokes the model in ai_edge_litert's interpreter; returns the error or None."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interp = Interpreter(model_content=tflite_bytes)
        interp.allocate_tensors()
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        interp.invoke()
    except (RuntimeError, ValueError) as e:
        return str(e)
    return None


def apply_pattern(layer, pattern, sparsity, kind):
    """Zeros `layer`'s kernel in numpy with `pattern`'s mask."""
    weights = layer.get_weights()
    weights[0] = weights[0] * np.asarray(pattern.compute_mask(weights[0], sparsity, kind))
    layer.set_weights(weights)


@pytest.fixture
def tools():
    """The helpers as a namespace."""

    class T:
        pass

    t = T()
    t.convert, t.litert_runs, t.apply_pattern = convert, litert_runs, apply_pattern
    return t
