"""The `keras-mot` command: `train`, `lint` and `export` sub-commands.

    keras-mot train CONFIG.yaml [--set key=value ...] [--out DIR] [--fresh]
    keras-mot lint MODEL.keras --target T [--json] [--strict]
    keras-mot export MODEL.keras OUT/ --target T [--data DATA.npz] [--input-type int8]
    keras-mot debug MODEL.keras --data DATA.npz --target T [--tflite M.tflite] [--suggest 0.005]

Exit status: 0 on success, 1 when a check failed (lint errors, export not ok), 2 on bad input.
"""

import argparse
import os
import sys


def _add_train(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train, optimize and export a Model Garden experiment config",
        description="Float training, then QAT and/or pruning per the config, lint at compile, "
        "export with verification, and a results table. Everything goes under --out.",
    )
    p.add_argument(
        "config", help="Model Garden experiment YAML (e.g. model_garden_configs/mobilenetv2_qat_cpu.yaml)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value by dotted path, e.g. trainer.train_steps=5 (repeatable)",
    )
    p.add_argument("--out", default=None, help="output directory (default: runs/<config name>)")
    p.add_argument(
        "--lint", default="table", choices=("table", "off", "strict"), help="lint at compile (default: table)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars (the table is printed)")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="discard a previous run in --out instead of resuming it (re-running the "
        "same command resumes from the last checkpoint)",
    )
    p.set_defaults(func=_run_train)


def _run_train(args):
    from keras_mot.garden.trainer import train

    result = train(
        args.config,
        out=args.out,
        overrides=args.overrides,
        verbose=2 if args.quiet else 1,
        lint=args.lint,
        fresh=args.fresh,
    )
    print(f"outputs: {result.out}")
    return 0 if result.ok else 1


def _add_export(subparsers):
    p = subparsers.add_parser(
        "export",
        help="convert a saved .keras model, verify it and write a report",
        description="mot.export from the command line: SavedModel + .tflite for a target, "
        "parity against the Keras model on --data, report.json / report.md.",
    )
    p.add_argument("model", help="path to a .keras file")
    p.add_argument("out", help="output directory (replaced atomically)")
    p.add_argument(
        "--target", "-t", default=None, help="deployment target (default: the model's own, else tflite)"
    )
    p.add_argument(
        "--data",
        default=None,
        help=".npz with arrays 'x' (and optionally 'y') or a .npy of inputs: "
        "representative data for calibration and the parity check",
    )
    p.add_argument("--max-examples", type=int, default=512, help="examples used for parity")
    p.add_argument("--input-type", default="float32", help="TFLite input dtype (integer targets)")
    p.add_argument("--output-type", default="float32", help="TFLite output dtype")
    p.add_argument(
        "--formats", default="saved_model,tflite", help="comma-separated subset of saved_model,tflite"
    )
    p.add_argument("--json", action="store_true", help="print report.json instead of a summary")
    p.set_defaults(func=_run_export)


def _run_export(args):
    import json

    import keras_mot as mot
    from keras_mot.data_files import load_arrays
    from keras_mot.model_file import load_model_file

    try:
        model = load_model_file(args.model)
    except mot.KerasMotError as error:
        print(f"keras-mot export: {error}", file=sys.stderr)
        return 2
    try:
        data = load_arrays(args.data)
    except (OSError, ValueError, TypeError) as error:
        print(f"keras-mot export: cannot load input: {error}", file=sys.stderr)
        return 2
    try:
        result = mot.export(
            model,
            args.out,
            target=args.target,
            representative_data=data,
            formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
            input_type=args.input_type,
            output_type=args.output_type,
            max_examples=args.max_examples,
        )
    except mot.ExportError as error:
        print(f"keras-mot export: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.report, indent=2) if args.json else result.summary())
    for finding in result.findings:
        if finding.severity != "info":
            print(f"  {finding.severity}: {finding.layer or '-'}: {finding.message}")
    return 0 if result.ok else 1


def build_parser():
    """The `argparse` parser of `keras-mot` (sub-commands train, lint, export).

    Example:
        >>> build_parser().parse_args(["export", "m.keras", "out/", "--target", "tflite_int8"])
    """
    from keras_mot.debug import cli as debug_cli
    from keras_mot.lint import cli as lint_cli

    parser = argparse.ArgumentParser(
        prog="keras-mot",
        description="Keras 3 model optimization: train (QAT / pruning), "
        "lint for a deployment target, export with verification.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="{train,lint,export,debug}")
    _add_train(subparsers)
    lint_cli.add_parser(subparsers)
    _add_export(subparsers)
    debug_cli.add_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of the `keras-mot` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from keras_mot.errors import KerasMotError

    try:
        return args.func(args)
    except KerasMotError as error:
        print(f"keras-mot {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
