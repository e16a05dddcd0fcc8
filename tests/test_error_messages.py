"""Every error a user can meet says what to do next, read from the code itself (ast).

Each construction of a user error in latentcore/ and ui/ (`latentcore.errors.LatentError`, every subclass the code
defines, and argparse's `ArgumentTypeError`) has a message whose own words (the module's string constants, the texts
the function gives a name and the rows of a checks table filled in; other values left out) hold a next step, an
instruction or the values allowed (`next_steps.next_step`). A message that only says what is wrong ("not a
references.npz: no grid") fails, whatever values are put in it. A user error's own words passed on
(`f"{label}allow: {exc}"` in `except InputError as exc`) carry its step. What the test cannot read in the code, and
the point panel's refusals of a hostile browser, are listed here by their code with why, so that a new one is seen;
so are the bare ValueErrors and TypeErrors left, each raised only for a programmer's mistake that no user input
reaches.
"""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from next_steps import PASSED_ON, next_step

REPO = Path(__file__).resolve().parents[1]
FILES = sorted([*(REPO / "latentcore").rglob("*.py"), *(REPO / "ui").rglob("*.py")])

# Messages worded where this test does not read them (by their code): where their words come from.
WORDED_ELSEWHERE = {
    "_problem(exc, settings, what)": "storage/s3.py: _problem words each known S3 problem with its step (an "
                                     "unknown one in the server's words)",
    "self._refusals[0]": "data/_hdf5.py: a refusal noted by `require`, whose messages are checked here",
    "f'{type(exc).__name__}: {exc}'": "data/parallel.py: a reader process's exception in its own words (it could not "
                                       "be pickled as it was)",
}
# The point panel's readers of browser messages (each tool's fields, and the checks they share): only a hostile
# browser sends what they refuse (the panel's own modules never do), and the page says each refusal with its next
# step (ui/widgets/selection.py's `_refused`).
PROTOCOL = ("ui/widgets/point_panel/tools.py", "ui/widgets/point_panel/shapes.py")
# Bare ValueError/TypeError left (by their code): the programmer's mistake each one guards against.
INTERNAL = {
    "f'not JSON serialisable: {type(value).__name__}'": "analysis/artifacts/common.py: a report holds JSON types only",
    "f\"a cluster figure's view is one of {VIEW_KINDS}, got {view!r}\"": "analysis/artifacts/cluster.py: views come from code",
    "f\"a job's band contrast is a BandContrast (BandContrast.parse of {self.bandcontrast!r})\"":
        "analysis/artifacts/cluster.py: the CLI and the pages parse it first",
    "f\"a job's quality filter is a QualityFilter, got {self.quality!r}\"":
        "analysis/artifacts/cluster.py: the CLI, the pages and reports make the QualityFilter first",
    "f\"a job's ROI is a Roi (Roi.from_json of {self.roi!r})\"":
        "analysis/artifacts/cluster.py, latent_maps.py: the CLI, the pages and reports make the Roi first",
    "f\"a training's ROI is a Roi (Roi.from_json of {self.roi!r})\"":
        "train/config.py: the CLI, the Train page and config.json make the Roi first",
    "f\"a training's band contrast is a BandContrast, got {self.bandcontrast!r}\"":
        "train/config.py: the CLI, the Train page and config.json parse it first",
    "f\"the session's band contrast is a BandContrast, got {bandcontrast!r}\"":
        "ui/session/state.py: the picker and the workspace's record parse it first",
    "'not a PNG'": "figures/png.py: the PNG kaleido or matplotlib has just drawn",
    "'a k-means start with an empty cluster'": "analysis/cluster.py: KMeans never returns one",
    '"grid nodes must increase (the scan\'s rows in row-major order)"':
        "analysis/ebsd/pattern_maps.py: scan_references checks the order first and says what to do",
    "f\"unknown ssl_model {ssl_model!r}; known: {', '.join(ARCHITECTURES)}\"":
        "models/nenya.py: nenya_settings checks the options first",
    "f\"unknown head {head!r}; known: {', '.join(HEADS)}\"": "models/nenya.py: nenya_settings checks the options first",
    "f'{len(size)} numbers'": "models/torchscript.py: caught at once, said as a CheckpointError",
    "'S3 credentials stay in memory: they are never pickled'": "storage/s3.py: keys must not leave the process",
    "f\"a job's task must be a top-level function of an importable module, not {task!r}\"":
        "ui/compute/jobs.py: tasks are the code's own",
    "f'share mode {mode!r} is not one of {MODES}'": "ui/session/access.py: the page offers MODES only",
    "f\"the point panel's array {name} is {a.dtype}: the contract says {declared}\"":
        "ui/widgets/point_panel/wire.py: the server's own arrays, made by its geometry",
    "f'workspace id {workspace_id!r} is not 22 URL-safe characters'":
        "ui/session/workspace.py: callers check is_valid_id first",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in FILES}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def called_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@cache
def user_errors() -> frozenset[str]:
    """LatentError and every class of latentcore/ and ui/ that derives from it (by name), and ArgumentTypeError."""
    bases = {cls.name: {called_name(b) for b in cls.bases} for path in FILES for cls in ast.walk(tree(path))
             if isinstance(cls, ast.ClassDef)}
    found = {"LatentError"}
    while grown := {name for name, parents in bases.items() if parents & found} - found:
        found |= grown
    return frozenset(found | {"ArgumentTypeError"})


@cache
def module_values(path: Path) -> tuple[dict[str, ast.expr], dict[str, tuple[str, str]]]:
    """The module-level names of `path` bound to an expression, and the names it imports from the code."""
    values, imported = {}, {}
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in tree(path).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                base = ".".join(parent[:len(parent) - node.level + 1] + ([base] if base else []))
            imported.update({alias.asname or alias.name: (base, alias.name) for alias in node.names})
    return values, imported


def constant(path: Path, name: str, seen=()) -> tuple[ast.expr, Path] | None:
    """The expression module `path` binds `name` to, followed through imports."""
    values, imported = module_values(path)
    if name in values:
        return values[name], path
    base, original = imported.get(name, (None, None))
    if base in MODULES and (base, original) not in seen:
        return constant(MODULES[base], original, (*seen, (base, original)))
    return None


def local_values(function: ast.AST) -> dict[str, list[ast.expr]]:
    """What each name of `function` may stand for: every value a plain `name = ...` gives it, and the rows of a
    checks table (`for ok, message in TABLE:`, TABLE a list of tuples the function assigns)."""
    found, tables = {}, {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found.setdefault(node.targets[0].id, []).append(node.value)
            if isinstance(node.value, ast.List):
                tables[node.targets[0].id] = node.value
    for loop in ast.walk(function):
        if isinstance(loop, ast.For) and isinstance(loop.target, ast.Tuple) and isinstance(loop.iter, ast.Name) \
                and loop.iter.id in tables:
            rows = [row.elts for row in tables[loop.iter.id].elts if isinstance(row, ast.Tuple)]
            for i, target in enumerate(loop.target.elts):
                if isinstance(target, ast.Name):
                    found[target.id] = [row[i] for row in rows]
    return found


class Site:
    """One construction of an error class: where, which, its message's code, and what its names stand for."""

    def __init__(self, path: Path, message: ast.expr | None, rows=None, passed_on=frozenset(), line=0, cls=""):
        self.path, self.message, self.rows, self.passed_on, self.line, self.cls = \
            path, message, rows or {}, passed_on, line, cls
        self.code = ast.unparse(message) if message is not None else ""

    def __str__(self):
        return f"{self.path.relative_to(REPO)}:{self.line}: {self.cls}({self.code})"

    def texts(self, node=None) -> list[str] | None:
        """The message's own words, one text per way it can read; None where the code does not say them."""
        node = self.message if node is None else node
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.JoinedStr):
            words = [""]
            for part in node.values:
                inner = self.texts(part.value) if isinstance(part, ast.FormattedValue) else [part.value]
                words = [w + i for w in words for i in (inner or [" {} "])]
            return words
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # a computed part is a value
            left, right = self.texts(node.left), self.texts(node.right)
            return None if left is None and right is None else [a + b for a in left or [" {} "]
                                                                for b in right or [" {} "]]
        if isinstance(node, ast.IfExp):
            body, orelse = self.texts(node.body), self.texts(node.orelse)
            return None if body is None or orelse is None else body + orelse
        if isinstance(node, ast.Subscript):  # "..."[:200], "...".splitlines()[0]
            return self.texts(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "splitlines":
            return self.texts(node.func.value)
        if isinstance(node, ast.Call) and called_name(node.func) == "str" and len(node.args) == 1:
            return self.texts(node.args[0])
        if isinstance(node, ast.Name):
            if node.id in self.passed_on:
                return [PASSED_ON]
            if node.id in self.rows:  # read without the name itself: `x = x + ...` reads x's other values
                others = Site(self.path, None, {k: v for k, v in self.rows.items() if k != node.id}, self.passed_on)
                rows = [others.texts(value) for value in self.rows[node.id]]
                return None if None in rows else [text for row in rows for text in row]
            if found := constant(self.path, node.id):
                return Site(found[1], found[0]).texts()
        return None


def sites(names) -> list[Site]:
    """Every call of a class in `names` in latentcore/ and ui/."""
    found = []

    def visit(node, path, rows, passed_on):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            rows = {**rows, **local_values(node)}
        if isinstance(node, ast.ExceptHandler) and node.name and {called_name(t) for t in (
                node.type.elts if isinstance(node.type, ast.Tuple) else [node.type])} <= user_errors():
            passed_on = passed_on | {node.name}
        if isinstance(node, ast.Call) and called_name(node.func) in names:
            message = node.args[0] if node.args else next((k.value for k in node.keywords), None)
            found.append(Site(path, message, rows, passed_on, node.lineno, called_name(node.func)))
        for child in ast.iter_child_nodes(node):
            visit(child, path, rows, passed_on)

    for path in FILES:
        visit(tree(path), path, {}, frozenset())
    return found


def user_error_sites() -> list[Site]:
    return [site for site in sites(user_errors()) if site.message is not None]


def test_every_user_error_names_a_next_step():
    silent, unread = [], []
    for site in user_error_sites():
        if site.code in WORDED_ELSEWHERE or site.path.relative_to(REPO).as_posix() in PROTOCOL:
            continue
        words = site.texts()
        if words is None:
            unread.append(str(site))
        elif not all(next_step(w) for w in words):
            silent.append(f"{site}: {' | '.join(words)}")
    assert unread == [], "messages the code does not spell out: spell them out, or say why in WORDED_ELSEWHERE"
    assert silent == [], f"{len(silent)} errors say what is wrong but not what to do"


def test_the_listed_exceptions_are_still_there():
    codes = {site.code for site in user_error_sites()}
    assert set(WORDED_ELSEWHERE) <= codes and all((REPO / path).exists() for path in PROTOCOL)
    assert set(INTERNAL) <= {site.code for site in sites({"ValueError", "TypeError"})}


def test_no_bare_value_error_or_type_error_meets_a_user():
    bare = {f"{site}" for site in sites({"ValueError", "TypeError"}) if site.code not in INTERNAL}
    assert bare == set(), "a user's bad input gets a user error (InputError, ...) that says what to do"


def test_the_cues_tell_an_instruction_from_a_description():
    for text in ["give the scan file the latents came from", "no partition {}; it holds {}: pick one of them",
                 "unknown arch {}; choose one of {}", "batch_size must be at least 1, got {}",
                 "file truncated: re-export it", "an ROI needs x and y (use --features latent)",
                 "--k must be a positive integer, got {}", "dims must be ranges like 0,3,5-7", PASSED_ON]:
        assert next_step(text), text
    for text in ["not a references.npz: no {}", "cannot read HDF5 (corrupt or truncated?): {}",
                 "another run is writing this output", "the model takes {} channels but the data has {}",
                 " {} must be  {} , got  {} ", "dataset {} must be (N, D), got {}", "refused to use a run",
                 "the model's output is {}; an encoder must give (batch, features)", "x has {} values but y has {}"]:
        assert not next_step(text), text
