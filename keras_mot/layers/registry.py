"""Imports every built-in adapter module so that their `register_adapter` calls run."""

from keras_mot.layers import (  # noqa: F401  # noqa: F401
    activations,
    affine,
    attention,
    conv,
    einsum,
    elementwise,
    embedding,
    merge,
    normalization,
    pooling,
)
from keras_mot.layers.base import adapter_for, register_adapter, registered_types  # noqa: F401
