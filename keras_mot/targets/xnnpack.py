"""XNNPack target: a float TFLite model run with the XNNPack delegate (the default CPU delegate).

Sources:
- Delegate coverage: tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc (`Subgraph::VisitNode`,
  LiteRT tflite/delegates/xnnpack/xnnpack_delegate.cc); the lint's table is
  keras_mot/lint/tables/xnnpack.py.
- Per-op limits: tensorflow/lite/delegates/xnnpack/README.md ("Limitations and supported operators").
"""

from keras_mot.targets.registry import register
from keras_mot.targets.target import ConverterSettings, Target

XNNPACK = register(
    Target(
        name="xnnpack",
        description="TFLite float model on the XNNPack delegate (ops it does not take fall back "
        "to the default CPU kernels)",
        kind="float",
        converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS",)),
        op_table="xnnpack",
        references=(
            "tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc",
            "tensorflow/lite/delegates/xnnpack/README.md",
        ),
    )
)
