"""TFLite (LiteRT) targets: float builtins, Select TF ops, full-integer int8 and int16x8.

Sources:
- Converter flow and quantization modes: tensorflow/lite/python/lite.py (`QuantizationMode`).
- int8 numerics: tensorflow/lite/g3doc/performance/quantization_spec.md (weights int8
  symmetric, per-channel for CONV_2D / DEPTHWISE_CONV_2D / TRANSPOSE_CONV / FULLY_CONNECTED,
  zero point 0, narrow range [-127, 127]; activations int8 asymmetric per-tensor).
- int16x8: tensorflow/lite/tools/optimize/operator_property.cc (16-bit symmetric activations).
"""

from keras_mot.targets.registry import register
from keras_mot.targets.target import ConverterSettings, Target

_REFS = ("tensorflow/lite/python/lite.py", "tensorflow/lite/g3doc/performance/quantization_spec.md")

TFLITE = register(
    Target(
        name="tflite",
        description="TFLite float model, builtin ops only",
        kind="float",
        converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS",)),
        op_table="tflite_builtins",
        references=_REFS,
    )
)

TFLITE_SELECT = register(
    Target(
        name="tflite_select",
        description="TFLite float model, builtin ops plus Select TF ops (Flex delegate)",
        kind="float",
        converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS", "SELECT_TF_OPS")),
        op_table="tflite_select",
        references=_REFS + ("tensorflow/compiler/mlir/lite/delegates/flex/allowlisted_flex_ops.cc",),
    )
)

TFLITE_INT8 = register(
    Target(
        name="tflite_int8",
        description="TFLite full-integer int8 model (quantization spec: int8 weights and activations)",
        kind="int8",
        scheme="int8",
        post_training_scheme="int8_post_training",
        converter=ConverterSettings(
            supported_ops=("TFLITE_BUILTINS",), optimizations=("DEFAULT",), quantize="int8"
        ),
        op_table="tflite_int8",
        references=_REFS,
    )
)

TFLITE_INT16X8 = register(
    Target(
        name="tflite_int16x8",
        description="TFLite int16 activations with int8 weights (EXPERIMENTAL_TFLITE_BUILTINS_"
        "ACTIVATIONS_INT16_WEIGHTS_INT8)",
        kind="int16x8",
        scheme="int16x8",
        converter=ConverterSettings(
            # TFLITE_BUILTINS lets ops with no int16 kernel keep their own type (lite.py
            # `_is_allow_float`): the integer shape/index arithmetic of attention masks and
            # embeddings (CAST, SELECT_V2, NEG, UNSORTED_SEGMENT_PROD on int32) stays int32 instead of
            # failing the conversion; a real float op left is reported (float_compute_ops, not ok).
            supported_ops=("EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8", "TFLITE_BUILTINS"),
            optimizations=("DEFAULT",),
            quantize="int16x8",
        ),
        op_table="tflite_int16x8",
        references=_REFS + ("tensorflow/lite/tools/optimize/operator_property.cc",),
    )
)

# Float at run time; only the stored weights differ (lite.py `QuantizationMode`:
# Optimize.DEFAULT + supported_types=[float16] -> float16 weights; Optimize.DEFAULT without a
# representative dataset -> dynamic-range int8 weights; post_training_quantization.md).
_PTQ_REFS = (
    "tensorflow/lite/python/lite.py",
    "tensorflow/lite/g3doc/performance/post_training_quantization.md",
)

TFLITE_FLOAT16 = register(
    Target(
        name="tflite_float16",
        description="TFLite float model with float16 weights (half the size; computes in float)",
        kind="float",
        converter=ConverterSettings(
            supported_ops=("TFLITE_BUILTINS",), optimizations=("DEFAULT",), quantize="float16"
        ),
        op_table="tflite_builtins",
        references=_PTQ_REFS,
    )
)

TFLITE_DYNAMIC = register(
    Target(
        name="tflite_dynamic",
        description="TFLite dynamic-range model: int8 weights, float activations (hybrid kernels "
        "quantize activations on the fly)",
        kind="float",
        converter=ConverterSettings(
            supported_ops=("TFLITE_BUILTINS",), optimizations=("DEFAULT",), quantize="dynamic"
        ),
        op_table="tflite_builtins",
        references=_PTQ_REFS,
    )
)
