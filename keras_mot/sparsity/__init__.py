"""Sparsity: patterns (pure mask math), schedules and per-layer prune specs.

Public names: `SparsityPattern`, `Unstructured`, `Block`, `NofM`, `PruningSchedule`,
`PolynomialDecay`, `ConstantSparsity`, `PruneSpec`, `SparsityRule`, `get_layout`,
`register_layout`, `Layout`. The pattern a target prescribes per layer is
`keras_mot.targets.get(name).pattern_for(kind, weight_shape)`.
"""

from keras_mot.sparsity.layout import Layout, get_layout, kinds, register_layout
from keras_mot.sparsity.patterns import Block, NofM, SparsityPattern, Unstructured
from keras_mot.sparsity.schedules import ConstantSparsity, PolynomialDecay, PruningSchedule
from keras_mot.sparsity.spec import PruneSpec, SparsityRule

__all__ = [
    "Block",
    "ConstantSparsity",
    "Layout",
    "NofM",
    "PolynomialDecay",
    "PruneSpec",
    "PruningSchedule",
    "SparsityPattern",
    "SparsityRule",
    "Unstructured",
    "get_layout",
    "kinds",
    "register_layout",
]
