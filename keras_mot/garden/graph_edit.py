"""Rebuilds a Functional model from an edited copy of its config (no changes to live layers).

Used by the architecture builders to set BatchNormalization momentum, swap activations and drop layers
(ImageNet preprocessing, squeeze-excite) of `keras.applications` models before any training happens.
"""

import keras

from keras_mot.errors import KerasMotError, format_error


def _first_history(node_args):
    """keras_history of the first tensor found in a serialized call's args."""
    stack = [node_args]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict) and item.get("class_name") == "__keras_tensor__":
            return item["config"]["keras_history"]
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return None


def _relink(obj, replace):
    """Replaces keras_history entries naming a dropped layer, in place."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            history = obj["config"]["keras_history"]
            while history[0] in replace:
                history = replace[history[0]]
            obj["config"]["keras_history"] = list(history)
            return
        for value in obj.values():
            _relink(value, replace)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _relink(value, replace)


def rebuild(model, edit=None, drop=None):
    """Returns a new Functional model built from `model`'s config after edits.

    Args:
        model: a Functional `keras.Model`.
        edit: `edit(class_name, layer_config) -> None`, may change `layer_config` in place.
        drop: `drop(class_name, layer_name) -> bool`; a dropped layer is bypassed: its users read its
            first input instead (only for layers whose output has the shape of that input).

    Returns:
        A new model with freshly initialised weights (builders call this before training).

    Example:
        >>> def momentum(cls, cfg):
        ...     if cls == "BatchNormalization":
        ...         cfg["momentum"] = 0.9
        >>> model = rebuild(keras.applications.MobileNetV2(weights=None), edit=momentum)
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise KerasMotError(
            format_error(
                "Only Functional models can be rebuilt from config.",
                received=type(model).__name__,
                fix="Build the architecture with the Functional API.",
            )
        )
    config = model.get_config()
    replace = {}
    kept = []
    for layer in config["layers"]:
        if drop is not None and drop(layer["class_name"], layer["name"]):
            history = _first_history(layer["inbound_nodes"])
            if history is None:
                raise KerasMotError(
                    format_error(
                        "Cannot drop a layer without inputs.",
                        layer=layer["name"],
                        fix="Drop only layers that are called on a tensor.",
                    )
                )
            replace[layer["name"]] = history
            continue
        if edit is not None:
            edit(layer["class_name"], layer["config"])
        kept.append(layer)
    config["layers"] = kept
    _relink(kept, replace)
    return keras.Model.from_config(config)
