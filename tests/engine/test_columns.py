"""Every CSV the project writes uses the column names docs/outputs.md documents (its "Columns" table, which
latentcore/columns.py names in code): each command that writes a CSV runs on the demo scan (`orientations` on the
EDAX test scan: the demo has no orientations), and every header is checked against the table. The figure of a
clustering is named by what it shows."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from latentcore import columns
from latentcore.analysis.labels.labelled import labels_table, write_labels
from latentcore.cli import main
from latentcore.demo import DEMO_MODEL
from latentcore.latents import read_latents
from latentcore.outputs import latents_path_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "outputs.md"

pytestmark = pytest.mark.timeout(600)


def documented() -> list[str]:
    """The names in the first cell of each row of docs/outputs.md's Columns table (`latent_<d>` as written)."""
    section = DOCS.read_text().split("### Columns", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])]


def undocumented(header, names) -> list[str]:
    """The columns of `header` that no documented name matches (`<d>`, `<i>`, `<name>` stand for any part)."""
    patterns = [re.compile(re.sub(r"<[^>]+>", ".+", re.escape(name).replace(r"\<", "<").replace(r"\>", ">")))
                for name in names]
    return [column for column in header if not any(p.fullmatch(column) for p in patterns)]


def test_the_names_the_code_writes_are_the_documented_ones():
    names = documented()
    assert len(names) > 30 and "row" in names and "x_um" in names
    in_code = [columns.ROW, *columns.coordinate_names("um"), columns.LABEL, columns.CLUSTER, columns.BANDCONTRAST,
               columns.PROBABILITY, columns.GIVEN, columns.SELECTED, columns.COSINE_DISTANCE, columns.latent_name(3),
               columns.embedding_name("UMAP", 1), columns.embedding_name("pca", 0), columns.GRAIN, columns.POINTS,
               columns.area_name("um"), columns.ecd_name("um"), columns.CENTROID + "x_um", columns.PHASE,
               *columns.EULER_DEG, columns.GOS, columns.KAM, columns.TWIN_FRACTION, columns.LATENT_SPREAD,
               columns.LATENT_NORM, columns.CLASS_FRACTION, *columns.IPF_XY, columns.FAMILY, columns.POLE,
               *columns.POLE_XY, *columns.ANGLE_BIN, *columns.CORRELATED, *columns.UNCORRELATED,
               columns.MACKENZIE_FREQUENCY, columns.SOURCE, columns.COUNT, columns.FRACTION, columns.QUANTITY,
               columns.BIN_LOW, columns.BIN_HIGH, columns.AREA_FRACTION]
    assert undocumented(in_code, names) == []
    old = ["x", "y", "row_id", "x (µm)", "latent 3", "UMAP_1"]  # the names before one vocabulary
    assert undocumented(old, names) == old


@pytest.fixture(scope="module")
def written(tmp_path_factory, ebsd_h5, edax_h5, bandcontrast_csv) -> dict[str, Path]:
    """Every command that writes a CSV, run once on the demo scan into one folder (`grains` on its EDAX copy, which
    holds orientations); the labels CSV written as the app writes it. Returns {the CSV's name: its path}."""
    out = tmp_path_factory.mktemp("columns")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(out / "cache"))  # the embedding cache
    latents = latents_path_for(ebsd_h5, out / "latents", model="demo-vae")  # the name the demo VAE records
    runs = [
        ["extract", ebsd_h5, "--model", DEMO_MODEL, "--out", latents.parent, "--device", "cpu"],
        ["bandcontrast", bandcontrast_csv, "--out", out / "kept.csv"],  # every pixel: a reference map too
        ["umap", latents, "--method", "pca", "--out", out / "umap.csv"],
        ["cluster", latents, "--bandcontrast", bandcontrast_csv, "--dim", "0", "--method", "kmeans", "--k", "4",
         "--out", out / "pair", "--no-png"],
        ["cluster", latents, "--features", "latent", "--method", "kmeans", "--k", "4", "--roi", "0,30,0,20",
         "--out", out / "whole"],
        ["rank", latents, "--reference", out / "kept.csv", "--metrics", "pearson", "spearman", "--out", out / "rank",
         "--no-figures"],
        ["grains", edax_h5, "--latents", latents, "--classes",
         out / "pair" / "cluster_assignments__kmeans_dim0_full.csv", "--out", out / "grains", "--no-png"],
        ["profile", latents, "--line", "5,10,80,50", "--bandcontrast", bandcontrast_csv, "--dims", "0-2", "--out",
         out / "profile", "--no-png"],
    ]
    try:
        for args in runs:
            assert main([str(a) for a in args]) == 0, args
        lat = read_latents(latents)
        rows = np.r_[0:20, 2380:2400]  # the scan's first and last rows: two classes
        write_labels(out / "labels.csv", labels_table(rows, ["top"] * 20 + ["bottom"] * 20, lat.x, lat.y, lat.units))
        assert main(["probe", str(latents), "--labels", str(out / "labels.csv"), "--out", str(out / "probe"),
                     "--no-png"]) == 0
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a tiny model: as fast on one thread, and no crawl on a shared machine
        assert main(["train-vae", str(ebsd_h5), "--keep-coords", str(out / "kept.csv"), "--roi", "0,28.5,0,28.5",
                     "--input-size", "16", "--latent-dim", "3", "--channels", "4,8", "--epochs", "1", "--device",
                     "cpu", "--out", str(out / "train")]) == 0
        torch.set_num_threads(threads)
    finally:
        monkeypatch.undo()
    return {path.name: path for path in sorted(out.rglob("*.csv"))}


def test_every_csv_the_commands_write_uses_the_documented_columns(written):
    assert sorted(written) == ["cluster_assignments__kmeans_dim0_full.csv",
                               "cluster_assignments__kmeans_latents_roi0-30_0-20.csv",
                               "grain_distributions__ni_grains_edax.csv", "grains__ni_grains_edax.csv",
                               "kept.csv", "labels.csv", "line_profile__from5_10_to80_50.csv",
                               "loss.csv", "probe_predictions__logistic.csv", "ranking_scores__pearson_top10.csv",
                               "umap.csv"]
    names = documented()
    for name, path in written.items():
        header = list(pd.read_csv(path, nrows=0).columns)
        assert undocumented(header, names) == [], name
        first = ["source"] if "source" in header else []  # a study's `source`, `row`, then the coordinates
        first += ["row"] if "row" in header else []
        first += ["x_um", "y_um"] if "x_um" in header else []
        assert header[:len(first)] == first, name
    for name in ("kept.csv", "labels.csv", "probe_predictions__logistic.csv", "umap.csv"):
        assert {"x_um", "y_um"} <= set(pd.read_csv(written[name], nrows=0).columns), name


def test_the_orientations_csvs_use_the_documented_columns(tmp_path):
    """`orientations` needs a scan with orientations (the demo has none): the EDAX test scan. Its table, its pole
    figures' points (a row per point and pole: `row`, not the coordinates, first) and its misorientation angles' bins
    (a row per bin)."""
    scan = Path(__file__).resolve().parents[1] / "data" / "ebsd" / "ni_grains_edax.h5"
    assert main(["orientations", str(scan), "--rows", "0-9", "--no-png", "--out", str(tmp_path)]) == 0
    tables = {path.name.split("__", 1)[0]: path for path in tmp_path.glob("*.csv")}
    assert sorted(tables) == ["misorientations", "orientations", "pole_figures"]
    for kind, first in (("orientations", ["row", "x_um", "y_um"]), ("pole_figures", ["row", "family", "pole"]),
                        ("misorientations", ["angle_low_deg", "angle_high_deg", "correlated_count"])):
        header = list(pd.read_csv(tables[kind], nrows=0).columns)
        assert header[:3] == first and undocumented(header, documented()) == [], kind


def test_the_kept_pixels_read_back_as_a_keep_list_and_a_reference(written):
    """`kept.csv` (`x_um,y_um,bandcontrast`) is what `train-vae --keep-coords` took (the fixture trained on it)
    and `rank --reference` scored."""
    import json

    config = json.loads((written["loss.csv"].parent / "config.json").read_text())
    assert config["filters"]["keep_coordinates"] == {"name": "kept.csv"}  # a report names no server path
    scores = pd.read_csv(written["ranking_scores__pearson_top10.csv"])
    assert set(scores["reference"]) == {"bandcontrast"} and len(scores) == 12  # a row per dimension of the demo VAE


def test_the_cluster_figure_is_named_by_what_it_shows(written):
    whole = written["cluster_assignments__kmeans_latents_roi0-30_0-20.csv"].parent
    # whole vectors: on their first two principal components (the CLI has no workspace UMAP)
    assert sorted(p.name for p in whole.glob("*.png")) == ["cluster_pca__kmeans_latents_roi0-30_0-20.png"]
