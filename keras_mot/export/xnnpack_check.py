"""Does a .tflite model meet XNNPack's sparse (NCHW) inference conditions? (The Keras stem
rewrite that makes a model eligible is `keras_mot.xnnpack_stem.stem_rewrite`, re-exported here.)

Conditions (google/XNNPACK src/subgraph.c `xnn_check_nchw_compatibility` and
`xnn_subgraph_rewrite_for_nchw`; tflite/delegates/xnnpack/xnnpack_delegate.cc):
- entry: CONV_2D 3x3, stride 2, no dilation, explicit padding 1 on every side, 3 input channels;
- body: 1x1 CONV_2D (stride 1, no padding), DEPTHWISE_CONV_2D 3x3/5x5 (stride 1 or 2,
  multiplier 1, padding 1/2 on every side, not TF SAME at stride 2), ADD/MUL on 4-D inputs
  (constants scalar or vector), unary elementwise on 4-D, RESIZE_BILINEAR (H, W > 1), MEAN/SUM
  on 4-D, FULLY_CONNECTED; all values fp32/fp16;
- exit: MEAN/SUM on 4-D (global average pooling) or DEPTH_TO_SPACE; every value inside the
  cluster is consumed only inside it, and no graph input/output is inside it;
- profitability: more than 2/3 zeros among the cluster's 1x1-conv/FC weights;
- the delegate asks for sparse inference only when a static weight is unpacked by DENSIFY.
TF SAME padding reaches XNNPack as a flag; only stride-1 convolutions are turned into explicit
padding (src/subgraph/convolution-2d.c, depthwise-convolution-2d.c), and a constant PAD is
fused only into a VALID convolution (src/subgraph.c).

Example:
    >>> for f in check_cluster(tflite_bytes): print(f.severity, f.code, f.message)
    >>> stem_rewrite(keras.applications.MobileNetV2(weights=None))
"""

from keras_mot.export.tflite_model import TfliteModel
from keras_mot.findings import Finding
from keras_mot.xnnpack_stem import same_padding, stem_rewrite  # noqa: F401  (stem_rewrite: re-export)

_SAME, _VALID = 0, 1
_UNARY = {
    "ABS",
    "CEIL",
    "ELU",
    "FLOOR",
    "GELU",
    "HARD_SWISH",
    "LEAKY_RELU",
    "LOGISTIC",
    "NEG",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "ROUND",
    "RSQRT",
    "SQRT",
    "SQUARE",
    "TANH",
    "EXP",
    "LOG",
    "SIN",
    "COS",
    "PRELU",
}
_FP = ("float32", "float16")
_X86_NOTE = (
    "XNNPack's sparse path is disabled on x86 CPUs with AVX: these conditions are "
    "checked structurally; no speed-up is expected on this machine."
)


def _padding(g, i, kernel):
    """Explicit (top, bottom, left, right) padding XNNPack sees for conv op `i`, or None
    when it carries the TF SAME flag (stride > 1)."""
    opts = g.ops[i].options
    if opts.padding == _SAME:
        if max(opts.strideH, opts.strideW) > 1:
            return None
        (t, b), (l, r) = (same_padding(1, k, 1) for k in kernel)  # stride 1: size-free
        return t, b, l, r
    p = g.producer.get(g.ops[i].inputs[0])
    if p is not None and g.op_name(p) in ("PAD", "PADV2"):
        pads = g.data(g.ops[p].inputs[1])
        if pads is not None and len(pads) == 8:
            return int(pads[2]), int(pads[3]), int(pads[4]), int(pads[5])
    return 0, 0, 0, 0


def _conv(g, i):
    opts, w = g.ops[i].options, g.shape(g.ops[i].inputs[1])  # OHWI
    if max(opts.dilationHFactor, opts.dilationWFactor) != 1:
        return None, "dilated convolution"
    stride, pad = (opts.strideH, opts.strideW), _padding(g, i, w[1:3])
    if w[1:3] == (1, 1):
        if stride != (1, 1) or pad != (0, 0, 0, 0):
            return None, f"1x1 conv with stride {stride} / padding {pad} (needs 1, none)"
        return "body", "1x1 conv"
    if w[1:3] != (3, 3):
        return None, f"{w[1]}x{w[2]} CONV_2D (only 1x1 body convs and the 3x3 entry)"
    problems = []
    if pad is None:
        problems.append(
            "TF SAME padding at stride 2 reaches XNNPack as a flag, not as explicit padding 1 on every side"
        )
    elif pad != (1, 1, 1, 1):
        problems.append(f"padding (top, bottom, left, right) = {pad}, needs (1, 1, 1, 1)")
    if stride != (2, 2):
        problems.append(f"stride {stride}, needs (2, 2)")
    if w[3] != 3:
        problems.append(f"{w[3]} input channels, needs 3")
    return (None, "3x3 conv: " + "; ".join(problems)) if problems else ("entry", "3x3 s2 entry")


def _depthwise(g, i):
    opts, w = g.ops[i].options, g.shape(g.ops[i].inputs[1])  # (1, H, W, C*M)
    k, stride = w[1], (opts.strideH, opts.strideW)
    cin = g.shape(g.ops[i].inputs[0])[-1]
    pad = _padding(g, i, w[1:3])
    problems = []
    if w[1] != w[2] or k not in (3, 5):
        problems.append(f"{w[1]}x{w[2]} kernel, needs 3x3 or 5x5")
    if stride not in ((1, 1), (2, 2)):
        problems.append(f"stride {stride}")
    if max(opts.dilationHFactor, opts.dilationWFactor) != 1:
        problems.append("dilation")
    if cin and w[3] != cin:
        problems.append("depth_multiplier != 1")
    if pad is None:
        problems.append("TF SAME padding at stride 2 (flag, not explicit padding)")
    elif pad != (k // 2,) * 4:
        problems.append(f"padding {pad}, needs {k // 2} on every side")
    return (None, "depthwise: " + "; ".join(problems)) if problems else ("body", "depthwise")


def _binary(g, i):
    ins = g.ops[i].inputs
    if any(len(g.shape(t)) != 4 for t in ins):
        return None, "ADD/MUL with an input that is not 4-D"
    for t in ins:
        if g.is_static(t) and sum(d != 1 for d in g.shape(t)) > 1:
            return None, "ADD/MUL with a constant that is not a scalar or vector"
    return "body", "elementwise"


def _rank4(flag):
    return lambda g, i: (flag, "4-D") if len(g.shape(g.ops[i].inputs[0])) == 4 else (None, "input is not 4-D")


def _resize(g, i):
    s = g.shape(g.ops[i].inputs[0])
    return (
        ("body", "resize")
        if len(s) == 4 and s[1] > 1 and s[2] > 1
        else (None, "RESIZE_BILINEAR on a 1-pixel input")
    )


_RULES = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "ADD": _binary,
    "MUL": _binary,
    "RESIZE_BILINEAR": _resize,
    "MEAN": _rank4("exit"),
    "SUM": _rank4("exit"),
    "DEPTH_TO_SPACE": lambda g, i: ("exit", "depth to space"),
    "FULLY_CONNECTED": lambda g, i: ("body", "fully connected"),
}
_RULES.update({op: _rank4("body") for op in _UNARY})


def classify(g, i):
    """(role, reason) of op `i`: role "entry", "body", "exit", "static", "pad" or None."""
    name = g.op_name(i)
    if name in ("DENSIFY", "DEQUANTIZE") and g.is_static(g.ops[i].outputs[0]):
        return "static", "unpacks a constant"
    dyn = [t for t in list(g.ops[i].inputs) + list(g.ops[i].outputs) if not g.is_static(t)]
    if any(g.dtype(t) not in _FP for t in dyn):
        return None, f"{name} computes in {g.dtype(dyn[0])}; sparse inference needs fp32/fp16"
    if name in ("PAD", "PADV2"):
        users = g.consumers.get(g.ops[i].outputs[0], [])
        ok = users and all(
            g.op_name(u) in ("CONV_2D", "DEPTHWISE_CONV_2D") and g.ops[u].options.padding == _VALID
            for u in users
        )
        return ("pad", "fused into the next VALID conv") if ok else (None, "standalone PAD")
    rule = _RULES.get(name)
    return rule(g, i) if rule else (None, f"{name} has no NCHW implementation")


def _label(g, i):
    return f"{g.op_name(i)} #{i} ({g.name(g.ops[i].outputs[0])})"


def _grow(g, roles, exit_op):
    """Walks producers back from `exit_op`; returns (ops, entries, problems)."""
    cluster, entries, problems, todo = {exit_op}, set(), [], [exit_op]
    while todo:
        i = todo.pop()
        for t in g.ops[i].inputs:
            if g.is_static(t):
                continue
            p = g.producer.get(t)
            if p is None:
                problems.append(f"{_label(g, i)} reads a graph input directly (no entry conv)")
                continue
            role, reason = roles[p]
            if p in cluster:
                continue
            if role in ("body", "exit", "pad"):
                cluster.add(p)
                todo.append(p)
            elif role == "entry":
                cluster.add(p)
                entries.add(p)
            else:
                problems.append(f"{_label(g, p)} feeds the cluster but {reason}")
    for i in cluster - {exit_op}:
        for t in g.ops[i].outputs:
            outside = [c for c in g.consumers.get(t, []) if c not in cluster]
            if outside or t in g.outputs:
                who = _label(g, outside[0]) if outside else "a graph output"
                problems.append(f"{_label(g, i)} is also read by {who} outside the cluster")
    return cluster, entries, problems


def _zeros(g, ops):
    zeros = params = 0
    for i in ops:
        if g.op_name(i) in ("CONV_2D", "FULLY_CONNECTED") and (
            g.op_name(i) == "FULLY_CONNECTED" or g.shape(g.ops[i].inputs[1])[1:3] == (1, 1)
        ):
            t = g.ops[i].inputs[1]
            while g.producer.get(t) is not None:
                t = g.ops[g.producer[t]].inputs[0]
            values = g.data(t)
            if values is None:
                continue
            tensor_params = 1
            for d in g.shape(t):
                tensor_params *= d
            zeros += tensor_params - int((values != 0).sum())
            params += tensor_params
    return zeros, params


def check_cluster(tflite):
    """One `Finding` per XNNPack sparse-inference condition (info = met, error = not met).

    Codes: xnn-entry, xnn-body, xnn-exit, xnn-sparsity, xnn-densify, xnn-x86.

    Example:
        >>> [f.code for f in check_cluster(tflite_bytes) if f.severity == "error"]
        ['xnn-entry']
    """
    g = TfliteModel.of(tflite)
    roles = {i: classify(g, i) for i in range(len(g.ops))}
    exits = [i for i, (role, _) in roles.items() if role == "exit"]
    grown = [_grow(g, roles, e) for e in exits]
    good = [c for c in grown if c[1] and not c[2]]
    findings = []

    def add(ok, code, message, fix=None, layer=""):
        findings.append(Finding(layer, None, "info" if ok else "error", message, None if ok else fix, code))

    entries = sorted({e for c in grown for e in c[1]})
    candidates = [
        i
        for i in range(len(g.ops))
        if g.op_name(i) == "CONV_2D" and g.shape(g.ops[i].inputs[1])[1:3] == (3, 3)
    ]
    if entries:
        add(
            True,
            "xnn-entry",
            "entry "
            + ", ".join(_label(g, e) for e in entries)
            + ": 3x3 stride-2 CONV_2D, explicit padding 1, 3 input channels.",
        )
    else:
        why = (
            "; ".join(f"{_label(g, i)}: {roles[i][1]}" for i in candidates) or "the model has no 3x3 CONV_2D"
        )
        add(
            False,
            "xnn-entry",
            f"no valid sparse-cluster entry ({why}).",
            fix="Start the model with ZeroPadding2D(1) + Conv2D(f, 3, strides=2, "
            "padding='valid') on a 3-channel input of even height and width (on odd "
            "sizes the converter folds the PAD back into SAME); see stem_rewrite(model).",
            layer=g.name(g.ops[candidates[0]].outputs[0]) if candidates else "",
        )
    if not exits:
        add(
            False,
            "xnn-exit",
            "no cluster exit: needs a MEAN/SUM over the spatial axes "
            "(GlobalAveragePooling2D) or DEPTH_TO_SPACE on a 4-D tensor.",
            fix="End the convolutional trunk with GlobalAveragePooling2D.",
        )
    else:
        add(True, "xnn-exit", "exit " + ", ".join(_label(g, e) for e in exits) + ".")
    problems = list(dict.fromkeys(p for c in grown for p in c[2]))
    body = (
        "no cluster to check (no exit)."
        if not exits
        else "the cluster is broken: " + "; ".join(problems) + "."
        if problems
        else "every op between entry and exit is NCHW-compatible."
    )
    add(
        bool(good) and not problems,
        "xnn-body",
        body,
        fix="Replace the named ops by 1x1 convs, 3x3/5x5 depthwise with symmetric padding, "
        "ADD/MUL, elementwise activations or bilinear resize inside the conv trunk.",
    )
    in_cluster = set().union(*(c[0] for c in good)) if good else set(range(len(g.ops)))
    zeros, params = _zeros(g, in_cluster)
    share = zeros / params if params else 0.0
    add(
        zeros * 3 > params * 2 and params > 0,
        "xnn-sparsity",
        f"{share:.1%} zeros among {'the cluster' if good else 'all'} 1x1-conv/FC weights "
        f"({zeros} of {params}); XNNPack needs more than 2/3.",
        fix="Prune the 1x1 convolutions to >= 70 % (target 'xnnpack_sparse').",
    )
    densify = [i for i in range(len(g.ops)) if g.op_name(i) == "DENSIFY"]
    add(
        bool(densify),
        "xnn-densify",
        f"{len(densify)} DENSIFY op(s): the delegate sets the sparse-inference hint."
        if densify
        else "no weight arrives through DENSIFY, so the delegate never asks for sparse inference.",
        fix="Convert with tf.lite.Optimize.EXPERIMENTAL_SPARSITY (weights need >= 30 % zeros).",
    )
    findings.append(Finding("", None, "info", _X86_NOTE, code="xnn-x86"))
    return findings
