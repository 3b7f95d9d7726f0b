"""Sparsity: patterns (pure mask math), schedules and per-layer prune specs.

Public names: `SparsityPattern`, `Unstructured`, `Block`, `NofM`, `PruningSchedule`,
`PolynomialDecay`, `ConstantSparsity`, `PruneSpec`, `SparsityRule`, `pattern_for`,
`get_layout`, `register_layout`, `Layout`.
"""

from keras_mot.sparsity.layout import Layout, get_layout, kinds, register_layout
from keras_mot.sparsity.patterns import Block, NofM, SparsityPattern, Unstructured
from keras_mot.sparsity.schedules import ConstantSparsity, PolynomialDecay, PruningSchedule
from keras_mot.sparsity.spec import PruneSpec, SparsityRule, pattern_for

__all__ = ["Block", "ConstantSparsity", "Layout", "NofM", "PolynomialDecay", "PruneSpec",
           "PruningSchedule", "SparsityPattern", "SparsityRule", "Unstructured", "get_layout",
           "kinds", "pattern_for", "register_layout"]
