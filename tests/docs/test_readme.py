"""The README's generated tables and fresh-machine commands stay true."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "docs"))
import gen_tables  # noqa: E402

sys.path.remove(os.path.join(ROOT, "docs"))

TEST_COMMAND = (
    'pip install -q -e ".[test]" && python -m pytest -q -p no:cacheprovider -n auto --dist worksteal'
)
MAIN_COMMAND = (
    "pip install -e . && keras-mot train model_garden_configs/mobilenetv2_qat_cpu.yaml "
    "--out runs/mobilenetv2_qat_cpu"
)


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_readme_tables_are_the_generated_ones():
    # A fresh process: other tests in this worker may have registered their own adapters/targets.
    printed = subprocess.run(
        [sys.executable, os.path.join(ROOT, "docs", "gen_tables.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    generated = gen_tables.readme_tables(printed)
    in_readme = gen_tables.readme_tables(_read("README.md"))
    assert set(generated) == {"layers", "targets"}
    assert set(in_readme) == set(generated), "README lost a generated-table marker"
    for name in generated:
        assert in_readme[name] == generated[name], (
            f"README's {name} table is stale: run `python docs/gen_tables.py --write`"
        )
    in_targets_page = gen_tables.readme_tables(_read("docs", "targets.md"))
    assert in_targets_page == {"targets": generated["targets"]}, (
        "docs/targets.md's table is stale: run `python docs/gen_tables.py --write`"
    )


def test_generated_tables_cover_the_registries():
    names = {r[0] for r in gen_tables.targets_rows()}
    assert {"tflite", "tflite_int8", "tflite_sparse_fc", "xnnpack_sparse"} <= names
    layers = {r[0] for r in gen_tables.layers_rows()}
    assert {"keras.layers.Conv2D", "keras.layers.Dense", "keras.layers.Add"} <= layers


def test_fresh_machine_commands_are_verbatim_in_readme_and_ci():
    readme = _read("README.md")
    assert f"    {MAIN_COMMAND}\n" in readme
    assert f"    {TEST_COMMAND}\n" in readme
    ci = _read(".ci", "run").splitlines()
    assert TEST_COMMAND in ci, ".ci/run must run the README's test command verbatim"
    docs = 'pip install -q -e ".[docs]" && mkdocs build --strict -d /tmp/keras_mot_site'
    assert docs in ci and docs in readme, "the docs build runs in CI and is written in the README"
    assert ci[-1] == TEST_COMMAND, ".ci/run ends with the README's test command"
