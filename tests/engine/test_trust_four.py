"""Trust, part four (issue 38, items 5 and 6): real command-line runs on small files.

5. Text is any Unicode: UTF-8 metadata of a Nenya-layout file is extracted, a label `＝1+1` exported to HDF5, and
   labels that differ only by a space, tab, CR, LF or quote at either end stay apart through the probe.
6. No silent wrong results: more kNN neighbours than the labels allow, `references` with no map to write and a
   foreign checkpoint on resume are refused in one line; `--rows "0-9,"` is read; every line names the option typed.
"""
import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.labels.labelled import labels_table, read_labels_table, write_labels
from latentcore.cli import main
from latentcore.data import open_source
from latentcore.data._hdf5 import read_byte_table, write_byte_table
from latentcore.latents import read_latents
from latentcore.storage.csv_cells import restored
from cli_lines import refused
from small_files import labels_by_row, scan_files, vae_checkpoint

CAFE = b"caf\xc3\xa9"  # UTF-8 bytes, as a Nenya file's metadata may hold them


@pytest.fixture
def files(tmp_path):
    return scan_files(tmp_path)


# -- 5. text is any Unicode ---------------------------------------------------------------------------------------

def test_extract_reads_utf8_metadata_that_info_reads(sst_h5, tmp_path, capsys):
    cutouts = shutil.copy(sst_h5, tmp_path / "cafe.h5")
    with h5py.File(cutouts, "a") as f:
        table, columns = f["valid_metadata"][()].astype("S40"), f["valid_metadata"].attrs["columns"]
        table[0, 0] = CAFE
        del f["valid_metadata"]
        f.create_dataset("valid_metadata", data=table).attrs["columns"] = columns
    assert main(["info", str(cutouts)]) == 0
    assert main(["extract", str(cutouts), "--model", str(vae_checkpoint(tmp_path / "vae.pth")), "--out",
                 str(tmp_path / "out"), "--device", "cpu"]) == 0, capsys.readouterr().err
    latents = read_latents(next((tmp_path / "out").glob("cafe__*_latents.h5")))
    assert latents.metadata["valid"].iloc[0, 0] == "café"


def test_byte_tables_are_written_and_read_as_utf8(tmp_path):
    with h5py.File(tmp_path / "t.h5", "w") as f:
        write_byte_table(f, "meta", pd.DataFrame({"label": ["＝1+1", "café", "plain"], "ünit": ["µm", "a", "b"]}))
        f.create_dataset("latin1", data=np.array([[b"caf\xe9"]])).attrs["columns"] = [b"name"]
    with h5py.File(tmp_path / "t.h5") as f:
        assert f["meta"][0, 0] == "＝1+1".encode()  # the bytes Nenya's own readers decode
        table = read_byte_table(f["meta"])
        assert table.to_dict("list") == {"label": ["＝1+1", "café", "plain"], "ünit": ["µm", "a", "b"]}
        assert read_byte_table(f["latin1"])["name"].tolist() == ["caf\ufffd"]  # not UTF-8: marked, not a crash


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_export_keeps_a_fullwidth_and_an_accented_label(files, suffix, capsys):
    labels = labels_by_row(files["folder"] / "unicode.csv", ["＝1+1"] * 10 + ["café"] * 10)
    out = files["folder"] / f"subset{suffix}"
    assert main(["export", str(files["scan"]), "--labels", str(labels), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    if suffix == ".npz":
        assert sorted(np.load(out)["labels"].tolist()) == ["café", "＝1+1"]
        return
    with open_source(out) as subset, h5py.File(out) as f:
        given = pd.concat([subset.metadata("train"), subset.metadata("valid")])["label"]
        assert sorted(set(given)) == ["café", "＝1+1"] and len(given) == 20
        assert sorted(json.loads(f.attrs["labels"])) == ["café", "＝1+1"]


SPACED = ["a", " a", "a ", "\ta", "a\t", "a\r", "a\n", "'a", '"a"', "＝1+1"]


def test_labels_that_differ_only_by_a_space_tab_cr_lf_or_quote_stay_apart(files, capsys):
    names = [name for name in SPACED for _ in range(2)]
    labels = write_labels(files["folder"] / "spaced.csv", labels_table(np.arange(20), names))
    assert read_labels_table(labels)["label"].tolist() == names
    out = files["folder"] / "probe"
    assert main(["probe", str(files["latents"]), "--labels", str(labels), "--out", str(out), "--no-png",
                 "--cv", "2"]) == 0, capsys.readouterr().err
    report = json.loads((out / "probe_report__logistic.json").read_text())
    assert report["classes"] == sorted(SPACED) and report["n_labelled"] == 20
    table = pd.read_csv(out / "probe_predictions__logistic.csv", dtype=str, keep_default_na=False)
    assert restored(table["given"]).tolist() == names  # a CR inside a cell is quoted: the rows stay whole
    assert set(restored(table["label"])) <= set(SPACED)


def test_a_quote_that_would_read_two_labels_as_one_is_refused_naming_them(files, capsys):
    """`'=x` is how this program writes `=x`: in a file from elsewhere that holds both, they would be one label."""
    labels = files["folder"] / "quoted.csv"
    labels.write_text("row,label\n" + "".join(f"{i},{'=x' if i < 10 else chr(39) + '=x'}\n" for i in range(20)))
    refused(["probe", files["latents"], "--labels", labels, "--out", files["folder"] / "p", "--no-png"], capsys,
            "quoted.csv: the labels '=x' and \"'=x\" would be read as one")


# -- 6. no silent wrong results ------------------------------------------------------------------------------

def test_more_knn_neighbours_than_the_labels_allow_are_refused_naming_the_option(files, capsys):
    out = files["folder"] / "probe"
    refused(["probe", files["latents"], "--labels", files["labels"], "--out", out, "--method", "knn", "--neighbors",
             "100000", "--no-png"], capsys, "--neighbors must be a whole number from 1 to 15 with these labels, got "
                                            "100000: a cross-validation fold trains the kNN on 16 of the 20 labelled")
    assert not out.exists()
    refused(["probe", files["latents"], "--labels", files["labels"], "--out", out, "--method", "knn", "--neighbors",
             "0", "--no-png"], capsys, "--neighbors must be a whole number from 1 to 15")
    refused(["probe", files["latents"], "--labels", files["labels"], "--out", out, "--neighbors", "5", "--no-png"],
            capsys, "--neighbors is the k of --method knn")
    assert main(["probe", str(files["latents"]), "--labels", str(files["labels"]), "--out", str(out), "--method",
                 "knn", "--neighbors", "15", "--no-png"]) == 0
    assert json.loads((out / "probe_report__knn.json").read_text())["job"]["params"]["n_neighbors"] == 15


def test_the_default_neighbours_lowered_for_few_labels_are_said(files, capsys):
    labels = labels_by_row(files["folder"] / "few.csv", ["a"] * 4 + ["b"] * 4)  # 4 folds train on 6 rows
    out = files["folder"] / "probe"
    assert main(["probe", str(files["latents"]), "--labels", str(labels), "--out", str(out), "--method", "knn",
                 "--no-png"]) == 0
    said = "kNN with 5 neighbours, not the default 10: a cross-validation fold trains on 6 of the 8 labelled rows"
    assert f"note: {said}" in capsys.readouterr().out
    report = json.loads((out / "probe_report__knn.json").read_text())
    assert report["notes"] == [said] and report["job"]["params"]["n_neighbors"] == 5


def test_references_with_no_map_to_write_is_refused(files, capsys):
    """The scan holds no orientations, and --no-patterns skips the pattern maps: an NPZ of no maps was written."""
    out = files["folder"] / "refs"
    refused(["references", files["scan"], "--no-patterns", "--out", out, "--no-figures"], capsys,
            "scan.h5: no reference map to write: the file holds no orientations")
    assert not out.exists()


@pytest.mark.parametrize("rows, count", [("0-9,", 10), (" 0-9 , 12,", 11), ("3,,5", 2)])
def test_rows_with_a_trailing_or_empty_part_are_read(files, rows, count, capsys):
    assert main(["mean-pattern", str(files["latents"]), "--source", str(files["scan"]), "--rows", rows, "--out",
                 str(files["folder"] / "mean"), "--no-png"]) == 0, capsys.readouterr().err
    assert f"the mean of {count} patterns" in capsys.readouterr().out


def test_a_wrong_part_of_rows_is_named_alone(files, capsys):
    rows = ",".join(str(i) for i in range(150)) + ",x7"  # a long list: the line names the part, not the list
    line = refused(["mean-pattern", files["latents"], "--source", files["scan"], "--rows", rows, "--out",
                    files["folder"] / "mean"], capsys, "--rows must be row ids or ranges like 0-99,150; 'x7' is "
                                                       "neither")
    assert len(line) < 100


@pytest.mark.parametrize("argv, said", [
    (["probe", "{latents}", "--labels", "{labels}", "--cv", "1", "--out", "{folder}/p"], "--cv must be at least 2"),
    (["probe", "{latents}", "--labels", "{labels}", "--min-confidence", "2", "--out", "{folder}/p"],
     "error: --min-confidence must be a probability from 0 to 1"),  # not the labels file's fault
    (["extract", "{scan}", "--model", "{vae}", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["umap", "{latents}", "--n-neighbors", "0", "--out", "{folder}/u.csv"], "--n-neighbors must be an integer >= 2"),
    (["maps", "{latents}", "--smooth", "-1", "--out", "{folder}/m"], "--smooth must be a Gaussian sigma"),
    (["maps", "{latents}", "--dims", "0,y", "--out", "{folder}/m"], "--dims must be dimensions or ranges"),
    (["rank", "{latents}", "--reference", "{refs}", "--n-clusters", "0", "--out", "{folder}/r"],
     "--n-clusters must be an integer >= 1"),
    (["rank", "{latents}", "--reference", "{refs}", "--trend-degree", "-1", "--out", "{folder}/r"],
     "--trend-degree must be an integer >= 0"),
    (["rank", "{latents}", "--reference", "{refs}", "--max-samples", "0", "--out", "{folder}/r"],
     "--max-samples must be an integer >= 3"),
    (["export", "{scan}", "--labels", "{labels}", "--test-fraction", "2", "--out", "{folder}/s.npz"],
     "--test-fraction must lie strictly between 0 and 1"),
    (["train-vae", "{scan}", "--latent-dim", "0", "--out", "{folder}/t"], "--latent-dim must be >= 1"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_a_refusal_names_the_option_typed_not_the_parameter(files, argv, said, capsys):
    refs = files["folder"] / "refs.npy"
    np.save(refs, np.arange(20.0))
    named = {**files, "vae": vae_checkpoint(files["folder"] / "vae.pth"), "refs": refs}
    refused([part.format(**named) for part in argv], capsys, said)


@pytest.mark.parametrize("foreign", ["nenya", "model-only"])
def test_a_foreign_checkpoint_on_resume_is_called_foreign(files, foreign, capsys, one_torch_thread):
    import torch

    from latentcore.models.nenya import NenyaEncoder

    run = files["folder"] / "run"
    run.mkdir()
    if foreign == "nenya":
        torch.save({"model": NenyaEncoder("resnet18", feat_dim=8, nchannels=1).state_dict(), "epoch": 3},
                   run / "checkpoint.pth")
    else:  # a trained model's file (no training state) where the run's checkpoint goes
        vae_checkpoint(run / "checkpoint.pth")
    capsys.readouterr()
    assert main(["train-vae", str(files["scan"]), "--out", str(run), "--epochs", "1", "--input-size", "32",
                 "--channels", "4,8", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # what it reads, then the one error line
    assert err[-1].startswith(f"error: {run / 'checkpoint.pth'}: a foreign checkpoint: not a train-vae run's"), err
    assert len(err) == 2 and "Traceback" not in err[0]
