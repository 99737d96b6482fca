"""The shape of vrft_lib: layers, one direction for imports, no circle, small modules, no private
name used across modules, package faces that only re-export. The layers are read from the floors
table of docs/architecture.md, so the page and the test cannot disagree."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vrft_lib"
MAX_LINES = 600

DOCS = PACKAGE.parent / "docs" / "architecture.md"


def _read_layers() -> dict[int, list[str]]:
    """Each module's floor, read from the floors table of docs/architecture.md (the one place they are
    written): ``x.py`` is module ``x``, ``pkg/`` the package and all its modules, ``pkg/m.py`` one module,
    ``pkg/__init__.py`` the package face alone."""
    layers = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if not m:
            continue
        names = []
        for path in re.findall(r"`([^`]+)`", m.group(2)):
            if path.endswith("/"):
                names += [path[:-1], path[:-1] + ".*"]
            elif path.endswith("/__init__.py"):
                names.append(path[: -len("/__init__.py")])
            else:
                names.append(path.removesuffix(".py").replace("/", "."))
        layers[int(m.group(1))] = names
    return layers


# Each module's floor; a module imports only from its own floor or below. A new module gets a row in
# the floors table of docs/architecture.md.
LAYERS = _read_layers()
# Packages that a function may import for itself, to keep them out of a light command's start-up.
HEAVY = {
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "vllm",
    "deepspeed",
    "datasets",
    "tokenizers",
    "papermill",
    "nbconvert",
    "nbformat",
    "nbclient",
    "jupyter_client",
    "submitit",
    "huggingface_hub",
    "pyarrow",
    "plotly",
    "PIL",
    "numpy",
    "pandas",
    "IPython",
}


def _modules():
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        out[name] = (path, is_pkg)
    return out


MODULES = _modules()


def _layer(name: str) -> int:
    for floor, names in LAYERS.items():
        for pattern in names:
            if name == pattern or (pattern.endswith(".*") and name.startswith(pattern[:-1])):
                return floor
    raise AssertionError(f"vrft_lib.{name} has no layer: add it to the floors table of docs/architecture.md")


def _imports(name: str):
    """``(target module, imported name or None, lineno, function-local?)`` for each vrft_lib import."""
    path, is_pkg = MODULES[name]
    tree = ast.parse(path.read_text())
    local = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
        if isinstance(n, (ast.Import, ast.ImportFrom))
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([p for p in base if p] + ([node.module] if node.module else []))
            elif (node.module or "").startswith("vrft_lib"):
                target = node.module[len("vrft_lib") :].lstrip(".")
            else:
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}" if target else alias.name
                if full in MODULES:
                    yield full, None, node.lineno, id(node) in local
                else:
                    yield target, alias.name, node.lineno, id(node) in local
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("vrft_lib."):
                    yield alias.name[len("vrft_lib.") :], None, node.lineno, id(node) in local


def test_every_module_has_a_layer_and_imports_only_its_floor_or_below():
    wrong = []
    for name in MODULES:
        if name == "":
            continue
        for target, _, line, _ in _imports(name):
            if target and target != name and _layer(target) > _layer(name):
                wrong.append(
                    f"vrft_lib.{name}:{line} (floor {_layer(name)}) imports vrft_lib.{target} (floor {_layer(target)})"
                )
    assert not wrong, "imports that go up:\n" + "\n".join(wrong)


def test_no_import_circle():
    graph = {name: {t for t, _, _, _ in _imports(name) if t and t != name and t in MODULES} for name in MODULES}
    # a submodule importing its own package face is not a circle
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state, circles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "import circles:\n" + "\n".join(circles)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    lines = MODULES[name][0].read_text().count("\n")
    assert lines <= MAX_LINES, f"vrft_lib.{name} has {lines} lines: split it by responsibility"


def test_no_private_name_crosses_modules():
    crossing = []
    for name in MODULES:
        path = MODULES[name][0]
        for target, attr, line, _ in _imports(name):
            if attr and attr.startswith("_") and not attr.startswith("__") and target != name:
                crossing.append(f"vrft_lib.{name}:{line} imports {attr} from vrft_lib.{target}")
        tree = ast.parse(path.read_text())
        aliases = {
            a.asname or a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.level
            for a in n.names
            if (n.module is None or n.module) and not a.name.startswith("_")
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                crossing.append(f"vrft_lib.{name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not crossing, "private names used across modules:\n" + "\n".join(crossing)


def test_function_local_imports_are_heavy_packages_or_the_cli_dispatch():
    found = []
    for name, (path, _) in MODULES.items():
        tree = ast.parse(path.read_text())
        for f in ast.walk(tree):
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(f):
                if isinstance(node, ast.Import):
                    roots = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    roots = ["vrft_lib" if node.level else (node.module or "").split(".")[0]]
                else:
                    continue
                for root in roots:
                    if root == "vrft_lib" and name == "cli":
                        continue  # each sub-command imports what it needs (see the comment in cli.py)
                    if root not in HEAVY:
                        found.append(
                            f"vrft_lib/{path.relative_to(PACKAGE)}:{node.lineno} imports {root} "
                            "inside a function: import it at the top"
                        )
    assert not found, "\n".join(found)


def test_package_faces_only_reexport():
    """A package's ``__init__.py`` imports and lists names (``__all__``, ``__version__``); it defines
    nothing, so that whoever looks for a function finds it in the module named after its job."""
    found = []
    for path, is_pkg in MODULES.values():
        if not is_pkg:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the docstring
            targets = node.targets if isinstance(node, ast.Assign) else []
            if targets and all(isinstance(t, ast.Name) and t.id in ("__all__", "__version__") for t in targets):
                continue
            found.append(f"vrft_lib/{path.relative_to(PACKAGE)}:{node.lineno} defines {type(node).__name__}")
    assert not found, "package faces that hold logic:\n" + "\n".join(found)


def test_the_floors_table_names_every_floor_and_no_missing_module():
    assert sorted(LAYERS) == list(range(11)), LAYERS
    for names in LAYERS.values():
        for name in names:
            assert name.endswith(".*") or name in MODULES, (
                f"docs/architecture.md names vrft_lib.{name}, which does not exist"
            )


def test_no_module_of_the_report_imports_the_study_package():
    found = [
        f"vrft_lib.{name}:{line} imports vrft_lib.{target}"
        for name in MODULES
        if name == "report" or name.startswith("report.")
        for target, _, line, _ in _imports(name)
        if target == "study" or target.startswith("study.")
    ]
    assert not found, "\n".join(found)
