"""Imports every built-in adapter module so that their `register_adapter` calls run."""

from keras_mot.layers import activations, affine, conv, elementwise, merge, pooling  # noqa: F401
from keras_mot.layers import attention, einsum, embedding, normalization  # noqa: F401
from keras_mot.layers.base import adapter_for, register_adapter, registered_types  # noqa: F401
