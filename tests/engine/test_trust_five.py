"""Trust, part five (issue 53, items 3, 4 and 5; item 6: these cases as tests): real command-line runs on small
files, each refusal one line naming the file or option and the next step, exit 2, and no file left.

3. A user's input or the machine, not "(a bug)": a `--scheduler` address Dask cannot use, a local Dask cluster whose
   worker is killed while starting, `--workers 0`, `--rows ''`.
4. Wrong inputs refused: `grains --latents` of another scan (another grid, or the same grid with another Band
   Contrast map; a copy of the scan in another format still fits), a `profile --line` off the scan (one partly off
   keeps the pixels on it), `rank` against another grid's references.npz (at once, before any ranking), a quality
   filter that keeps too few rows, or the labels of one class only, named as the filter's doing.
5. One rule for an existing output: refused in one line naming it and --clobber (which replaces it) by every command
   that keeps its outputs, said in each one's --help from one place; a folder where a file is to be written is
   refused and leaves no `.partial`.
"""
import argparse
import sys
import types

import numpy as np
import pytest

from cli_lines import refused
from latentcore.cli import build_parser, main
from latentcore.cli.options import CLOBBER_HELP
from latentcore.demo import DEMO_MODEL
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd, write_h5oina
from latentcore.errors import OutputError
from latentcore.latents import LatentsWriter
from latentcore.outputs import latents_path_for
from latentcore.storage import atomic_path, sha256_file
from small_files import N_COLUMNS, N_ROWS, STEP, scan_files, scan_latents

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def files(tmp_path):
    return scan_files(tmp_path)


def left_in(folder) -> list:
    """Every file and folder under `folder` (nothing when it does not exist)."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*")) if folder.exists() else []


def latents_with_ci(path, scan):
    """The small scan's latents (small_files) with a CI map rising row by row: ci = row / 20 (rows 0..19)."""
    n = N_ROWS * N_COLUMNS
    rows, columns = np.divmod(np.arange(n), N_COLUMNS)
    writer = LatentsWriter(path, {"all": (n, 3)}, {"test": "ci"})
    writer.write_rows("all", 0, np.random.default_rng(2).normal(size=(n, 3)).astype("f4"))
    writer.write_array("x", STEP * columns)
    writer.write_array("y", STEP * rows)
    writer.write_point_maps({"CI": np.arange(n) / n}, {"all": np.arange(n)})
    return writer.finish({"model": "test", "source_sha256": sha256_file(scan)})


# -- 3. the user's input or the machine, not a bug ----------------------------------------------------------------

SCHEDULED = {  # every command with --scheduler, the rest of its command line
    "cluster": ["--features", "latent", "--method", "kmeans", "--k", "2"],
    "umap": ["--method", "pca"],
    "probe": ["--labels", "labels.csv"],
    "study": ["--name", "s"],
    "batch": ["--model", "vae.pth"],
    "grains": [],
}


@pytest.mark.parametrize("command", list(SCHEDULED))
@pytest.mark.parametrize("address, said", [("garbage://x", "unknown address scheme 'garbage'"),
                                           ("tcp://host", "missing port number")])
def test_a_scheduler_address_dask_cannot_use_is_refused_at_parsing(files, command, address, said, capsys):
    out = files["folder"] / "out"
    line = refused([command, files["latents"], *SCHEDULED[command], "--scheduler", address, "--out", out], capsys,
                   f"argument --scheduler: {address}: not a Dask scheduler address")
    assert said in line and "give 'local' or an address like tcp://host:8786" in line and "(a bug" not in line
    assert not out.exists()


def two_latents(folder):
    """A study of two latents files of the small scan, a__test and b__test (one model)."""
    return [scan_latents(folder / f"{name}__test_latents.h5", folder / "scan.h5", seed=seed)
            for name, seed in (("a", 1), ("b", 2))]


KILLED_AT_START = """import os, signal
if __name__ != "__main__":  # imported by a new process as its parent's main module: a worker starting
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_local_cluster_whose_worker_is_killed_while_starting_is_the_machines_problem(files, monkeypatch, capsys):
    """Dask's nanny starts each worker as a new process that first runs its parent's main module: here one that
    kills that process (SIGKILL, as the kernel's out-of-memory killer does). LocalCluster then fails with "Nanny
    failed to start", which was "unexpected RuntimeError ... (a bug)"."""
    killer = files["folder"] / "killed_at_start.py"
    killer.write_text(KILLED_AT_START)
    parent_main = types.ModuleType("__main__")
    parent_main.__file__ = str(killer)
    monkeypatch.setitem(sys.modules, "__main__", parent_main)
    out = files["folder"] / "clusters"
    line = refused(["cluster", *two_latents(files["folder"]), "--features", "latent", "--method", "kmeans", "--k",
                    "2", "--scheduler", "local", "--workers", "1", "--out", out, "--no-png"], capsys,
                   "the local Dask cluster could not start (Nanny failed to start)")
    assert "try fewer --workers, or leave --scheduler out to run in this process" in line
    assert not out.exists()


def test_no_worker_processes_are_refused_naming_the_option(files, capsys):
    out = files["folder"] / "clusters"
    refused(["cluster", *two_latents(files["folder"]), "--features", "latent", "--method", "kmeans", "--k", "2",
             "--scheduler", "local", "--workers", "0", "--out", out, "--no-png"], capsys,
            "--workers must be at least 1, got 0: give a positive number of worker processes")
    assert not out.exists()


def test_empty_rows_are_refused_naming_the_option(files, grains_h5oina, capsys):
    out = files["folder"] / "out"
    said = "--rows must name at least one row id, got '': give row ids or ranges like 0-99,150"
    refused(["orientations", grains_h5oina, "--rows", "", "--out", out], capsys, said)
    refused(["mean-pattern", files["latents"], "--source", files["scan"], "--rows", "", "--out", out], capsys, said)
    assert not out.exists()


# -- 4. wrong inputs refused ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def extracted(grains_h5oina, tmp_path_factory):
    """Latents by the demo model of: the grains scan, another scan of its grid (another seed) and the grains scan's
    copy in kikuchipy's h5ebsd layout (the same scan, other bytes, no Band Contrast map)."""
    folder = tmp_path_factory.mktemp("five")
    other = write_h5oina(simulate_scan(ScanSettings(n_rows=12, n_columns=15, pattern_size=40, n_grains=3, seed=6)),
                         folder / "other.h5oina")
    copy = write_h5ebsd(simulate_scan(ScanSettings(n_rows=12, n_columns=15, pattern_size=40, n_grains=3, seed=5)),
                        folder / "grains_copy.h5")
    scans = {"grains": grains_h5oina, "other": other, "copy": copy}
    assert main(["extract", *map(str, scans.values()), "--model", str(DEMO_MODEL), "--out", str(folder),
                 "--device", "cpu"]) == 0
    return {name: latents_path_for(scan, folder, model="demo-vae") for name, scan in scans.items()}


def test_grains_refuses_the_latents_of_another_scan_of_the_same_grid(grains_h5oina, extracted, tmp_path, capsys):
    out = tmp_path / "grains"
    line = refused(["grains", grains_h5oina, "--latents", extracted["other"], "--out", out], capsys,
                   "these latents are of another scan (other.h5oina): their Band Contrast map differs from this "
                   "scan's at")
    assert line.startswith(f"error: {extracted['other']}: ") and "give the latents of this scan" in line
    assert not out.exists()


def test_grains_refuses_the_latents_of_a_smaller_scan_inside_its_grid(grains_h5oina, extracted, edax_h5, tmp_path,
                                                                    capsys):
    """The grains scan's 12 x 15 points all lie on the 40 x 60 demo scan's grid: they used to be taken."""
    out = tmp_path / "grains"
    refused(["grains", edax_h5, "--latents", extracted["grains"], "--out", out], capsys,
            "these latents are of another scan (grains.h5oina: 180 points, 180 of them on this scan's 2,400 points "
            "of its 40 x 60 grid): give the latents of this scan")
    assert not out.exists()


def test_grains_takes_the_latents_of_the_scans_copy_in_another_format(grains_h5oina, extracted, tmp_path, capsys):
    out = tmp_path / "grains"
    assert main(["grains", str(grains_h5oina), "--latents", str(extracted["copy"]), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "note: the latents were extracted from another file (grains_copy.h5" in said
    assert "ranked by latent spread" in said and (out / "grains__grains.csv").is_file()


def test_a_profile_line_off_the_scan_is_refused_naming_its_extent(files, capsys):
    out = files["folder"] / "profile"
    refused(["profile", files["latents"], "--line", "100,100,200,200", "--out", out, "--no-png"], capsys,
            "the line from (100, 100) to (200, 200) passes through no pixel of the scan that holds a point; the "
            "scan's pixels cover x -0.75 to 6.75 and y -0.75 to 5.25 µm: draw the line across them")
    assert not out.exists()
    assert main(["profile", str(files["latents"]), "--line=-10,1.5,3,1.5", "--out", str(out), "--no-png"]) == 0
    table = np.loadtxt(out / "line_profile__from-10_1.5_to3_1.5.csv", delimiter=",", skiprows=1)
    assert table[:, 0].tolist() == [5, 6, 7]  # partly off: the pixels of grid row 1 it crosses, columns 0 to 2


def test_rank_refuses_another_grids_references_at_once(files, grains_h5oina, capsys):
    refs = files["folder"] / "refs"
    assert main(["references", str(grains_h5oina), "--no-patterns", "--no-figures", "--out", str(refs)]) == 0
    out = files["folder"] / "rank"
    line = refused(["rank", files["latents"], "--reference", refs / "references.npz", "--out", out], capsys,
                   "its maps are on a grid of 12 x 15 pixels (step 1.5 x 1.5, from x 0, y 0), the latents on one of "
                   "4 x 5 pixels (step 1.5 x 1.5, from x 0, y 0): another scan's references")
    assert line.startswith(f"error: {refs / 'references.npz'}: ")
    assert "give the references.npz of the scan the latents came from" in line
    assert not out.exists()


@pytest.mark.parametrize("command", [["umap", "--method", "pca"],
                                     ["cluster", "--features", "latent", "--method", "kmeans", "--k", "2", "--no-png"],
                                     ["rank", "--reference", "ref.npy", "--metrics", "pearson", "--no-figures"]])
def test_a_quality_filter_that_keeps_too_few_rows_is_named(files, command, capsys, monkeypatch):
    monkeypatch.chdir(files["folder"])
    np.save("ref.npy", np.arange(20.0))  # a reference map in the latents' row order
    latents = latents_with_ci(files["folder"] / "ci__test_latents.h5", files["scan"])
    out = files["folder"] / "out"
    target = out / "table.csv" if command[0] == "umap" else out  # umap writes a table, the others a folder
    refused([command[0], latents, *command[1:], "--quality", "ci>=0.95", "--out", target], capsys,
            "ci__test_latents.h5: the quality filter ci >= 0.95 keeps 1 of 20 rows: too few to compute on (at least "
            "3); lower its thresholds")
    assert not out.exists()


def test_probe_says_its_quality_filter_left_no_row_or_one_labelled_class(files, capsys):
    latents = latents_with_ci(files["folder"] / "ci__test_latents.h5", files["scan"])
    out = files["folder"] / "probe"
    probe = ["probe", latents, "--labels", files["labels"], "--out", out, "--no-png"]
    refused([*probe, "--quality", "ci>=2"], capsys, "the quality filter ci >= 2 keeps 0 of 20 rows: too few")
    # rows 10-19 (ci 0.5 to 0.95) kept: all labelled b
    refused([*probe, "--quality", "ci>=0.5"], capsys,
            f"{files['labels']}: the quality filter ci >= 0.5 keeps 10 of 20 rows, 10 of them labelled: the labels "
            "hold one class only ('b'): label rows of a second class, or lower its thresholds")
    assert not out.exists()


# -- 5. one rule for an existing output ---------------------------------------------------------------------------

def test_export_ebsd_onto_a_folder_is_refused_and_leaves_no_partial(grains_h5oina, tmp_path, capsys):
    classes = tmp_path / "labels.csv"
    classes.write_text("row,label\n0,a\n1,b\n")
    folder = tmp_path / "dd.ctf"
    folder.mkdir()
    line = refused(["export-ebsd", grains_h5oina, "--classes", classes, "--out", folder], capsys,
                   f"{folder}: is a folder, not a file")
    assert "name a file (a new one, or one inside that folder)" in line
    assert left_in(tmp_path) == sorted([classes.relative_to(tmp_path), folder.relative_to(tmp_path)])
    assert not left_in(folder)  # no dd.ctf.partial beside it, nothing inside it


def test_a_rename_that_fails_leaves_no_partial(tmp_path):
    """A folder made in the file's place while it was written: the complete temporary file resumes nothing."""
    target = tmp_path / "table.csv"
    with pytest.raises(OutputError, match="is a folder, not a file|cannot write"):
        with atomic_path(target) as tmp:
            tmp.write_text("x,y\n")
            (target / "inside").mkdir(parents=True)
    assert left_in(tmp_path) == [target.relative_to(tmp_path), (target / "inside").relative_to(tmp_path)]


def commands_keeping_outputs(f, grains_h5oina):
    """Command lines of every command that keeps its outputs, each writing into f["folder"] / "out"."""
    from study_scans import scan_latents

    out, lat, scan, labels = f["folder"] / "out", f["latents"], f["scan"], f["labels"]
    pair = scan_latents(f["folder"] / "pair", ("p", "q"))  # two sources of a study
    classes = f["folder"] / "classes.csv"
    classes.write_text("row,label\n0,a\n1,b\n")
    bandcontrast = f["folder"] / "bc.csv"
    rows, columns = np.divmod(np.arange(N_ROWS * N_COLUMNS), N_COLUMNS)
    np.savetxt(bandcontrast, np.c_[STEP * columns, STEP * rows, np.arange(20)], delimiter=",", header="x,y,bandcontrast",
               comments="")
    return {
        "bandcontrast": ["bandcontrast", bandcontrast, "--out", out / "kept.csv"],
        "study": ["study", lat, "--name", "s", "--out", f["folder"]],  # beside its member
        "umap": ["umap", lat, "--method", "pca", "--out", out / "table.csv"],
        "maps": ["maps", lat, "--no-png", "--out", out],
        "cluster": ["cluster", lat, "--features", "latent", "--method", "kmeans", "--k", "2", "--no-png", "--out", out],
        "mean-pattern": ["mean-pattern", lat, "--source", scan, "--rows", "0-3", "--no-png", "--out", out],
        "profile": ["profile", lat, "--line", "0,0,6,0", "--no-png", "--out", out],
        "rank": ["rank", lat, "--reference", bandcontrast, "--metrics", "pearson", "--no-figures", "--out", out],
        "references": ["references", grains_h5oina, "--no-patterns", "--no-figures", "--out", out],
        "orientations": ["orientations", grains_h5oina, "--rows", "0-9", "--no-png", "--out", out],
        "grains": ["grains", grains_h5oina, "--out", out],
        "export-ebsd": ["export-ebsd", grains_h5oina, "--classes", classes, "--out", out / "scan.ang"],
        "probe": ["probe", lat, "--labels", labels, "--cv", "2", "--no-png", "--out", out],
        "export": ["export", scan, "--labels", labels, "--out", out / "subset.npz"],
        "compare": ["compare", lat, lat, "--labels", labels, "--out", out / "compare.json"],
        "compare-sources": ["compare-sources", pair["p"], pair["q"], "--first", "p", "--second", "q", "--k", "2",
                            "--out", out],
    }


KEEPING = ["bandcontrast", "study", "umap", "maps", "cluster", "mean-pattern", "profile", "rank", "references",
           "orientations", "grains", "export-ebsd", "probe", "export", "compare", "compare-sources"]


@pytest.mark.parametrize("command", KEEPING)
def test_an_existing_output_is_refused_naming_it_and_clobber_replaces_it(files, grains_h5oina, command, capsys):
    argv = commands_keeping_outputs(files, grains_h5oina)[command]
    before = {p: sha256_file(p) for p in files["folder"].rglob("*") if p.is_file()}
    assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    written = {p: sha256_file(p) for p in files["folder"].rglob("*") if p.is_file() and before.get(p) != sha256_file(p)}
    assert written, command
    line = refused(argv, capsys, ": exists already: this command does not replace an existing output; give --clobber "
                                 "to replace it, or write elsewhere")
    assert any(f"error: {path}: " in line for path in written), line
    assert {p: sha256_file(p) for p in written} == written  # untouched
    assert not list(files["folder"].rglob("*.partial"))
    assert main([str(a) for a in [*argv, "--clobber"]]) == 0, capsys.readouterr().err


def test_every_command_with_an_output_says_the_rule_in_its_help_from_one_place():
    """Every command with --out keeps its outputs (--clobber, its help the one CLOBBER_HELP) but those with a rule
    of their own: extract and batch resume or skip their latents, train-vae resumes its run, rerun rewrites its
    report's files on purpose."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    with_out = {name for name, p in commands.items() if any("--out" in a.option_strings for a in p._actions)}
    keeping = {name for name, p in commands.items() if p.get_default("outputs_kept")}
    assert with_out - keeping == {"extract", "batch", "train-vae", "rerun"}
    assert keeping == set(KEEPING)
    for name in keeping:
        clobber = next(a for a in commands[name]._actions if "--clobber" in a.option_strings)
        assert clobber.help == CLOBBER_HELP and "refuses to write over an existing output" in clobber.help
