"""Sparsity targets: which layers a runtime can run sparse, and in which pattern.

Each target's `sparsity` table maps a layer kind (`keras_mot.LayerKind`: DENSE, CONV, DEPTHWISE,
CONV_TRANSPOSE, EINSUM, EINSUM_IN2; see `keras_mot.sparsity.layout`) to a `SparsityRule` (pattern,
shape condition, source). `Target.pattern_for(kind, shape)` reads it.

Facts (the source file of each is cited in its rule):
- TFLite's converter (`Optimize.EXPERIMENTAL_SPARSITY`, tflite/converter/transforms/
  dense_to_sparse_pass.cc) compresses a weight with >= 30 % zeros; it writes the block format
  only when the block pattern is nearly exact (block/random sparsity > 0.9 float, > 0.8 quant),
  else stores it random-sparse behind a DENSIFY op (computed densely).
- Only FULLY_CONNECTED declares blocks (tensorflow/compiler/mlir/lite/ir/tfl_ops.td,
  SparseOpInterface): float {1,4}, quantized {1,16}; kernels in tflite/kernels/
  fully_connected.cc (int8 sparse needs symmetric weights).
- `[DEFAULT, EXPERIMENTAL_SPARSITY]` without representative data gives a dynamic-range
  (hybrid) FC behind DENSIFY, not a float sparse FC (reproduced with TF 2.21 here), so the
  float targets request `EXPERIMENTAL_SPARSITY` alone.
- XNNPack sparse inference: XNNPACK src/subgraph.c (`xnn_check_nchw_compatibility`,
  `xnn_subgraph_rewrite_for_nchw`), tflite/delegates/xnnpack/xnnpack_delegate.cc (sparse hint
  only for weights unpacked by DENSIFY), tflite/delegates/xnnpack/README.md "Sparse Inference".
- 2:4: NVIDIA/apex apex/contrib/sparsity/sparse_masklib.py (`create_mask`: groups of 4 along
  the input-channel axis C of linear (K, C) and conv (K, C, R, S) weights).
"""

from keras_mot.layer_kinds import FULLY_CONNECTED_KINDS, LayerKind
from keras_mot.sparsity.patterns import Block, NofM, Unstructured
from keras_mot.sparsity.spec import SparsityRule
from keras_mot.targets.registry import register
from keras_mot.targets.target import ConverterSettings, Target

_XNN_SUBGRAPH = "google/XNNPACK src/subgraph.c (xnn_check_nchw_compatibility)"
_TFL_OPS = "tensorflow/compiler/mlir/lite/ir/tfl_ops.td (FULLY_CONNECTED SparseOpInterface)"
_FC_KERNEL = "tflite/kernels/fully_connected.cc (FullyConnectedSparseWeight1x4 / 1x16)"
_DENSE_TO_SPARSE = "tflite/converter/transforms/dense_to_sparse_pass.cc"
_APEX = "NVIDIA/apex apex/contrib/sparsity/sparse_masklib.py (create_mask)"
_GENERIC_KINDS = (
    LayerKind.DENSE,
    LayerKind.CONV,
    LayerKind.DEPTHWISE,
    LayerKind.CONV_TRANSPOSE,
    LayerKind.EINSUM,
    LayerKind.EINSUM_IN2,
)
_FC_KINDS = FULLY_CONNECTED_KINDS  # EinsumDense lowered to FULLY_CONNECTED

GENERIC = register(
    Target(
        name="generic",
        description="Unstructured magnitude pruning of every prunable weight (smaller compressed "
        "file; no runtime speed-up claimed)",
        kind="float",
        converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS",)),
        sparsity={
            kind: SparsityRule(
                Unstructured(),
                source="keras_mot: no runtime constraint",
                note="zeros survive in the dense buffers; gzip shrinks them",
            )
            for kind in _GENERIC_KINDS
        },
        references=("tensorflow/lite/python/lite.py",),
    )
)

XNNPACK_SPARSE = register(
    Target(
        name="xnnpack_sparse",
        description="XNNPack sparse (NCHW) inference: 1x1 convolutions with > 2/3 zeros inside a "
        "cluster entered by a 3x3 stride-2 conv on 3 channels (mobile ARM; disabled "
        "on x86 with AVX)",
        kind="float",
        converter=ConverterSettings(
            supported_ops=("TFLITE_BUILTINS",), optimizations=("EXPERIMENTAL_SPARSITY",), sparsity=True
        ),
        sparsity={
            LayerKind.CONV: SparsityRule(
                Unstructured(),
                spatial=(1, 1),
                source=_XNN_SUBGRAPH,
                note="only 1x1 stride-1 unpadded CONV_2D weights run as sparse "
                "matrices (SpMM); other convs stay dense",
            ),
        },
        min_sparsity=2.0 / 3.0,
        lint_checks=("xnnpack_nchw_cluster",),
        export_checks=("xnnpack_nchw_cluster",),
        references=(
            _XNN_SUBGRAPH,
            "tflite/delegates/xnnpack/xnnpack_delegate.cc",
            "tflite/delegates/xnnpack/README.md (Sparse Inference)",
            _DENSE_TO_SPARSE,
        ),
    )
)

TFLITE_SPARSE_FC = register(
    Target(
        name="tflite_sparse_fc",
        description="TFLite float sparse FULLY_CONNECTED (1x4 blocks: 4 consecutive input "
        "channels; Block(4, 1) on the Keras Dense kernel)",
        kind="float",
        converter=ConverterSettings(
            supported_ops=("TFLITE_BUILTINS",), optimizations=("EXPERIMENTAL_SPARSITY",), sparsity=True
        ),
        sparsity={
            kind: SparsityRule(Block(4, 1), source=_TFL_OPS, note="float FC block {1,4}; " + _FC_KERNEL)
            for kind in _FC_KINDS
        },
        min_sparsity=0.3,
        references=(_TFL_OPS, _FC_KERNEL, _DENSE_TO_SPARSE),
    )
)

TFLITE_SPARSE_FC_INT8 = register(
    Target(
        name="tflite_sparse_fc_int8",
        description="TFLite int8 sparse FULLY_CONNECTED (1x16 blocks, symmetric weights; "
        "Block(16, 1) on the Keras Dense kernel). Bypasses XNNPack: measured slower "
        "than XNNPack's dense int8 FC on x86",
        kind="int8",
        scheme="int8",
        converter=ConverterSettings(
            supported_ops=("TFLITE_BUILTINS",),
            optimizations=("DEFAULT", "EXPERIMENTAL_SPARSITY"),
            quantize="int8",
            sparsity=True,
        ),
        sparsity={
            kind: SparsityRule(Block(16, 1), source=_TFL_OPS, note="quantized FC block {1,16}; " + _FC_KERNEL)
            for kind in _FC_KINDS
        },
        min_sparsity=0.3,
        lint_checks=("int8_sparse_fc_speed",),
        references=(
            _TFL_OPS,
            _FC_KERNEL,
            _DENSE_TO_SPARSE,
            "tflite/delegates/xnnpack/xnnpack_delegate.cc (FC v8 sparse weights refused)",
        ),
    )
)

NVIDIA_2X4 = register(
    Target(
        name="nvidia_2x4",
        description="2:4 structured sparsity along input channels (NVIDIA sparse tensor cores; "
        "TFLite does not exploit it)",
        kind="float",
        converter=ConverterSettings(supported_ops=("TFLITE_BUILTINS",)),
        sparsity={
            kind: SparsityRule(
                NofM(2, 4), source=_APEX, note="2 non-zeros in every 4 consecutive input channels"
            )
            for kind in (
                LayerKind.DENSE,
                LayerKind.CONV,
                LayerKind.CONV_TRANSPOSE,
                LayerKind.EINSUM,
                LayerKind.EINSUM_IN2,
            )
        },
        min_sparsity=0.5,
        references=(_APEX,),
    )
)
