"""`keras_mot.compression`: weight transforms that train and export (clustering, ...).

Example:
    >>> rule = mot.Rule("class:Conv2D", compress=mot.Cluster(16), quantize="int8")
"""

from keras_mot.compression.base import WeightCompression, get, register, registered
from keras_mot.compression.cluster import Cluster

__all__ = ["Cluster", "WeightCompression", "get", "register", "registered"]
