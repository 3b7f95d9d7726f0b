"""The Keras-side conditions of XNNPack's sparse (NCHW) cluster: stride-2 convolutions with TF SAME
padding and asymmetric padding cannot enter it, and the exact rewrite that fixes each.

Read by the pruning lint (`keras_mot.lint.pruning_checks`, for targets whose `lint_checks` name
`xnnpack_nchw_cluster`) and by the export's check of the converted model
(`keras_mot.export.xnnpack_check`). Facts: google/XNNPACK src/subgraph.c
(`xnn_check_nchw_compatibility`), src/subgraph/convolution-2d.c and depthwise-convolution-2d.c
(only stride-1 SAME becomes explicit padding).

Example:
    >>> [f.code for f in stem_rewrite(keras.applications.MobileNetV2(weights=None))][:1]
    ['xnn-same-stem']
"""

from keras_mot.findings import Finding


def same_padding(size, kernel, stride, dilation=1):
    """(before, after) padding TF's SAME adds on an axis of `size` (extra goes after).

    Example:
        >>> same_padding(224, 3, 2), same_padding(225, 3, 2)
        ((0, 1), (1, 1))
    """
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def stem_rewrite(model):
    """Findings for Keras layers that keep a model out of XNNPack's sparse cluster, with the
    exact rewrite.

    A `Conv2D(f, 3, strides=2, padding="same")` stem cannot be the entry (SAME at stride 2 is
    a flag, not explicit padding). The rewrite is `ZeroPadding2D(1)` + `padding="valid"`
    (same output size). When it works and when it is exact are opposite cases:
    - even input height/width (e.g. 224): SAME pads (0, 1) (extra row/col at the end, see
      `same_padding`), so the rewrite samples a grid shifted by one pixel: **not exact** (the
      weights transfer but outputs differ; fine-tune, as pruning does anyway). The PAD op
      survives conversion and XNNPack fuses it: a valid entry.
    - odd input (e.g. 225): SAME pads (1, 1), the rewrite is **exact**, and for that very
      reason the TFLite converter folds PAD + VALID back into a SAME conv (reproduced with TF
      2.21 on 33x33 and 225x225), so the entry still fails. Use an even input size.
    `ZeroPadding2D(((0, 1), (0, 1)))`, the exact equivalent on even sizes, is asymmetric and
    refused too. Stride-2 `DepthwiseConv2D(padding="same")` and asymmetric padding before a
    stride-2 conv (Keras `correct_pad` on even inputs) are reported the same way.

    Returns:
        list of `Finding` (empty when nothing blocks the cluster).
    """
    import keras

    findings = []
    for layer in _walk(model):
        convs = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
        if not isinstance(layer, convs) or tuple(layer.strides) != (2, 2):
            continue
        depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
        shape = tuple(layer.input.shape)
        if layer.padding == "same":
            findings.append(same_stride2_finding(layer, shape, depthwise))
        else:
            pad = _asymmetric_pad_before(layer)
            if pad is not None:
                findings.append(
                    Finding(
                        layer.name,
                        "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D",
                        "warning",
                        f"stride-2 conv after ZeroPadding2D{pad}: XNNPack's sparse path needs "
                        "symmetric padding (1 on every side for 3x3).",
                        fix="Use ZeroPadding2D(1) (symmetric) before it; output size is unchanged "
                        "on even inputs but values shift by one pixel, so fine-tune.",
                        code="xnn-asymmetric-pad",
                    )
                )
    return findings


def _walk(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _walk(layer)


def same_stride2_finding(layer, shape, depthwise):
    """The finding for a stride-2 `Conv2D`/`DepthwiseConv2D` with `padding="same"`, and its rewrite.

    Args:
        layer: the Keras conv layer.
        shape: its input shape `(batch, height, width, channels)`.
        depthwise: whether it is a `DepthwiseConv2D`.

    Example:
        >>> same_stride2_finding(stem_conv, (None, 224, 224, 3), depthwise=False).code
        'xnn-same-stem'
    """
    h, w, cin = shape[1], shape[2], shape[3]
    k = tuple(layer.kernel_size)
    is_stem = not depthwise and k == (3, 3) and cin == 3
    pads = [same_padding(s, kk, 2) if s is not None else None for s, kk in zip((h, w), k)]
    want = tuple((kk // 2, kk // 2) for kk in k)
    exact = None not in pads and tuple(pads) == want
    role = "sparse-cluster entry" if is_stem else "sparse-cluster body op"
    kind = "DepthwiseConv2D" if depthwise else f"Conv2D({layer.filters}, {k[0]})"
    if None in pads:
        verdict = (
            "of unknown exactness (dynamic input size); it works only on even sizes, where it is not exact"
        )
    elif exact:
        verdict = (
            "numerically exact on this odd input, but the TFLite converter then folds "
            "PAD + VALID back into a SAME conv, so XNNPack still refuses it: use an even "
            "input size (where the rewrite works but is not exact)"
        )
    else:
        verdict = (
            f"NOT numerically exact: SAME pads {pads} (before, after) on this {h}x{w} "
            "input, so the rewrite shifts the sampling grid by one pixel (same output "
            "size); fine-tune after the rewrite. The PAD survives conversion and "
            "XNNPack fuses it"
        )
    return Finding(
        layer.name,
        "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D",
        "warning",
        f"{kind} with strides=2, padding='same' cannot be the {role}: TF SAME at stride 2 "
        "reaches XNNPack as a flag, not as explicit symmetric padding.",
        fix=f"Replace it by ZeroPadding2D({k[0] // 2}) followed by the same layer with "
        f"padding='valid'. This rewrite is {verdict}.",
        code="xnn-same-stem" if is_stem else "xnn-same-stride2",
    )


def _asymmetric_pad_before(layer):
    import keras

    try:
        prev = layer.input._keras_history.operation
    except AttributeError:
        return None
    if not isinstance(prev, keras.layers.ZeroPadding2D):
        return None
    (top, bottom), (left, right) = prev.padding
    return None if top == bottom == left == right else ((top, bottom), (left, right))
