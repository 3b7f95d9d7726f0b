"""Op-knowledge tables for the lint, one module per kind of fact.

Every table entry cites the TensorFlow / LiteRT source file the fact was read from, through the
short keys of `SOURCES` (paths in the TensorFlow tree; the LiteRT mirror is given where the file
moved there). The conformance suite in tests/lint/ checks the tables against the real converter.
"""

SOURCES = {
    "legalize_patterns": "tensorflow/compiler/mlir/lite/transforms/legalize_patterns.td "
                         "(LiteRT tflite/converter/transforms/legalize_patterns.td)",
    "legalize_tf": "tensorflow/compiler/mlir/lite/transforms/legalize_tf.cc "
                   "(LiteRT tflite/converter/transforms/legalize_tf.cc)",
    "prepare_tf": "tensorflow/compiler/mlir/lite/transforms/prepare_tf.cc",
    "prepare_patterns": "tensorflow/compiler/mlir/lite/transforms/prepare_patterns.td",
    "lower_tf": "tensorflow/compiler/mlir/tensorflow/transforms/lower_tf.td / lower_tf.cc",
    "optimize_patterns": "tensorflow/compiler/mlir/lite/transforms/optimize_patterns.td",
    "tensorlist": "tensorflow/compiler/mlir/lite/transforms/lower_static_tensor_list.cc",
    "flatbuffer_export": "tensorflow/compiler/mlir/lite/flatbuffer_export.cc",
    "hashtables": "tensorflow/compiler/mlir/lite/transforms/legalize_hashtables.cc",
    "flex_allowlist": "tensorflow/compiler/mlir/lite/delegates/flex/allowlisted_flex_ops.cc "
                      "(LiteRT tflite/converter/delegates/flex/allowlisted_flex_ops.cc)",
    "tfl_ops": "tensorflow/compiler/mlir/lite/ir/tfl_ops.td (LiteRT tflite/converter/ir/tfl_ops.td)",
    "operator_property": "tensorflow/lite/tools/optimize/operator_property.cc "
                         "(LiteRT tflite/converter/tools/optimize/operator_property.cc)",
    "register": "tensorflow/lite/core/kernels/register.cc (LiteRT tflite/core/kernels/register.cc)",
    "op_version": "tensorflow/lite/tools/versioning/op_version.cc",
    "xnnpack_delegate": "tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc "
                        "(LiteRT tflite/delegates/xnnpack/xnnpack_delegate.cc)",
    "ops_compatibility": "tensorflow/lite/g3doc/guide/ops_compatibility.md",
    "corpus": "measured with the TF 2.21 converter (tests/lint/test_conformance.py)",
}
