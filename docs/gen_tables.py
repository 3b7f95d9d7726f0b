"""Prints the README's supported-layers and targets tables, generated from keras_mot's registries.

The tables in README.md sit between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`
markers; `tests/docs/test_readme_tables.py` fails when they differ from what this script prints.

Usage:
    python docs/gen_tables.py            # print both tables as markdown
    python docs/gen_tables.py --write    # rewrite the tables inside README.md in place
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
FILES = (README, os.path.join(ROOT, "docs", "targets.md"))
if ROOT not in sys.path:  # run as a script: import this checkout's keras_mot
    sys.path.insert(0, ROOT)


def _public_name(cls):
    """`keras.layers.Conv2D` for Keras' own layers, `module.Class` for anything else."""
    import keras

    if cls.__module__.startswith("keras.") and getattr(keras.layers, cls.__name__, None) is cls:
        return f"keras.layers.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


def layers_rows():
    """`(layer, family, TFLite ops)` for every layer type with a registered adapter."""
    import keras_mot.layers  # noqa: F401  (registers the built-in adapters)
    from keras_mot.layers.base import registered_adapters

    rows = []
    for cls, adapter in registered_adapters().items():
        ops = ", ".join(adapter.tflite_ops) or "per activation (fused into the producer if TFLite can)"
        rows.append((_public_name(cls), adapter.kind, ops))
    return sorted(rows, key=lambda r: (r[1], r[0]))


def layers_table():
    """The supported-layers table as markdown."""
    lines = ["| Keras layer | family | TFLite ops |", "|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {ops} |" for name, kind, ops in layers_rows()]
    return "\n".join(lines)


def _sparsity(target):
    if not target.sparsity:
        return "-"
    by_pattern = {}
    for kind, rule in target.sparsity.items():
        pattern = repr(getattr(rule, "pattern", rule))
        spatial = getattr(rule, "spatial", None)
        if spatial:
            pattern += " (kernel " + "x".join(map(str, spatial)) + " only)"
        by_pattern.setdefault(pattern, []).append(kind)
    return "; ".join(f"{pattern} on {', '.join(kinds)}" for pattern, kinds in by_pattern.items())


def targets_rows():
    """`(name, numerics, scheme, sparsity, description)` for every registered target."""
    from keras_mot import targets

    rows = []
    for name in sorted(targets.names()):
        t = targets.get(name)
        rows.append((name, t.kind, t.scheme or "-", _sparsity(t), t.description))
    return rows


def targets_table():
    """The targets table as markdown."""
    lines = [
        "| target | numerics | default scheme | sparsity pattern | description |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{n}` | {k} | {s} | {p} | {d.replace('|', '/')} |" for n, k, s, p, d in targets_rows()]
    return "\n".join(lines)


TABLES = {"layers": layers_table, "targets": targets_table}
_BLOCK = re.compile(r"(<!-- generated:(\w+) -->\n)(.*?\n)?(<!-- /generated:\2 -->)", re.S)


def readme_tables(text):
    """`{name: table text}` of the generated blocks found in `text`."""
    return {m.group(2): (m.group(3) or "").rstrip("\n") for m in _BLOCK.finditer(text)}


def rewrite(text):
    """`text` with every generated block replaced by the freshly generated table."""
    return _BLOCK.sub(lambda m: m.group(1) + TABLES[m.group(2)]() + "\n" + m.group(4), text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args(argv)
    if args.write:
        for path in FILES:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            with open(path, "w", encoding="utf-8") as f:
                f.write(rewrite(text))
        return 0
    for name, fn in TABLES.items():
        print(f"<!-- generated:{name} -->\n{fn()}\n<!-- /generated:{name} -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
