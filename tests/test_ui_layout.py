"""The rule `ui/__init__.py` states, checked on the source (ast): the session state is touched only
in `ui.session`; every Streamlit cache and every pool job is in `ui.compute.front`; `ui.figures` and
the pool's own modules never import Streamlit (not even through another ui module); no import cycle."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UI = REPO / "ui"
SCRIPTS = [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(UI.rglob("*.py"))}


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def imports(path: Path) -> set[str]:
    """Every module an ast of `path` imports (anywhere in the file), relative imports resolved."""
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
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


def ui_imports(path: Path) -> set[str]:
    return {m for m in imports(path) if m in MODULES and m != module_name(path)}


def reach(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for other in ui_imports(MODULES[todo.pop()]):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def uses_session_state(path: Path) -> list[int]:
    return [node.lineno for node in ast.walk(tree(path))
            if isinstance(node, ast.Attribute) and node.attr == "session_state"]


def test_the_session_state_is_touched_only_in_ui_session():
    outside = {str(p.relative_to(REPO)): lines for p in [*MODULES.values(), *SCRIPTS]
               if not module_name(p).startswith("ui.session") and (lines := uses_session_state(p))}
    assert not outside


def test_every_streamlit_cache_and_pool_job_is_in_the_front_door():
    front = MODULES["ui.compute.front"]
    for path in [*MODULES.values(), *SCRIPTS]:
        if path == front:
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("cache_data", "cache_resource", "app_pool", "inline_job", "run_inline"), (
                    f"{path.relative_to(REPO)}:{node.lineno} {node.attr}")
        if module_name(path) != "ui.compute.jobs":
            assert "ui.compute.tasks" not in imports(path), path  # tasks reach the pool through front


def test_figures_and_the_pools_modules_never_import_streamlit():
    quiet = [m for m in MODULES if m.startswith("ui.figures")] + ["ui.compute.jobs", "ui.compute.tasks",
                                                                   "ui.compute.kept", "ui.compute", "ui"]
    for name in quiet:
        for module in {name, *reach(name)}:
            assert not any(m.split(".")[0] == "streamlit" for m in imports(MODULES[module])), (name, module)


def test_ui_has_no_import_cycles():
    for name in MODULES:
        assert name not in reach(name), f"{name} imports itself through {sorted(reach(name))}"
