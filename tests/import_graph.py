"""The module dependency picture of keras_mot, read from the source's AST (nothing is imported).

Reports import cycles among keras_mot modules (module-level imports only: an import inside a
function runs when it is called, not when the module loads), imports of another module's private
names (`from keras_mot.x import _y`, `x._y` on an imported keras_mot module), target-name string
tests (`.name == "..."`) outside `keras_mot/targets/`, `print(` in library code, and module sizes.

Run it for the picture:

    python -m tests.import_graph            # from the repository root
"""

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "keras_mot"
# Command-line entry points: their job is to print.
CLI_MODULES = (
    "keras_mot.cli",
    "keras_mot.lint.cli",
    "keras_mot.debug.cli",
    "keras_mot.garden.trainer",
    "keras_mot.garden.results",
)


def module_files(root=ROOT, package=PACKAGE):
    """Maps dotted module name -> path for every .py file of the package."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_package(name, modules):
    return modules.get(name) is not None and modules[name].name == "__init__.py"


def _resolve(importer, node, modules):
    """Absolute module name of an `ImportFrom` (handles relative imports)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer, modules):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets_of(importer, node, modules):
    """The keras_mot modules one import statement loads, with the names it takes from each."""
    out = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in modules:
                out.append((alias.name, None))
        return out
    source = _resolve(importer, node, modules)
    if source not in modules:
        return out
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        if sub in modules:
            out.append((sub, None))  # `from pkg import submodule`
        else:
            out.append((source, alias.name))  # `from module import name`
    return out


def _module_level(tree, lazy=False):
    """Statements that run when the module loads (descends into if/try/with; into defs if `lazy`)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not lazy:
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            stack.extend(getattr(node, field, []) or [])


def import_graph(modules=None, lazy=False):
    """Import edges {importer: {imported keras_mot module, ...}}.

    Module-level imports only, unless `lazy`: then imports inside functions count too (a cycle
    through them does not fail at load time, but the two modules still depend on each other).
    """
    modules = modules or module_files()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        edges = set()
        for node in _module_level(tree, lazy):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(t for t, _ in _targets_of(name, node, modules) if t != name)
        graph[name] = edges
    return graph


def cycles(graph=None):
    """Strongly connected components with more than one module (each an import cycle), sorted."""
    graph = graph if graph is not None else import_graph()
    index, low, on_stack, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def private_imports(modules=None):
    """`(importer, "module._name")` for each private name read from another keras_mot module."""
    modules = modules or module_files()
    found = set()
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        module_aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        module_aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                for target, taken in _targets_of(name, node, modules):
                    short = target.rsplit(".", 1)[-1]
                    if taken is None:
                        module_aliases[next(a.asname or a.name for a in node.names if a.name == short)] = (
                            target
                        )
                        if short.startswith("_") and target != name:
                            found.add((name, target))
                    elif taken.startswith("_") and not taken.startswith("__") and target != name:
                        found.add((name, f"{target}.{taken}"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                dotted = ast.unparse(node.value)
                target = module_aliases.get(dotted) or (dotted if dotted in modules else None)
                if target and target != name:
                    found.add((name, f"{target}.{node.attr}"))
    return sorted(found)


def _is_target_name(node):
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "name"
        and "target" in ast.unparse(node.value).lower()
    )


def target_name_tests(modules=None):
    """`(module, line)` where code outside keras_mot.targets branches on a target's name.

    Flags comparisons (`==`, `!=`, `in`) with a `target.name` and lookups keyed by it
    (`table[target.name]`, `table.get(target.name)`): behaviour chosen per target name belongs on
    the `Target` record. Naming a target (`targets.get("tflite_int8")`) is fine.
    """
    modules = modules or module_files()
    found = set()
    for name, path in modules.items():
        if name == f"{PACKAGE}.targets" or name.startswith(f"{PACKAGE}.targets."):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Compare):
                hit = any(_is_target_name(o) for o in [node.left, *node.comparators])
            elif isinstance(node, ast.Subscript):
                hit = _is_target_name(node.slice)
            elif isinstance(node, ast.Call):
                hit = (
                    isinstance(node.func, ast.Attribute)
                    and node.func.attr == "get"
                    and any(_is_target_name(a) for a in node.args)
                )
            else:
                hit = False
            if hit:
                found.add((name, node.lineno))
    return sorted(found)


def prints(modules=None, allowed=CLI_MODULES):
    """`(module, line)` of each `print(` call in library code (CLI modules are allowed)."""
    modules = modules or module_files()
    found = []
    for name, path in modules.items():
        if name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.append((name, node.lineno))
    return sorted(found)


def module_sizes(modules=None):
    """{module: line count}."""
    modules = modules or module_files()
    return {name: len(path.read_text().splitlines()) for name, path in modules.items()}


def main():
    modules = module_files()
    graph = import_graph(modules)
    print(f"{len(modules)} modules, {sum(map(len, graph.values()))} module-level import edges")
    for label, found in (
        ("import cycles (module level)", cycles(graph)),
        ("import cycles (counting imports inside functions)", cycles(import_graph(modules, lazy=True))),
    ):
        print(f"{label}: {len(found)}")
        for comp in found:
            print("  " + " <-> ".join(comp))
    private = private_imports(modules)
    print(f"private names read from another module: {len(private)}")
    for importer, name in private:
        print(f"  {importer} reads {name}")
    names = target_name_tests(modules)
    print(f"target-name tests outside keras_mot.targets: {len(names)}")
    for module, line in names:
        print(f"  {module}:{line}")
    printed = prints(modules)
    print(f"print( in library code: {len(printed)}")
    for module, line in printed:
        print(f"  {module}:{line}")
    big = {m: n for m, n in module_sizes(modules).items() if n > 450}
    print(f"modules over 450 lines: {big or 0}")


if __name__ == "__main__":
    main()
