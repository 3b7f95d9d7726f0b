"""`keras_mot.compression`: weight transforms that train and export (clustering, ...).

Example:
    >>> rule = mot.Rule("class:Conv2D", compress=mot.Cluster(16), quantize="int8")
"""

from keras_mot.compression.base import WeightCompression, get, register, registered
from keras_mot.compression.cluster import Cluster
from keras_mot.compression.palettize import Palettize

__all__ = ["Cluster", "Palettize", "WeightCompression", "get", "register", "registered"]
