"""`keras-mot lint MODEL.keras --target T [--json] [--strict]` (wired into keras_mot/cli.py).

Exit status: 0 when the model has no error finding, 1 when it has (with `--strict`, warnings
count as errors too), 2 when the model cannot be loaded.
"""

import sys


def add_parser(subparsers):
    """Adds the `lint` sub-command to an `argparse` sub-parsers object and returns its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="keras-mot")
        >>> add_parser(parser.add_subparsers(dest="command"))
    """
    parser = subparsers.add_parser(
        "lint",
        help="check a saved .keras model against a deployment target",
        description="Predict, without converting, whether a model converts for a target and "
        "which layers need Select TF ops, stay float, or fail.",
    )
    parser.add_argument("model", help="path to a .keras file")
    parser.add_argument(
        "--target",
        "-t",
        default="tflite",
        help="deployment target (default: tflite); see keras_mot.targets.names()",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="trace with a fixed batch size (default: dynamic)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args, out=None):
    """Runs the lint for parsed `args`; prints the report; returns the exit status."""
    out = out or sys.stdout
    from keras_mot.errors import KerasMotError
    from keras_mot.lint.core import lint
    from keras_mot.model_file import load_model_file

    try:
        model = load_model_file(args.model)
        report = lint(model, args.target, batch_size=args.batch_size)
    except KerasMotError as error:
        print(f"keras-mot lint: {error}", file=sys.stderr)
        return 2
    print(report.to_json(indent=2) if args.json else report.format_table(), file=out)
    failing = report.errors + (report.warnings if args.strict else ())
    return 1 if failing else 0
