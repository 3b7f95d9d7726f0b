"""The house rules that keep keras_mot's modules easy to live in, checked from the source's AST.

`python -m tests.import_graph` prints the same picture.
"""

import ast
import importlib
import re

import pytest

from tests import import_graph as g

MAX_LINES = 450

MODULES = g.module_files()


def test_the_measure_sees_the_whole_package():
    assert "keras_mot.targets.registry" in MODULES and len(MODULES) > 80
    graph = g.import_graph(MODULES)
    assert "keras_mot.targets.target" in graph["keras_mot.targets.registry"]


def test_no_import_cycles_among_modules():
    found = g.cycles(g.import_graph(MODULES))
    assert not found, "import cycles (module level): " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_cycles_even_through_imports_inside_functions():
    found = g.cycles(g.import_graph(MODULES, lazy=True))
    assert not found, "import cycles through lazy imports: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_a_cycle():
    assert g.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_reads_another_modules_private_names():
    found = set(g.private_imports(MODULES))
    assert not found, "private names read across modules: " + ", ".join(
        f"{importer} reads {name}" for importer, name in sorted(found)
    )


def test_no_target_name_tests_outside_targets():
    found = g.target_name_tests(MODULES)
    assert not found, (
        "behaviour chosen by a target's name belongs on the Target record "
        f"(lint_checks, export_checks, sparsity, ...): {found}"
    )


def test_the_target_name_detector_sees_the_forms_it_forbids(tmp_path):
    package = tmp_path / "keras_mot"
    (package / "targets").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "targets" / "__init__.py").write_text("ok = target.name == 'x'\n")
    (package / "bad.py").write_text(
        "a = target.name == 'xnnpack_sparse'\n"
        "b = CHECKS[self.target.name]\n"
        "c = table.get(target.name)\n"
        "d = layer.name == 'conv'\n"
    )
    found = g.target_name_tests(g.module_files(tmp_path))
    assert found == [("keras_mot.bad", 1), ("keras_mot.bad", 2), ("keras_mot.bad", 3)]


def test_no_module_over_the_size_limit():
    big = {m: n for m, n in g.module_sizes(MODULES).items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them by concept): {big}"


def test_library_code_logs_instead_of_printing():
    found = g.prints(MODULES)
    assert not found, f"print( in library code (use logging; CLIs may print): {found}"


_REFERENCE = re.compile(r"\b((?:keras_mot|mot)(?:\.[A-Za-z_]\w*)+)")


def _resolves(dotted):
    parts = dotted.split(".")
    parts[0] = "keras_mot"
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("keras_mot.garden")))
def test_every_keras_mot_path_named_in_a_message_or_docstring_exists(module):
    # (keras_mot.garden's "keras_mot.<key>" strings name sections of its YAML configs.)
    missing = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            missing.update(
                ref
                for ref in map(lambda r: r.rstrip("."), _REFERENCE.findall(node.value))
                if not _resolves(ref)
            )
    assert not missing, f"{module} names paths that do not exist: {sorted(missing)}"


def test_findings_live_in_a_neutral_module():
    import keras_mot as mot
    from keras_mot import findings
    from keras_mot.lint import finding as compat

    graph = g.import_graph(MODULES, lazy=True)
    assert graph["keras_mot.findings"] == set()
    assert mot.Finding is findings.Finding is compat.Finding
    assert mot.LintReport is findings.LintReport is compat.LintReport
    users = [m for m, edges in graph.items() if "keras_mot.lint.finding" in edges]
    assert users == [], f"import Finding from keras_mot.findings: {users}"


def test_the_extension_api_is_public():
    import keras_mot as mot
    from keras_mot.layers.base import LayerAdapter, WeightRef, register_adapter
    from keras_mot.targets import Target

    assert (mot.register_adapter, mot.LayerAdapter, mot.WeightRef, mot.Target) == (
        register_adapter,
        LayerAdapter,
        WeightRef,
        Target,
    )
    assert callable(mot.targets.register) and mot.LayerKind.DENSE == "dense"
    assert {"register_adapter", "LayerAdapter", "WeightRef", "LayerKind", "Target"} <= set(mot.__all__)
