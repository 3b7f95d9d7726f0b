"""TensorFlow serving target: a SavedModel with int8 / packed int4 weights, float compute.

Export (`keras_mot.export.tf_serving`) stores each quantized weight as integer codes plus float
scales and dequantizes them inside the serving signature; activations stay float32 (or bfloat16,
per the scheme), except under `dynamic_int8`, whose serving graph quantizes matmul / convolution
inputs to int8 on every call. TensorFlow runs every op, so the lint uses the Select-TF-ops table.

Sources:
- SavedModel format and signatures: tensorflow/python/saved_model/save.py (`tf.saved_model.save`
  with `signatures=`), tensorflow/python/tools/saved_model_cli.py (`show --all`).
"""

from keras_mot.targets.registry import register
from keras_mot.targets.target import ConverterSettings, Target

TF_SERVING = register(
    Target(
        name="tf_serving",
        description="TensorFlow SavedModel for serving: int8 / int4 weight-only or dynamic_int8, float32 or bfloat16 compute",
        kind="float",
        scheme="int8_weight_only",
        converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS", "SELECT_TF_OPS")),
        op_table="tflite_select",
        references=("tensorflow/python/saved_model/save.py", "tensorflow/python/tools/saved_model_cli.py"),
        export_format="tf_serving",
        lint_checks=("tf_serving_layers",),
    )
)
