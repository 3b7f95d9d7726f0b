"""Builds a KerasHub backbone from a config block (`backbone: {type: keras_hub, keras_hub: {...}}`).

KerasHub is Model Garden's successor for Keras 3. Presets need a download, so backbones are built from
their constructor arguments (random init). Image backbones read `task.model.input_size` as their image
shape; text backbones (constructor argument `vocabulary_size`) read token ids of length
`input_size[0]` and derive their other inputs in the graph (padding mask `ids != 0`, segment ids 0).
"""

import inspect

import keras

from keras_mot.errors import KerasMotError, format_error

_IMAGE_SHAPE_ARGS = ("image_shape", "input_shape")
_OUTPUT_KEYS = ("pooled_output", "sequence_output")


def _backbone_class(name):
    try:
        import keras_hub
    except ImportError as e:  # pragma: no cover - keras-hub is a test dependency
        raise KerasMotError(
            format_error(
                "backbone.type keras_hub needs the keras-hub package.",
                received=str(e),
                fix="pip install keras-hub",
            )
        ) from e
    cls = getattr(keras_hub.models, name, None)
    if not (isinstance(cls, type) and issubclass(cls, keras_hub.models.Backbone)):
        known = sorted(n for n in dir(keras_hub.models) if n.endswith("Backbone") and n != "Backbone")
        raise KerasMotError(
            format_error(
                "backbone.keras_hub.class_name is not a KerasHub backbone class.",
                received=repr(name),
                fix=f"Use one of: {', '.join(known)}.",
            )
        )
    return cls


def is_text(spec):
    """True when the KerasHub backbone reads token ids (its constructor takes `vocabulary_size`).

    Example:
        >>> is_text(KerasHubBackbone(class_name="BertBackbone", args={"vocabulary_size": 64}))
        True
    """
    return "vocabulary_size" in spec.args


def _construct(cls, spec, input_size):
    args = dict(spec.args)
    accepted = inspect.signature(cls.__init__).parameters
    if not is_text(spec):
        for key in _IMAGE_SHAPE_ARGS:
            if key in accepted and key not in args:
                args[key] = tuple(input_size)
    elif "max_sequence_length" in accepted:
        args.setdefault("max_sequence_length", input_size[0])
    try:
        return cls(**args)
    except Exception as e:  # the constructor's own message names the bad argument
        raise KerasMotError(
            format_error(
                f"KerasHub could not build {cls.__name__} from backbone.keras_hub.args.",
                received=f"{args}: {type(e).__name__}: {e}",
                fix=f"Check the arguments against {cls.__name__}'s docstring.",
            )
        ) from e


def _text_inputs(backbone, length):
    ids = keras.Input(shape=(length,), dtype="int32", name="token_ids")
    derived = {
        "token_ids": ids,
        "padding_mask": lambda: keras.ops.cast(keras.ops.not_equal(ids, 0), "int32"),
        "segment_ids": lambda: keras.ops.zeros_like(ids),
    }
    feed = {}
    for key in backbone.input:
        if key not in derived:
            raise KerasMotError(
                format_error(
                    f"The text backbone {type(backbone).__name__} has an input keras_mot "
                    "cannot derive from token ids.",
                    received=repr(key),
                    fix=f"Use a backbone whose inputs are among {sorted(derived)}.",
                )
            )
        feed[key] = ids if key == "token_ids" else derived[key]()
    return ids, feed


def _features(out, spec, backbone):
    if isinstance(out, dict):
        keys = [spec.output] if spec.output else [k for k in _OUTPUT_KEYS if k in out]
        if not keys or keys[0] not in out:
            raise KerasMotError(
                format_error(
                    f"{type(backbone).__name__} has no such output.",
                    received=repr(spec.output),
                    fix=f"Use one of: {sorted(out)}.",
                )
            )
        out = out[keys[0]]
    if len(out.shape) == 4:
        return keras.layers.GlobalAveragePooling2D(name="pool")(out)
    if len(out.shape) == 3:
        return keras.layers.GlobalAveragePooling1D(name="pool")(out)
    return out


def build_keras_hub_features(input_size, spec):
    """Builds `inputs -> pooled features` around a KerasHub backbone made from `spec`.

    Args:
        input_size: `task.model.input_size` (image shape, or `[sequence_length]` for text backbones).
        spec: the `backbone.keras_hub` block (`keras_mot.garden.mg_model.KerasHubBackbone`).

    Returns:
        A Functional model whose one input is the image (float) or the token ids (int32) and whose
        output is `(batch, features)`: the backbone's pooled output, else its sequence / feature map
        averaged.

    Raises:
        KerasMotError: unknown class, arguments the constructor rejects, an output key that does not exist.

    Example:
        >>> spec = KerasHubBackbone(class_name="BertBackbone", args={"vocabulary_size": 64, "num_layers": 1,
        ...     "num_heads": 2, "hidden_dim": 16, "intermediate_dim": 32})
        >>> build_keras_hub_features([16], spec).output.shape
        (None, 16)
    """
    cls = _backbone_class(spec.class_name)
    backbone = _construct(cls, spec, list(input_size))
    if isinstance(backbone.input, dict):
        if not is_text(spec) or len(input_size) != 1:
            raise KerasMotError(
                format_error(
                    f"{cls.__name__} reads a dict of inputs; keras_mot's garden feeds it "
                    "token ids of task.model.input_size = [sequence_length].",
                    received=f"input_size {list(input_size)}",
                    fix="Give vocabulary_size in args and input_size: [sequence_length].",
                )
            )
        inputs, feed = _text_inputs(backbone, input_size[0])
    else:
        inputs = keras.Input(shape=tuple(backbone.input.shape[1:]), dtype=backbone.input.dtype, name="image")
        feed = inputs
    return keras.Model(inputs, _features(backbone(feed), spec, backbone), name=f"{cls.__name__}_features")
