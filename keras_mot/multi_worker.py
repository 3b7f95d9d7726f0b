"""Keras 3 `fit` under `tf.distribute.MultiWorkerMirroredStrategy`.

Before its first step, Keras' TensorFlow trainer builds the model symbolically from one batch,
which it averages over the replicas with an eager `strategy.reduce`. The collective all-reduce
of `MultiWorkerMirroredStrategy` cannot reduce a per-replica batch eagerly, so `fit` fails with
"Attempt to convert a value (PerReplica...) to a Tensor" (a known Keras 3 limitation). The build
only needs the batch's shapes and dtypes, which every replica's share has: `symbolic_build_batch`
takes the first local replica's share instead.

Example:
    >>> batch = symbolic_build_batch(strategy, distributed_batch)  # doctest: +SKIP
"""


def is_multi_worker(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` (collective all-reduce).

    Example:
        >>> is_multi_worker(None)
        False
    """
    return type(strategy).__name__.startswith(("MultiWorkerMirroredStrategy", "CollectiveAllReduce"))


def symbolic_build_batch(strategy, batch):
    """The first local replica's share of a distributed `batch` (others are returned as they are).

    Example:
        >>> symbolic_build_batch(None, (1, 2))
        (1, 2)
    """
    import keras

    def local(value):
        if hasattr(value, "values") and type(value).__name__ in ("PerReplica", "Mirrored"):
            return strategy.experimental_local_results(value)[0]
        return value

    return keras.tree.map_structure(local, batch)


def reducible_logs(model, logs):
    """`logs` with each scalar reshaped to `(1,)` when `model` trains under a multi-worker strategy.

    Keras averages a step's logs over the workers with `strategy.reduce("MEAN", value, axis=0)`,
    which needs a batch axis; the mean of the `(1,)` values is the scalar Keras reports.

    Example:
        >>> logs = reducible_logs(model, model.train_step(batch))  # doctest: +SKIP
    """
    import keras

    if not is_multi_worker(getattr(model, "_distribute_strategy", None)):
        return logs
    return keras.tree.map_structure(
        lambda v: keras.ops.reshape(v, (1,)) if len(getattr(v, "shape", (0,))) == 0 else v, logs
    )


def enable(model):
    """Lets a plain (not prepared) Keras `model` run `fit` under `MultiWorkerMirroredStrategy`.

    Prepared models (`mot.quantize`, `mot.prune`, `mot.apply`) need nothing; this patches the
    same two steps on one float model instance. Returns the model.

    Example:
        >>> model = enable(build_model())  # doctest: +SKIP
    """
    import types

    cls = type(model)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is None or data_batch is not None or not is_multi_worker(strategy):
            return cls._maybe_symbolic_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = symbolic_build_batch(strategy, next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def train_step(self, *args, **kwargs):
        return reducible_logs(self, cls.train_step(self, *args, **kwargs))

    def test_step(self, *args, **kwargs):
        return reducible_logs(self, cls.test_step(self, *args, **kwargs))

    for name, fn in (
        ("_maybe_symbolic_build", _maybe_symbolic_build),
        ("train_step", train_step),
        ("test_step", test_step),
    ):
        object.__setattr__(model, name, types.MethodType(fn, model))
    return model
