"""Layer adapters: what keras_mot knows about each Keras layer family.

The extension points are re-exported here and at the top level (`mot.register_adapter`,
`mot.LayerAdapter`, `mot.WeightRef`); the built-in adapters register when
`keras_mot.layers.registry` is imported (importing `keras_mot` does it).

Example:
    >>> @mot.register_adapter(MyDense)
    ... class MyDenseAdapter(mot.LayerAdapter):
    ...     kind = mot.LayerKind.DENSE
"""

from keras_mot.layers.base import LayerAdapter, WeightRef, adapter_for, register_adapter

__all__ = ["LayerAdapter", "WeightRef", "adapter_for", "register_adapter"]
