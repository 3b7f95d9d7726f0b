"""Export-only TFLite targets: float16 weights and dynamic-range (hybrid) weights.

Both are float models at run time (`kind="float"`); only the stored weights differ. Source:
tensorflow/lite/python/lite.py (`QuantizationMode`: `Optimize.DEFAULT` with
`target_spec.supported_types=[tf.float16]` -> float16 weights; `Optimize.DEFAULT` without a
representative dataset -> dynamic-range int8 weights), tensorflow/lite/g3doc/performance/
post_training_quantization.md.

(These belong in keras_mot/targets/tflite.py; registered here, idempotently, until moved.)
"""

from keras_mot import targets
from keras_mot.targets import ConverterSettings, Target

_REFS = ("tensorflow/lite/python/lite.py",
         "tensorflow/lite/g3doc/performance/post_training_quantization.md")

EXTRA_TARGETS = (
    Target(name="tflite_float16",
           description="TFLite float model with float16 weights (half the size; computes in float)",
           kind="float",
           converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS",),
                                       optimizations=("DEFAULT",), quantize="float16"),
           op_table="tflite_builtins", references=_REFS),
    Target(name="tflite_dynamic",
           description="TFLite dynamic-range model: int8 weights, float activations (hybrid "
                       "kernels quantize activations on the fly)",
           kind="float",
           converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS",),
                                       optimizations=("DEFAULT",), quantize="dynamic"),
           op_table="tflite_builtins", references=_REFS),
)

for _target in EXTRA_TARGETS:
    if _target.name not in targets.names():
        targets.register(_target)
