"""Studies: many latents files of one model as one latent space (latentcore/study.py, the `study` command, `batch
--study`, `options.study_from`), its rows keeping (source, row); every bad input refused in one line naming the member
and the fix, nothing written; and the study's embedding (latentcore/analysis/embedding/study.py) fitted on a sample,
every row placed per source: on a real Dask LocalCluster where in-process places it, from S3 as from disk, and a study
of one file as that file's own embedding. Latents are real HDF5 files written by `LatentsWriter`."""
import json
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from cli_lines import refused
from latentcore.analysis.embedding import knn
from latentcore.analysis.embedding.fit import fit_embedding
from latentcore.analysis.embedding.fitted import FittedEmbedding
from latentcore.analysis.embedding.study import (REPORT, StudyFit, embed_study, embedding_folder, fit_study,
                                                 member_coords, place_study, read_study_embedding,
                                                 study_embedding)
from latentcore.cli import main
from latentcore.cli.options import study_from
from latentcore.errors import InputError, error_line
from latentcore.latents import LatentsWriter, read_latents
from latentcore.storage import s3, sha256_file
from latentcore.study import make_study, open_latents, read_study, study_locations, write_study
from small_files import vae_checkpoint, write_scan

DIM = 16
MODEL = {"model": "demo-vae", "model_name": "demo-vae", "model_sha256": "d" * 64}
CENTRES = np.random.default_rng(123).normal(scale=5, size=(6, 32))  # the clusters every source shares
WIDTH = 40  # a scan's grid: rows / WIDTH lines of WIDTH pixels


def write_latents(folder, source, rows=2000, *, dim=DIM, seed=0, scan=True, model=None, units="um"):
    """`<folder>/<source>__demo-vae_latents.h5`: rows around shared cluster centres; a scan (x, y on a grid, one
    partition) or cutouts (`valid` and `train` partitions, no coordinates)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = np.tile(CENTRES, (1, -(-dim // CENTRES.shape[1])))[:, :dim]  # wider than 32: its columns again
    values = (centres[rng.integers(0, len(CENTRES), rows)] + rng.normal(size=(rows, dim))).astype(np.float32)
    shapes = {"all": (rows, dim)} if scan else {"valid": (rows // 2, dim), "train": (rows - rows // 2, dim)}
    writer = LatentsWriter(folder / f"{source}__demo-vae_latents.h5", shapes, {"source": source, "seed": seed})
    start = 0
    for name, (n, _) in shapes.items():
        writer.write_rows(name, 0, values[start:start + n])
        start += n
    attrs = {**(model or MODEL), "source": f"{source}.h5"}
    if scan:
        lines, columns = np.divmod(np.arange(rows), WIDTH)
        writer.write_array("x", 1.5 * columns)
        writer.write_array("y", 1.5 * lines)
        writer.write_array("grid_shape", [-(-rows // WIDTH), WIDTH])
        attrs["units"] = units
    return writer.finish(attrs)


def written_studies(folder) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if ".study.json" in p.name)


# -- the study value --------------------------------------------------------------------------

def test_rows_keep_their_identity_across_members(tmp_path):
    a = write_latents(tmp_path, "a", 200, seed=1)
    b = write_latents(tmp_path, "b", 90, seed=2, scan=False)  # cutouts: two partitions, no coordinates
    c = write_latents(tmp_path, "c", 120, seed=3)
    study = make_study("mixed", study_locations([tmp_path]))  # a folder: its latents files, sorted
    assert study.names == ["a", "b", "c"] and study.rows == 410 and study.dim == DIM
    assert study.model == {"name": "demo-vae", "sha256": "d" * 64}
    assert study.notes == ["1 of 3 sources have no coordinates (b): their maps are absent and their x, y are empty"]

    table = study.identity_table()
    assert list(table.columns) == ["source", "row", "x_um", "y_um"] and len(table) == 410
    assert isinstance(table["source"].dtype, pd.CategoricalDtype)
    assert list(table["source"].cat.categories) == ["a", "b", "c"]
    assert table["source"].value_counts().to_dict() == {"a": 200, "b": 90, "c": 120}
    assert (table["row"].to_numpy() == np.concatenate([np.arange(200), np.arange(90), np.arange(120)])).all()
    np.testing.assert_array_equal(table["x_um"].to_numpy()[:200], read_latents(a).x)
    np.testing.assert_array_equal(table["y_um"].to_numpy()[290:], read_latents(c).y)
    assert table["x_um"].iloc[200:290].isna().all() and table["y_um"].iloc[200:290].isna().all()

    member, row = study.locate([0, 199, 200, 289, 290, 409])
    assert member.tolist() == [0, 0, 1, 1, 2, 2] and row.tolist() == [0, 199, 0, 89, 0, 119]
    assert study.global_rows("c", [0, 119]).tolist() == [290, 409]
    stacked = study.stacked()
    expected = np.concatenate([read_latents(p).stacked()[0] for p in (a, b, c)])
    np.testing.assert_array_equal(stacked, expected)
    chosen = [409, 3, 250, 201, 0]
    np.testing.assert_array_equal(study.take(chosen), expected[chosen])  # read from the members, in the order given
    assert study.latents("b").x is None and study.latents("a").grid_shape == (5, WIDTH)
    with pytest.raises(InputError, match="no source 'd': choose one of its sources a, b, c"):
        study.member("d")


def test_a_studys_rows_frame_is_its_identity_then_the_columns(tmp_path):
    """`StudyLatents.rows_frame` (the UMAP page's tables and download of a study): each row's source, its row there and
    x_um, y_um, then the columns given, then its own columns in its source; its stacked table, which is that
    identity, not added again."""
    a, b = write_latents(tmp_path, "a", 80, seed=1), write_latents(tmp_path, "b", 40, seed=2)
    study = open_latents(write_study(make_study("pair", [a, b]), tmp_path))
    frame = study.rows_frame([85, 3], {"umap_0": np.array([0.5, 1.5]), "row": np.array([9, 9])}, study.stacked()[1])
    assert list(frame.columns) == ["source", "row", "x_um", "y_um", "umap_0", "partition", "index"]  # `row`: ours
    assert frame["source"].tolist() == ["b", "a"] and frame["row"].tolist() == frame["index"].tolist() == [5, 3]
    np.testing.assert_array_equal(frame["x_um"], [read_latents(b).x[5], read_latents(a).x[3]])
    assert frame["umap_0"].tolist() == [0.5, 1.5]


def test_a_study_of_one_file_is_the_file(tmp_path):
    path = write_latents(tmp_path, "solo", 300)
    study = study_from([str(path)])
    assert study.name == "solo" and study.rows == 300 and study.notes == []
    stacked = study.stacked()
    assert isinstance(stacked, np.memmap)  # the file's own map: ten million rows cost no copy
    np.testing.assert_array_equal(stacked, read_latents(path).partitions["all"])
    assert study.identity_table()["row"].tolist() == list(range(300))


def test_the_study_file_names_its_members_relative_to_itself(tmp_path):
    latents = tmp_path / "project" / "latents"
    paths = [write_latents(latents, name, 50, seed=i) for i, name in enumerate(("x1", "x2"))]
    study = make_study("pair", study_locations([str(latents / "*_latents.h5")]))
    path = write_study(study, tmp_path / "project", root=tmp_path / "project")
    assert path == tmp_path / "project" / "pair.study.json"
    document = json.loads(path.read_text())
    assert document["format_version"] == 1 and document["name"] == "pair" and document["dim"] == DIM
    assert [(m["name"], m["path"], m["rows"], m["coordinates"]) for m in document["members"]] == [
        ("x1", "latents/x1__demo-vae_latents.h5", 50, True), ("x2", "latents/x2__demo-vae_latents.h5", 50, True)]
    assert document["members"][0]["sha256"] == study.members[0].sha256 and len(study.members[0].sha256) == 64

    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "project", moved)  # relative paths: the folder moves as a whole
    again = read_study(moved / "pair.study.json")
    assert again.names == ["x1", "x2"] and again.members[1].location == str(moved / "latents" / paths[1].name)
    assert [m.sha256 for m in again.members] == [m.sha256 for m in study.members]
    assert study_from([str(moved / "pair.study.json")]) == again


def test_a_study_file_in_a_workspace_names_files_of_the_workspace(tmp_path):
    workspace = tmp_path / "workspace"
    write_latents(workspace / "latents", "w1", 40)
    study = make_study("ws", study_locations([workspace / "latents"]))
    path = write_study(study, workspace / "studies", root=workspace)  # ../latents/...: inside the workspace
    assert json.loads(path.read_text())["members"][0]["path"] == "../latents/w1__demo-vae_latents.h5"
    assert read_study(path, root=workspace).names == ["w1"]
    with pytest.raises(InputError) as refusal:  # the default root is the study file's own folder
        read_study(path)
    assert "member w1 names ../latents/w1__demo-vae_latents.h5, outside" in error_line(refusal.value)


# -- bad input: one line naming the member and the fix, nothing written -----------------------------

@pytest.fixture
def members(tmp_path):
    folder = tmp_path / "latents"
    return {name: write_latents(folder, name, 60, seed=i) for i, name in enumerate(("a", "b"))}


@pytest.mark.parametrize("case, needle", [
    ("other model", "member c was made by model other-vae (SHA-256 eeeeeeeeeeee), the study's first member a by "
                    "model demo-vae (SHA-256 dddddddddddd): a study holds one model's latents; leave it out or "
                    "extract its source with the study's model"),
    ("other dimension", "member c has 8 dimensions, a has 16: a study holds one model's latents (the same pooling); "
                        "leave it out"),
    ("source twice", "member a is a second file of the source a (the first: "),
    ("file twice", "member a is named twice: each source is in a study once; leave one out"),
    ("same latents", "member c holds the same latents as a (one SHA-256): each source is in a study once"),
    ("other unit", "member c has coordinates in nm, a in um: a study's scans share one unit; make a study of each"),
    ("outside --out", "member a lies outside "),
    ("no latents in folder", "holds no *_latents.h5 files: extract latents into it first, or name the files"),
    ("glob of nothing", "matches no file: check the pattern"),
])
def test_a_study_that_cannot_be_is_refused_in_one_line(members, tmp_path, capsys, case, needle):
    a, b = str(members["a"]), str(members["b"])
    extra = tmp_path / "extra"
    inputs, out = [a, b], str(members["a"].parent)
    if case == "other model":
        inputs.append(write_latents(extra, "c", 60, model={"model": "other-vae", "model_name": "other-vae",
                                                           "model_sha256": "e" * 64}))
    elif case == "other dimension":
        inputs.append(write_latents(extra, "c", 60, dim=8))
    elif case == "source twice":
        inputs.append(write_latents(extra, "a", 60, seed=9))
    elif case == "file twice":
        inputs.append(a)
    elif case == "same latents":
        extra.mkdir()
        inputs.append(shutil.copy(a, extra / "c__demo-vae_latents.h5"))
    elif case == "other unit":
        inputs.append(write_latents(extra, "c", 60, units="nm"))
    elif case == "outside --out":
        out = str(tmp_path / "studies")
    elif case == "no latents in folder":
        extra.mkdir()
        inputs = [str(extra)]
    elif case == "glob of nothing":
        inputs = [str(tmp_path / "latents" / "*_nothing.h5")]
    if case in ("other model", "other dimension", "source twice", "same latents", "other unit"):
        out = str(tmp_path)  # a folder holding every member
    line = refused(["study", *inputs, "--name", "s", "--out", out], capsys, needle)
    assert case not in ("other model", "other dimension", "same latents", "other unit") or "/extra/c__" in line
    assert written_studies(tmp_path) == [] and not (tmp_path / "studies").exists()


def test_a_bad_study_name_is_refused_before_anything_runs(members, tmp_path, capsys):
    refused(["study", members["a"], "--name", "../up", "--out", tmp_path], capsys,
            "argument --name: a study's name is letters, digits and ._+-")
    refused(["batch", "--model", tmp_path / "missing.pth", members["a"], "--study", "a b"], capsys,
            "argument --study: a study's name is letters, digits and ._+-")


@pytest.fixture
def study_file(members):
    return write_study(make_study("pair", [members["a"], members["b"]]), members["a"].parent)


def test_latents_have_the_same_rows_when_their_sources_and_row_counts_are_the_same(members, study_file):
    """What the app's labels follow (`row_sources`): a study's rows are not one of its member's; another model's
    latents of the same source are."""
    from latentcore.study import row_sources

    assert row_sources(study_file) == [("a", 60), ("b", 60)]
    assert row_sources(members["b"]) == [("b", 60, "", (("all", 60),))] != row_sources(study_file)
    other_model = members["b"].with_name("b__other_latents.h5")
    other_model.write_bytes(members["b"].read_bytes())
    assert row_sources(other_model) == row_sources(members["b"])
    solo = write_study(make_study("solo", [members["a"]]), members["a"].parent)
    assert row_sources(solo) == row_sources(members["a"])  # a study of one is its file
    # another scan or other partitions of the same name and size: other rows
    other_scan = write_latents(members["b"].parent / "day2", "b", 60, seed=8)
    with h5py.File(other_scan, "a") as f:
        f.attrs["source_sha256"] = "2" * 64
    assert row_sources(other_scan)[0][:2] == ("b", 60) and row_sources(other_scan) != row_sources(members["b"])
    cutouts = write_latents(members["b"].parent / "cut", "b", 60, scan=False)
    assert row_sources(cutouts) == [("b", 60, "", (("valid", 30), ("train", 30)))] != row_sources(members["b"])


def read_refused(path, needle, **kwargs) -> str:
    with pytest.raises(InputError) as refusal:
        read_study(path, **kwargs)
    line = error_line(refusal.value)
    assert "\n" not in line and needle in line, line
    return line


def test_a_member_missing_or_changed_is_named(members, study_file):
    original = members["b"].read_bytes()
    members["b"].unlink()
    read_refused(study_file, "member b is missing: restore the file, or make the study again (python -m latentcore "
                             "study ...) without it")
    write_latents(members["b"].parent, "b", 60, seed=5)  # other latents under the same name
    line = read_refused(study_file, "member b changed since the study was made (its SHA-256 is ")
    assert line.endswith("restore the file, or make the study again (python -m latentcore study ...)")
    assert read_study(study_file, verify=False).names == ["a", "b"]  # read, not checked: the tasks check it
    members["b"].write_bytes(original)
    assert read_study(study_file).names == ["a", "b"]


def test_a_study_whose_model_record_was_edited_is_refused_and_no_report_records_it(members, study_file, capsys):
    document = json.loads(study_file.read_text())
    document["model"]["sha256"] = "e" * 64  # a forged hash: the members were made by another model
    study_file.write_text(json.dumps(document))
    needle = f"member a was made by model demo-vae (SHA-256 {'d' * 12}), the study records model demo-vae (SHA-256 "
    read_refused(study_file, needle + "e" * 12 + "): make the study again")
    out = study_file.parent / "clusters"
    refused(["cluster", study_file, "--method", "kmeans", "--k", "3", "--out", out], capsys, needle)
    assert not out.exists()


@pytest.mark.parametrize("case, needle", [
    ("not json", "not a study file (not JSON: "),
    ("not ours", 'not a study file (no "format": "latent-explorer-study")'),
    ("newer", "study file format version 2, this version reads 1: update Latent Explorer or make the study again"),
    ("relative outside", "member a names ../../a__demo-vae_latents.h5, outside "),
    ("absolute outside", "member a names /etc/a__demo-vae_latents.h5, outside "),
    ("name not its file", "member 'passwd' is not a study's record (its name, SHA-256 or rows)"),
    ("no members", "the study has no members"),
    ("rows not a number", "not a study file: member 1's 'rows' is missing or not a whole number; make the study again"),
    ("member rows NaN", "not a study file (NaN is not a JSON number): make the study again"),
    ("member rows of 400 digits", "member 'a' is not a study's record (its name, SHA-256 or rows)"),
    ("study rows NaN", "not a study file (NaN is not a JSON number): make the study again"),
    ("study rows of 400 digits", "not a study file: 'rows' is a number of 400 digits, its members hold 120; make the "
                                 "study again"),
    ("study rows not its members'", "not a study file: 'rows' is 121, its members hold 120; make the study again"),
    ("dim of 400 digits", "not a study file: 'dim' is a number of 400 digits, not a latent dimension"),
])
def test_a_study_file_that_is_not_one_is_refused(study_file, case, needle):
    document = json.loads(study_file.read_text())
    first = document["members"][0]
    text = None
    if case == "not json":
        text = "{not json"
    elif case == "not ours":
        document["format"] = "something"
    elif case == "newer":
        document["format_version"] = 2
    elif case == "relative outside":
        first["path"] = "../../a__demo-vae_latents.h5"
    elif case == "absolute outside":
        first["path"] = "/etc/a__demo-vae_latents.h5"
    elif case == "name not its file":
        first["name"] = "passwd"
    elif case == "no members":
        document["members"] = []
    elif case == "rows not a number":
        first["rows"] = "many"
    elif case == "member rows NaN":
        first["rows"] = float("nan")  # json.dumps writes NaN, which Python's json reads unless told not to
    elif case == "member rows of 400 digits":
        first["rows"] = 10 ** 399
    elif case == "study rows of 400 digits":
        document["rows"] = 10 ** 399
    elif case == "dim of 400 digits":
        document["dim"] = 10 ** 399
    elif case == "study rows NaN":
        document["rows"] = float("nan")
    elif case == "study rows not its members'":
        document["rows"] += 1
    study_file.write_text(text or json.dumps(document))
    line = read_refused(study_file, needle)
    assert str(study_file) in line


def test_sources_without_coordinates_join_scans_and_are_said(tmp_path, capsys):
    write_latents(tmp_path, "scan1", 80)
    write_latents(tmp_path, "cutouts", 40, scan=False)
    assert main(["study", str(tmp_path), "--name", "both"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"{tmp_path / 'both.study.json'}: 2 sources, 120 rows of 16 dimensions, model demo-vae")
    assert "cutouts" in said and "no coordinates" in said
    assert said.rstrip().endswith("note: 1 of 2 sources have no coordinates (cutouts): their maps are absent and "
                                  "their x, y are empty")
    assert read_study(tmp_path / "both.study.json").names == ["cutouts", "scan1"]


def test_sources_the_model_was_not_trained_on_are_said_where_its_checkpoint_records_its_data(never_indexed_h5,
                                                                                             tmp_path, capsys):
    """The demo VAE records the demo scan's SHA-256 as its training data; a copy of the scan with other bytes is new
    to it: a study of both says so (the `study` and `cluster` commands, the cluster report), a study of the scan
    alone says nothing, and a study file keeps what each member's latents recorded."""
    from latentcore.demo import DEMO_MODEL, DEMO_SCAN
    from latentcore.models import _trained_on, load_model

    assert load_model(DEMO_MODEL).trained_on == (sha256_file(DEMO_SCAN),)
    assert _trained_on({"training": {"data_sha256": ["a" * 64, "b" * 64, "B" * 64, 3]}}) == ("a" * 64, "b" * 64)
    assert _trained_on({"training": "a" * 64}) == _trained_on({}) == _trained_on(None) == ()
    assert main(["batch", str(DEMO_SCAN), str(never_indexed_h5), "--model", str(DEMO_MODEL), "--out",
                 str(tmp_path / "latents"), "--device", "cpu"]) == 0
    assert main(["study", str(tmp_path / "latents"), "--name", "two"]) == 0
    note = ("note: the model was not trained on the data of 1 of these 2 sources (never_indexed): what the sources "
            "share can fall into other clusters in each.")
    assert note in capsys.readouterr().out
    study = read_study(tmp_path / "latents" / "two.study.json")
    assert [m.model_saw for m in study.members] == [False, True]  # never_indexed, ni_grains_h5ebsd
    assert main(["cluster", str(tmp_path / "latents" / "two.study.json"), "--features", "latent", "--method",
                 "kmeans", "--k", "2", "--no-png", "--out", str(tmp_path / "clusters")]) == 0
    assert note in capsys.readouterr().out
    report = json.loads(next((tmp_path / "clusters").glob("cluster_report__*.json")).read_text())
    assert report["study"]["notes"] == study.notes and "never_indexed" in study.notes[0]
    assert not make_study("one", [str(next((tmp_path / "latents").glob("ni_grains*_latents.h5")))]).notes


def test_a_command_takes_several_latents_or_one_study_file(members, study_file, capsys):
    several = study_from([str(members["a"]), str(members["b"])])
    assert several.name == "a+1" and several.names == ["a", "b"]
    assert study_from([str(study_file)]).name == "pair"
    with pytest.raises(InputError, match="a study file is the command's only latents argument, 2 were given"):
        study_from([str(study_file), str(members["a"])])


def test_batch_writes_the_study_of_its_outputs(tmp_path, capsys):
    scans = []
    for i in range(2):
        data = np.random.default_rng(i).integers(0, 255, (20, 60, 60)).astype("u1")
        scans.append(write_scan(tmp_path / f"sample{i}.h5", data=data))
    checkpoint = vae_checkpoint(tmp_path / "vae.pth")
    out = tmp_path / "latents"
    argv = ["batch", "--model", checkpoint, *scans, "--out", out, "--device", "cpu", "--study", "samples"]
    assert main([str(a) for a in argv]) == 0
    said = capsys.readouterr().out
    assert f"{out / 'samples.study.json'}: 2 sources, 40 rows of 4 dimensions" in said
    study = read_study(out / "samples.study.json")
    assert study.names == ["sample0", "sample1"] and all(m.coordinates for m in study.members)

    (out / "samples.study.json").unlink()
    argv[4:4] = [tmp_path / "gone.h5"]  # a file that fails: the study is not written
    assert main([str(a) for a in argv]) == 1
    assert "the study samples was not written: 1 of 3 files failed; run the same batch again" in capsys.readouterr().out
    assert written_studies(tmp_path) == []


def test_a_study_of_an_s3_prefix_reads_its_members_where_they_live(moto_s3, members, tmp_path):
    bucket = moto_s3.new_bucket()
    for path in members.values():
        s3.upload(path, f"s3://{bucket}/runs/{path.name}", moto_s3.settings)
    s3.upload(members["a"], f"s3://{bucket}/runs/deeper/z__demo-vae_latents.h5", moto_s3.settings)  # not directly under
    locations = study_locations([f"s3://{bucket}/runs"], moto_s3.settings)
    assert locations == [f"s3://{bucket}/runs/a__demo-vae_latents.h5", f"s3://{bucket}/runs/b__demo-vae_latents.h5"]
    remote = make_study("remote", locations, moto_s3.settings)
    local = make_study("remote", [members["a"], members["b"]])
    assert [m.sha256 for m in remote.members] == [m.sha256 for m in local.members]
    np.testing.assert_array_equal(remote.stacked(moto_s3.settings), local.stacked())
    path = write_study(remote, tmp_path / "studies")  # S3 members are named by their URIs
    assert json.loads(path.read_text())["members"][0]["path"] == locations[0]
    assert read_study(path, settings=moto_s3.settings) == remote

    # the embedding reads them from S3 and writes every source's rows there
    folder = embed_study(remote, f"s3://{bucket}/embeddings", sample_size=60, settings=moto_s3.settings,
                         cache_dir=False).folder
    assert folder.startswith(f"s3://{bucket}/embeddings/remote_umap-")
    from_s3 = read_study_embedding(remote, folder, moto_s3.settings)
    on_disk = read_study_embedding(local, embed_study(local, tmp_path / "emb", sample_size=60, cache_dir=False).folder)
    pd.testing.assert_frame_equal(from_s3, on_disk)


# -- the study's embedding --------------------------------------------------------------------

@pytest.fixture(scope="module")
def three_scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("three")
    return make_study("three", [write_latents(folder, name, 2000, seed=i) for i, name in enumerate("pqr")])


@pytest.fixture(scope="module")
def dask_client():
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def test_members_are_read_on_the_cluster_as_here(three_scans, dask_client, capsys):
    folder = Path(three_scans.members[0].location).parent
    argv = ["study", str(folder), "--name", "on-dask", "--scheduler", dask_client.scheduler.address]  # by its address
    assert main(argv) == 0 and "3 sources, 6,000 rows of 16 dimensions" in capsys.readouterr().out
    assert read_study(folder / "on-dask.study.json").members == three_scans.members


@pytest.mark.parametrize("walk", [False, True], ids=["exact search", "graph walk"])
def test_dask_places_every_row_where_in_process_does(three_scans, dask_client, tmp_path, monkeypatch, walk):
    if walk:  # the walk at this size: decided once in the fit, it travels with it to the workers
        monkeypatch.setattr(knn, "GRAPH_SEARCH_MIN_PAIRS", 1)
    here = embed_study(three_scans, tmp_path / "here", sample_size=1500, cache_dir=False)
    there = embed_study(three_scans, tmp_path / "there", sample_size=1500, cache_dir=False, scheduler=dask_client)
    assert here.fit.walk is walk and there.fit.fit_id == here.fit.fit_id
    assert [p.status for p in here.placed] == [p.status for p in there.placed] == ["done"] * 3
    assert {p.worker for p in here.placed} == {"local"} and {p.worker for p in there.placed} <= {0, 1}
    table = read_study_embedding(three_scans, here.folder)
    assert list(table.columns)[:6] == ["source", "row", "x_um", "y_um", "umap_0", "umap_1"] and len(table) == 6000
    pd.testing.assert_frame_equal(read_study_embedding(three_scans, there.folder), table)
    assert np.isfinite(table[["umap_0", "umap_1"]].to_numpy()).all()

    report = json.loads((Path(here.folder) / REPORT).read_text())
    assert report["study"] == "three" and report["rows"] == 6000 and report["sample_rows"] == 1500
    search = "found by a walk of the sample's kNN graph, approximate" if walk else "found exactly"
    assert report["approximation"] == ("UMAP fitted on a seeded sample of 1,500 of the 6,000 rows; every other row "
                                       f"placed at the weighted mean of its 5 nearest sampled rows ({search})")
    assert [s["name"] for s in report["sources"]] == ["p", "q", "r"]
    assert [s["sha256"] for s in report["sources"]] == [m.sha256 for m in three_scans.members]
    assert str(tmp_path) not in json.dumps(report)  # names and SHA-256, no server paths


def test_the_shared_clusters_of_the_sources_meet_in_the_embedding(three_scans, tmp_path):
    """Every source draws from the same six clusters: in the study's embedding each cluster is one place, whichever
    source its rows come from."""
    table = read_study_embedding(three_scans, embed_study(three_scans, tmp_path, sample_size=1500).folder)
    cluster = np.concatenate([np.random.default_rng(i).integers(0, len(CENTRES), 2000) for i in range(3)])
    coords = table[["umap_0", "umap_1"]].to_numpy()
    centres = {(k, s): coords[(cluster == k) & (table["source"] == s).to_numpy()].mean(0)
               for k in range(len(CENTRES)) for s in "pqr"}
    spread = np.ptp(coords, axis=0).max()
    for k in range(len(CENTRES)):
        assert max(np.linalg.norm(centres[k, s] - centres[k, "p"]) for s in "qr") < 0.05 * spread


@pytest.mark.parametrize("dim", [DIM, 64], ids=["16-D", "64-D: PCA before the search"])
@pytest.mark.parametrize("walk", [False, True], ids=["exact search", "graph walk"])
def test_a_study_of_one_file_embeds_as_the_file(tmp_path, monkeypatch, walk, dim):
    if walk:
        monkeypatch.setattr(knn, "GRAPH_SEARCH_MIN_PAIRS", 1)
    path = write_latents(tmp_path, "solo", 2000, seed=4, dim=dim)
    study = make_study("solo", [path])
    placed = read_study_embedding(study, embed_study(study, tmp_path / "out", sample_size=500, cache_dir=False).folder)
    alone = fit_embedding(read_latents(path).partitions["all"], sample_size=500, cache_dir=False).coords
    np.testing.assert_array_equal(placed[["umap_0", "umap_1"]].to_numpy(), alone)
    # the app's: its rows searched while UMAP fits, in this process
    np.testing.assert_array_equal(study_embedding(study, sample_size=500, cache_dir=False).coords, alone)


def test_in_one_process_each_sources_rows_are_searched_while_umap_fits(three_scans, monkeypatch, tmp_path):
    """As one file's rows are (`fit.fit_embedding`'s background search): in the fit's background thread, for the
    app's embedding and the command's alike, with the coordinates a placement after the fit gives (as each source's
    Dask task places them); the sample's kNN graph is UMAP's own, not computed again."""
    import threading

    searched_in = []
    search = StudyFit.neighbours

    def spy(self, *args, **kwargs):
        searched_in.append(threading.current_thread() is threading.main_thread())
        return search(self, *args, **kwargs)
    monkeypatch.setattr(StudyFit, "neighbours", spy)
    monkeypatch.setattr(knn, "GRAPH_SEARCH_MIN_PAIRS", 1)  # the walk, which needs the sample's graph
    monkeypatch.setattr(FittedEmbedding, "reference_graph", lambda self: pytest.fail("the graph computed again"))
    fitted = study_embedding(three_scans, sample_size=1000, cache_dir=False)
    table = read_study_embedding(three_scans, embed_study(three_scans, tmp_path, sample_size=1000,
                                                          cache_dir=False).folder)
    assert searched_in == [False] * 6
    fit = fit_study(three_scans, sample_size=1000, cache_dir=False)  # as on Dask: each source placed after it
    after = np.concatenate([member_coords(index, three_scans, fit) for index in range(3)])
    assert searched_in == [False] * 6 + [True] * 3
    assert fitted.coords.tobytes() == after.tobytes() == table[["umap_0", "umap_1"]].to_numpy().tobytes()


def test_pca_of_a_study_is_the_sample_pca_projected(three_scans, tmp_path):
    done = embed_study(three_scans, tmp_path, method="pca", sample_size=1000, cache_dir=False)
    table = read_study_embedding(three_scans, done.folder)
    expected = done.fit.fitted.transform(three_scans.stacked())
    np.testing.assert_array_equal(table[["pca_0", "pca_1"]].to_numpy(), expected)
    assert done.report["approximation"] == ("PCA fitted on a seeded sample of 1,000 of the 6,000 rows, every row "
                                            "projected")


def test_a_changed_source_fails_alone_and_a_rerun_finishes(tmp_path):
    folder = tmp_path / "latents"
    paths = [write_latents(folder, name, 400, seed=i) for i, name in enumerate("uvw")]
    study = make_study("three", paths)
    fit = fit_study(study, sample_size=300, cache_dir=False)
    original = paths[1].read_bytes()
    write_latents(folder, "v", 400, seed=7)  # v changes after the study was made
    placed = place_study(study, fit, tmp_path / "out")
    assert [p.status for p in placed] == ["done", "failed", "done"]
    assert placed[1].reason.startswith(f"{paths[1]}: member v changed since the study was made")
    target = Path(embedding_folder(str(tmp_path / "out"), study, fit))
    assert sorted(p.name for p in target.iterdir()) == ["u.parquet", "w.parquet"]  # nothing half, no report

    with pytest.raises(InputError) as refusal:  # the whole job names it in one line
        embed_study(study, tmp_path / "out", sample_size=300, cache_dir=False)
    assert "member v changed since the study was made" in error_line(refusal.value)

    paths[1].write_bytes(original)
    again = embed_study(study, tmp_path / "out", sample_size=300, cache_dir=False)
    assert again.folder == str(target) and [p.status for p in again.placed] == ["kept", "done", "kept"]
    assert len(read_study_embedding(study, again.folder)) == 1200 and (target / REPORT).is_file()


def test_a_study_is_clustered_as_dask_tasks_as_in_this_process(three_scans, dask_client, tmp_path, capsys):
    """`cluster --scheduler`: within the sample size every row is fitted, and the sources' tasks write the very
    CSV this process writes, byte for byte; above it, the fit on a sample drawn from each source labels every row
    as the in-process run's clusters (ARI) and the report says how. gmm and kmeans only (they predict)."""
    members = [m.location for m in three_scans.members]
    argv = ["cluster", *members, "--features", "latent", "--method", "kmeans", "--k", str(len(CENTRES)), "--no-png"]
    tag = "kmeans_latents_full"
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0
    assert main([*argv, "--out", str(tmp_path / "there"), "--scheduler", dask_client.scheduler.address]) == 0
    said = capsys.readouterr().out
    assert "kmeans fitted on all 6,000 rows" in said and "study p+2: 3 sources, 6,000 rows" in said
    csv = f"cluster_assignments__{tag}.csv"
    here = pd.read_csv(tmp_path / "here" / csv)
    assert (tmp_path / "there" / csv).read_bytes() == (tmp_path / "here" / csv).read_bytes()
    assert sorted(p.name for p in (tmp_path / "there").iterdir()) == \
        sorted(p.name for p in (tmp_path / "here").iterdir())
    report = json.loads((tmp_path / "there" / f"cluster_report__{tag}.json").read_text())
    assert report["outputs"]["assignments"]["sha256"] == sha256_file(tmp_path / "there" / csv)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "there" / f"cluster_fractions__{tag}.csv"),
                                  pd.read_csv(tmp_path / "here" / f"cluster_fractions__{tag}.csv"))
    assert report["n_rows"] == 6000 and report["sample"]["used"] is False and report["n_clusters"] == len(CENTRES)

    assert main([*argv, "--max-fit-samples", "1500", "--out", str(tmp_path / "sampled"),
                 "--scheduler", dask_client.scheduler.address]) == 0
    report = json.loads((tmp_path / "sampled" / f"cluster_report__{tag}.json").read_text())
    assert report["sample"]["size"] == 1500 and report["sample"]["total"] == 6000
    assert "seeded sample of 1,500 of 6,000 rows" in report["fit_summary"]
    assert "a Dask task per source" in report["fit_summary"]
    sampled = pd.read_csv(tmp_path / "sampled" / csv)
    assert adjusted_rand_score(here["cluster"], sampled["cluster"]) > 0.99

    refused([*argv[:-5], "--method", "dbscan", "--out", str(tmp_path / "no"), "--scheduler", "local"], capsys,
            "--scheduler labels each source by the fit's predict, which dbscan has not")
    assert not (tmp_path / "no").exists()


def test_a_study_is_probed_as_dask_tasks_as_in_this_process(three_scans, dask_client, tmp_path, capsys):
    """`probe --scheduler`: the labelled rows' features read by a task per source, the probe fitted here, each
    source predicted and written by a task: the very predictions, fractions and cross-validation of the in-process
    probe of the study."""
    p = read_latents(three_scans.members[0].location)
    values = p.partitions["all"]
    labels = pd.DataFrame({"source": "p", "x_um": p.x, "y_um": p.y,
                           "label": np.where(values[:, 0] > np.median(values[:, 0]), "high", "low")}).iloc[::7]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    argv = ["probe", *(m.location for m in three_scans.members), "--labels", str(tmp_path / "labels.csv"),
            "--smooth", "1", "--min-confidence", "0.9", "--no-png"]
    tag = "logistic_smooth1_conf0.9"
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0
    assert main([*argv, "--out", str(tmp_path / "there"), "--scheduler", dask_client.scheduler.address]) == 0
    here = pd.read_csv(tmp_path / "here" / f"probe_predictions__{tag}.csv", keep_default_na=False)
    report = json.loads((tmp_path / "there" / f"probe_report__{tag}.json").read_text())
    there = tmp_path / "there" / report["outputs"]["predictions"]["name"]  # each task's part, joined into one CSV
    assert there.read_bytes() == (tmp_path / "here" / f"probe_predictions__{tag}.csv").read_bytes()
    assert report["run"] == "dask tasks, one per source" and not list((tmp_path / "there").glob("*.parts"))
    assert (here["given"] != "").sum() == len(labels) and "unknown" in set(here["label"])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "there" / f"probe_fractions__{tag}.csv"),
                                  pd.read_csv(tmp_path / "here" / f"probe_fractions__{tag}.csv"))
    in_process = json.loads((tmp_path / "here" / f"probe_report__{tag}.json").read_text())
    for key in ("cross_validation", "predicted_counts", "unknown", "labelled_counts", "n_rows", "fractions", "job"):
        assert report[key] == in_process[key], key


def test_one_files_umap_with_a_studys_option_is_a_study_of_one_on_dask_as_here(three_scans, dask_client, tmp_path,
                                                                                capsys):
    """`umap FILE` runs the file as a study of one (with `--sample-size`, fitted on the sample, every row placed), and
    with `--scheduler` its rows are placed by a task on the cluster: the very table the run in this process writes."""
    argv = ["umap", three_scans.members[1].location, "--method", "pca", "--sample-size", "1500"]
    for side, scheduler in (("here", []), ("there", ["--scheduler", dask_client.scheduler.address])):
        assert main([*argv, "--out", str(tmp_path / side / "q.csv"), *scheduler]) == 0
    said = capsys.readouterr().out
    assert said.count("2,000 rows of 1 source;") == 2 and "fitted on a seeded sample of 1,500 of the 2,000" in said
    assert (tmp_path / "there" / "q.csv").read_bytes() == (tmp_path / "here" / "q.csv").read_bytes()
    table = pd.read_csv(tmp_path / "here" / "q.csv")
    assert "source" not in table and np.array_equal(table["row"], np.arange(2000))  # a study of one: the file's


@pytest.mark.parametrize("command", ["cluster", "probe"])
def test_one_file_runs_on_dask_as_a_study_of_one_with_the_files_it_writes_here(three_scans, dask_client, tmp_path,
                                                                                command):
    """A file is a study of one: `cluster FILE --scheduler` and `probe FILE --scheduler` run its task on the cluster
    and write the very CSV the run in this process writes, the report saying where it ran."""
    member = three_scans.members[1].location
    if command == "cluster":
        argv, written = ["cluster", member, "--features", "latent", "--method", "gmm", "--k", "3"], "assignments"
    else:
        rows = np.arange(0, 2000, 9)
        pd.DataFrame({"row": rows, "label": np.where(rows < 1000, "a", "b")}).to_csv(tmp_path / "labels.csv",
                                                                                   index=False)
        argv, written = ["probe", member, "--labels", str(tmp_path / "labels.csv")], "predictions"
    argv.append("--no-png")
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0
    assert main([*argv, "--out", str(tmp_path / "there"), "--scheduler", dask_client.scheduler.address]) == 0
    here, there = (json.loads(next((tmp_path / side).glob("*_report__*.json")).read_text())
                   for side in ("here", "there"))
    name = here["outputs"][written]["name"]
    assert (tmp_path / "there" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    assert there["run"] == "dask tasks, one per source" and "run" not in here and "study" not in there


def test_a_studys_grains_on_dask_are_the_tables_found_here(dask_client, tmp_path, capsys):
    from study_scans import scan_latents

    members = scan_latents(tmp_path, shape=(20, 24), scans=tmp_path / "scans")
    study = write_study(make_study("grainy", [str(path) for path in members.values()]), tmp_path)
    here, there = tmp_path / "here", tmp_path / "there"
    assert main(["grains", str(study), "--out", str(here), "--no-png"]) == 0
    assert main(["grains", str(study), "--out", str(there), "--no-png", "--scheduler",
                 dask_client.scheduler.address]) == 0
    for name in ("grains__grainy.csv", "grain_distributions__grainy.csv", "grain_summary__grainy.csv"):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    assert len(pd.read_csv(here / "grains__grainy.csv")["source"].unique()) == 3


def test_compare_sources_clusters_the_study_a_source_at_a_time_on_a_sample_it_says(three_scans, dask_client, tmp_path,
                                                                                  capsys, monkeypatch):
    """`compare-sources` never stacks the study's rows: its k-means is fitted on a sample drawn from every source
    (said on the screen and in the report), every row labelled a source at a time, here or as Dask tasks with the
    same files; a sample smaller than the study gives the fractions of the fit on every row."""
    from latentcore.analysis import cluster

    argv = ["compare-sources", *(m.location for m in three_scans.members), "--first", "p", "--second", "q",
            "--k", str(len(CENTRES))]
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0
    assert "the study's clustering: kmeans fitted on all 6,000 rows" in capsys.readouterr().out
    assert main([*argv, "--out", str(tmp_path / "there"), "--scheduler", dask_client.scheduler.address]) == 0
    for name in ("fractions__p__q.csv", "shift__p__q.csv", "shift_within__p__q.csv", "cluster_matches__p__q.csv"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name

    monkeypatch.setitem(cluster.DEFAULT_MAX_FIT, "kmeans", 1500)  # this process only: no scheduler below
    assert main([*argv, "--out", str(tmp_path / "sampled")]) == 0
    assert "kmeans fitted on a seeded sample of 1,500 of 6,000 rows" in capsys.readouterr().out
    report = json.loads((tmp_path / "sampled" / "shift_report__p__q.json").read_text())
    assert report["study_clustering"]["sample"] == {"used": True, "size": 1500, "total": 6000, "seed": 0,
                                                    "drawn": "from each source in proportion to its rows"}
    full, sampled = (sorted(map(tuple, pd.read_csv(tmp_path / run / "fractions__p__q.csv")[["count_p", "count_q"]]
                                .to_numpy())) for run in ("here", "sampled"))  # clusters by size: equal ones swap
    assert np.abs(np.subtract(full, sampled)).max() <= 10  # of 2,000 rows a source


def test_compare_sources_refuses_a_source_the_study_has_not_or_the_same_twice(study_file, tmp_path, capsys):
    refused(["compare-sources", study_file, "--first", "a", "--second", "x", "--out", tmp_path / "o"], capsys,
            "the study pair has no source 'x': choose one of its sources a, b")
    refused(["compare-sources", study_file, "--first", "a", "--second", "a", "--out", tmp_path / "o"], capsys,
            "the two sources are both a: name two different sources")
    assert main(["compare-sources", str(study_file), "--first", "a", "--second", "b", "--k", "3", "--out",
                 str(tmp_path / "o")]) == 0
    assert "each source's own 3 clusters matched" in capsys.readouterr().out
    assert {path.name for path in (tmp_path / "o").iterdir()} == {
        "shift__a__b.csv", "fractions__a__b.csv", "shift_within__a__b.csv", "cluster_matches__a__b.csv",
        "shift_report__a__b.json"}


def test_maps_rank_and_mean_pattern_of_a_study_on_dask_write_what_they_write_here(dask_client, tmp_path, capsys):
    """The per-source commands (`options.each_source`) take --scheduler: each source's run a task, its output
    printed here with its worker, the very files the runs in this process write; a source's error is its one line
    and the command's exit code, the other sources written."""
    from study_scans import scan_latents

    members = scan_latents(tmp_path, shape=(12, 16), scans=tmp_path / "scans")
    study = str(write_study(make_study("series", [str(path) for path in members.values()]), tmp_path))
    for name, path in members.items():  # each scan's band contrast, a reference map of its own
        np.save(tmp_path / f"{name}_bc.npy", read_latents(path).point_maps["Band Contrast"])
    commands = {"maps": ["maps", study, "--dims", "0-2"],
                "rank": ["rank", study, "--metrics", "pearson", "spearman", "--reference",
                         str(tmp_path / "{source}_bc.npy")],
                "mean-pattern": ["mean-pattern", study, "--source", str(tmp_path / "scans" / "{source}.h5"),
                                 "--rows", "0-99,150"]}
    for name, argv in commands.items():
        argv = [*argv, "--no-png" if name != "rank" else "--no-figures"]
        assert main([*argv, "--out", str(tmp_path / name / "here")]) == 0
        capsys.readouterr()
        assert main([*argv, "--out", str(tmp_path / name / "there"), "--scheduler", dask_client.scheduler.address]) == 0
        said = capsys.readouterr().out
        assert all(re.search(rf"^{source} \(worker [01]\):$", said, re.M) for source in "pqr"), said
        here = sorted(p.relative_to(tmp_path / name / "here") for p in (tmp_path / name / "here").rglob("*.*"))
        assert len(here) >= 6 and here == sorted(p.relative_to(tmp_path / name / "there")
                                                  for p in (tmp_path / name / "there").rglob("*.*"))
        for path in here:
            if path.suffix in (".npy", ".csv"):
                assert (tmp_path / name / "here" / path).read_bytes() == (tmp_path / name / "there" / path).read_bytes()
    (tmp_path / "scans" / "q.h5").unlink()  # q's data file gone: its line, the others' patterns written
    assert main([*commands["mean-pattern"], "--out", str(tmp_path / "gone"), "--no-png", "--scheduler",
                 dask_client.scheduler.address]) == 2
    said = capsys.readouterr()
    assert re.search(r"^q:$", said.out, re.M) and re.search(r"^error: .*q\.h5: ", said.err, re.M), said
    assert sorted(p.name for p in (tmp_path / "gone").iterdir()) == ["p", "r"]
