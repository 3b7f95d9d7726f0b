"""Recipes: versioned plans of what to do (quantize, prune) to which layer."""

from keras_mot.recipe.recipe import Recipe, Rule
from keras_mot.recipe.selectors import matches

__all__ = ["Recipe", "Rule", "matches"]
