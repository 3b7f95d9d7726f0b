"""`keras-mot debug MODEL.keras --data DATA.npz --target T [--tflite M.tflite] [--suggest 0.005]`
(wired into keras_mot/cli.py).

Prints the per-layer report (markdown); `--out DIR` also writes `debug.json`, `debug.md`,
`debug.png` and Model Explorer node data; `--suggest` prints the recipe (YAML) that keeps the
fewest layers float within the budget. Exit status 0, or 2 on bad input.
"""

import os
import sys


def add_parser(subparsers):
    """Adds the `debug` sub-command to an `argparse` sub-parsers object and returns its parser.

    Example:
        >>> add_parser(argparse.ArgumentParser().add_subparsers(dest="command"))
    """
    p = subparsers.add_parser(
        "debug",
        help="per-layer quantization error of a saved .keras model",
        description="mot.debug from the command line: which Keras layer loses accuracy to "
        "quantization, and (with --suggest) which to keep float.",
    )
    p.add_argument("model", help="path to a .keras file (float or prepared)")
    p.add_argument("--data", required=True, help=".npz with 'x' (and optionally 'y') or .npy")
    p.add_argument("--target", "-t", default="tflite_int8", help="integer target")
    p.add_argument("--tflite", default=None, help="compare this converted model's tensors")
    p.add_argument(
        "--suggest",
        type=float,
        default=None,
        metavar="DROP",
        help="print a recipe keeping the fewest layers float for this accuracy drop",
    )
    p.add_argument("--max-examples", type=int, default=512)
    p.add_argument("--top", type=int, default=20, help="rows printed")
    p.add_argument("--out", default=None, help="directory for debug.json/.md/.png + node data")
    p.set_defaults(func=run)
    return p


def run(args, out=None):
    """Runs the debugger for parsed `args`; returns the exit status."""
    out = out or sys.stdout
    from keras_mot.data_files import load_arrays
    from keras_mot.debug.api import debug
    from keras_mot.debug.views import plot_report, write_node_data
    from keras_mot.errors import KerasMotError
    from keras_mot.model_file import load_model_file

    try:
        model = load_model_file(args.model)
        data = load_arrays(args.data)
    except (KerasMotError, OSError, ValueError, TypeError) as error:
        print(f"keras-mot debug: {error}", file=sys.stderr)
        return 2
    x, y = data if isinstance(data, tuple) else (data, None)
    report = debug(model, x, target=args.target, labels=y, tflite=args.tflite, max_examples=args.max_examples)
    out.write(report.to_markdown(top=args.top))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        report.to_json(os.path.join(args.out, "debug.json"))
        with open(os.path.join(args.out, "debug.md"), "w") as f:
            f.write(report.to_markdown())
        note = plot_report(report, os.path.join(args.out, "debug.png"))
        if note:
            out.write(note + "\n")
        write_node_data(report, os.path.join(args.out, "debug_node_data.json"))
    if args.suggest is not None:
        recipe = report.suggest(max_accuracy_drop=args.suggest, labels=y)
        out.write("\n# Suggested recipe\n" + recipe.to_yaml())
    return 0
