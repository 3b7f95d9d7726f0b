"""The TensorFlow-backend side of `keras_mot.tf_bridge`: `python -m keras_mot.tf_worker TASK DIR`.

Reads `DIR/model.keras` and `DIR/args.pkl`, runs `lint` or `export` on the loaded model and writes
the result (or the exception it raised) to `DIR/result.pkl`. Started by `tf_bridge` with
`KERAS_BACKEND=tensorflow`; not meant to be run by hand.

Example:
    KERAS_BACKEND=tensorflow python -m keras_mot.tf_worker lint /tmp/keras_mot_lint_xyz
"""

import os
import pickle
import sys


class RecordedReference:
    """Stands in for the user's model as the parity reference: `predict` returns the outputs that
    model computed on the representative examples (in the same order); every other attribute is
    the TensorFlow-backend copy's.

    Example:
        >>> ref = RecordedReference(tf_copy, outputs); ref.predict(x) is outputs
        True
    """

    def __init__(self, model, outputs):
        self._model, self._outputs = model, outputs

    def predict(self, *args, **kwargs):
        """The recorded outputs."""
        return self._outputs

    def __getattr__(self, name):
        return getattr(self._model, name)


def _lint(model, args):
    from keras_mot.lint import lint

    return lint(model, args["target"], batch_size=args["batch_size"], strict=args["strict"])


def _export(model, args):
    from keras_mot.export.api import export

    examples = args.pop("examples", None)
    outputs = args.pop("reference_outputs", None)
    calibration = args.pop("calibration", None)
    directory = args.pop("directory")
    data = None
    if examples is not None:
        inputs, labels = examples
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        data = x if labels is None else (x, labels)
    if calibration is not None:
        calibration = calibration[0] if len(calibration) == 1 else list(calibration)
    reference = None if outputs is None else RecordedReference(model, outputs)
    return export(
        model,
        directory,
        representative_data=data,
        calibration_data=calibration,
        parity_reference=reference,
        **args,
    )


def main(task, work_dir):
    import keras

    from keras_mot.model_file import load_model_file

    with open(os.path.join(work_dir, "args.pkl"), "rb") as f:
        args = pickle.load(f)
    try:
        model = load_model_file(os.path.join(work_dir, "model.keras"))
        outcome = {"lint": _lint, "export": _export}[task](model, args)
    except Exception as e:  # handed back to the caller's process, which raises it
        outcome = e
    assert keras.backend.backend() == "tensorflow", keras.backend.backend()
    with open(os.path.join(work_dir, "result.pkl"), "wb") as f:
        pickle.dump(outcome, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
