"""`ConfigValue`: a base for small immutable config objects (patterns, schedules).

Two objects are equal when they are of the same class with the same `get_config()`; they hash
and print by their config, and `from_config` rebuilds them from it.
"""


class ConfigValue:
    """Value semantics from `get_config()` (subclasses define it)."""

    def get_config(self):
        """Constructor arguments as a dict."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        """Rebuilds the object from `get_config()`."""
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
