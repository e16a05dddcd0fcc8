"""The layers of docs/architecture.md, read from the code's own import statements (function-level ones
included): the engine never imports Streamlit or the app; `ui.figures` and the pool's modules never import
Streamlit, not even through another module; the session state is touched only by `ui.session.store`; every
Streamlit cache and pool job is in `ui.compute`; and no module or package imports itself back through others."""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in [*sorted((REPO / "latentcore").rglob("*.py")),
                                        *sorted((REPO / "ui").rglob("*.py")), *SCRIPTS]}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


@cache
def imports(path: Path) -> frozenset[str]:
    """Every module an import statement of `path` names, anywhere in the file, relative imports resolved;
    `from package import name` counts the submodule `package.name` when there is one, else the package."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                base = ".".join(parent[:len(parent) - node.level + 1] + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules if len(submodules) == len(node.names) else {base, *submodules})
    return frozenset(found)


def own_imports(name: str) -> set[str]:
    return {m for m in imports(MODULES[name]) if m in MODULES and m != name}


def reach(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for other in own_imports(todo.pop()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_the_engine_imports_neither_streamlit_nor_the_app():
    app = {"streamlit", "ui", "pages", "app"}
    offenders = {name: sorted(m for m in imports(path) if m.split(".")[0] in app)
                 for name, path in MODULES.items() if name.startswith("latentcore")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_nothing_imports_the_gpl_references():
    """kikuchipy and orix (GPL-3.0) are the tests' references only: the engine and the app write their own maths."""
    gpl = {"kikuchipy", "orix", "diffpy"}
    offenders = {name: sorted(m for m in imports(path) if m.split(".")[0] in gpl) for name, path in MODULES.items()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_nothing_imports_a_page():
    assert [name for name in MODULES if any(m == "app" or m.startswith("pages") for m in own_imports(name))] == []


def test_figures_and_the_pools_modules_never_import_streamlit():
    quiet = [m for m in MODULES if m.startswith("ui.figures")] + ["ui.compute.jobs", "ui.compute.tasks",
                                                                   "ui.kept", "ui.compute", "ui"]
    for name in quiet:
        for module in {name, *reach(name)}:
            assert not any(m.split(".")[0] == "streamlit" for m in imports(MODULES[module])), (name, module)


def test_no_module_imports_itself_back():
    loops = {name: sorted(reach(name)) for name in MODULES if name in reach(name)}
    assert loops == {}


def package(name: str) -> str:
    """`latentcore.analysis.rank` -> `latentcore.analysis`, `ui.compute.jobs` -> `ui.compute`, `pages.umap` ->
    `pages`; a module of the two packages' top level is its own package."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] in ("latentcore", "ui") else parts[0]


def test_no_package_imports_itself_back():
    edges = {}
    for name in MODULES:
        edges.setdefault(package(name), set()).update(package(m) for m in own_imports(name))
    both_ways = sorted((a, b) for a in edges for b in edges[a] if a < b and a in edges.get(b, ()))
    assert both_ways == []


# The layers, lowest first (docs/architecture.md): a module imports only from its own layer or below.
LAYERS = [
    ("latentcore.errors", "latentcore.versions", "latentcore.sampling", "latentcore.arrays", "latentcore.storage",
     "latentcore.columns", "latentcore.parameters", "latentcore.machine_rates"),
    ("latentcore.data",),
    ("latentcore.models",),
    ("latentcore.latents", "latentcore.outputs", "latentcore.domain", "latentcore.study"),
    ("latentcore.extract", "latentcore.batch", "latentcore.export", "latentcore.demo"),
    ("latentcore.figures",),
    ("latentcore.analysis",),
    ("latentcore.train",),
    ("latentcore", "latentcore.__main__", "latentcore.cli"),
    ("ui.kept", "ui.figures", "ui.session"),
    ("ui.compute",),
    ("ui.widgets",),
    ("ui", "app", "pages"),
]


def test_every_module_imports_only_from_its_own_layer_or_below():
    layer = {pkg: i for i, pkgs in enumerate(LAYERS) for pkg in pkgs}
    assert sorted({package(name) for name in MODULES} - layer.keys()) == [], "a package missing from LAYERS"
    upward = [f"{name} -> {m}" for name in MODULES for m in own_imports(name)
              if layer[package(m)] > layer[package(name)]]
    assert upward == []


def uses_session_state(path: Path) -> list[int]:
    return [node.lineno for node in ast.walk(tree(path))
            if isinstance(node, ast.Attribute) and node.attr == "session_state"]


def test_the_session_state_is_touched_only_by_the_sessions_store():
    outside = {str(path.relative_to(REPO)): lines for name, path in MODULES.items()
               if name != "ui.session.store" and (lines := uses_session_state(path))}
    assert outside == {}


def test_every_streamlit_cache_and_pool_job_is_in_ui_compute():
    for name, path in MODULES.items():
        if name.startswith("ui.compute."):
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("cache_data", "cache_resource", "app_pool", "inline_job", "run_inline"), (
                    f"{path.relative_to(REPO)}:{node.lineno} {node.attr}")
        assert "ui.compute.tasks" not in imports(path), path  # tasks reach the pool through ui.compute


def test_ui_compute_draws_nothing():
    """Compute caches and computes: Streamlit in ui.compute is its caches alone; what a page shows while a job
    runs is drawn by ui.widgets.waiting."""
    drawn = [f"{path.relative_to(REPO)}:{node.lineno} st.{node.attr}" for name, path in MODULES.items()
             if name.startswith("ui.compute") for node in ast.walk(tree(path))
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "st"
             and node.attr not in ("cache_data", "cache_resource")]
    assert drawn == []


def first_statement(path: Path) -> str:
    """The first statement of a script after its docstring and imports, as source."""
    body = [node for node in tree(path).body if not isinstance(node, (ast.Import, ast.ImportFrom))
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    return ast.unparse(body[0])


def test_every_page_first_goes_through_the_apps_door():
    """Opened first at its own URL, a page runs without app.py: its first call sends it back there."""
    pages = sorted((REPO / "pages").glob("*.py"))
    assert pages and {path.name: first_statement(path) for path in pages} == {
        path.name: "access.require_app()" for path in pages}


def test_no_test_module_imports_another_or_a_conftest():
    """Tests share code through fixtures (conftest.py) and plain modules (tests/app/driving.py, tests/browser/steps.py,
    tests/streamlit_server.py, ...), never by importing a test module or a conftest."""
    test_modules = {path.stem for path in (REPO / "tests").rglob("test_*.py")} | {"conftest"}
    offending = {}
    for path in sorted((REPO / "tests").rglob("*.py")):
        named = {alias.name for node in ast.walk(tree(path)) if isinstance(node, ast.Import) for alias in node.names}
        named |= {node.module for node in ast.walk(tree(path)) if isinstance(node, ast.ImportFrom) and node.module}
        if named & test_modules:
            offending[str(path.relative_to(REPO))] = sorted(named & test_modules)
    assert not offending, offending


def test_every_page_and_app_py_import_the_starting_line_before_the_apps_other_modules():
    """A server's first run says it is starting from the first paint (ui/widgets/starting.py): the module's import
    draws it, so it comes before every other import of the app's and the engine's."""
    own = ("ui", "latentcore")
    for path in [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]:
        imported = [alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
                    for node in tree(path).body if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names]
        first = next(name for name in imported if name.split(".")[0] in own)
        assert first == "ui.widgets.starting", (path.name, first)
