"""The Rank page through the real app with AppTest: band contrast first and the default, the maps of an uploaded
NPZ (the `references.npz` the `references` command writes, or maps on the scan grid) as choices that rank, the
upload and the chosen references in the ranking's report, the maps an upload added listed where it is accepted, and
a wrong array refused in one line naming it."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from driving import extracted, new_app, run, texts, url_workspace

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("private_folders")]


def upload(at, name: str, data: bytes):
    at.file_uploader(key="rank_upload").set_value([(name, data, "application/octet-stream")])
    return run(at, errors_ok=True)


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_band_contrast_is_the_first_reference_and_the_default():
    at = run(extracted(new_app()), "rank")
    picker = at.multiselect(key="rank_references")
    assert picker.options[0] == "band contrast"
    assert picker.value == ["band contrast"]
    assert set(at.dataframe[0].value["reference"]) == {"band contrast"}


def test_an_uploaded_references_npz_gives_maps_that_rank_and_its_sha256_goes_in_the_report(references_npz,
                                                                                          downloads):
    at = run(extracted(new_app()), "rank")
    at = upload(at, "references.npz", references_npz.read_bytes())
    assert not at.error, texts(at.error)
    offered = at.multiselect(key="rank_references").options
    assert {"references:iq", "references:adp", "references:vbse_rgb[r]"} <= set(offered)
    assert offered[0] == "band contrast"
    run(at.multiselect(key="rank_references").set_value(["band contrast", "references:iq"]))
    best = at.dataframe[0].value
    assert list(dict.fromkeys(best["reference"])) == ["band contrast", "references:iq"]
    assert best.groupby("reference")["dimension"].count().min() >= 1
    report = json.loads(downloads["ranking_report__pearson_top4.json"]())
    assert report["references"] == ["band contrast", "references:iq"]
    assert report["inputs"]["references_upload"]["sha256"] == hashlib.sha256(references_npz.read_bytes()).hexdigest()


def test_an_accepted_upload_says_which_maps_it_added_and_where_as_named(references_npz):
    """The file's and its arrays' names are drawn as they are: Markdown would read `:vbse_rgb[r]` as a directive and
    a name holding `[see](http://...)` as a link."""
    from ui.widgets.common import plain

    at = run(extracted(new_app()), "rank")
    with np.load(references_npz) as maps:
        data = npz_bytes(**maps, **{"`odd` [see](http://example.org)": maps["iq"]})
    at = upload(at, "references.npz", data)
    added = [name for name in at.multiselect(key="rank_references").options if name.startswith("references:")]
    said = texts(at.success)
    assert len(added) >= 6 and "references:`odd` [see](http://example.org)" in added, added
    named = ", ".join(plain(name) for name in added)
    assert f"references.npz: {len(added)} maps added to the reference maps below: {named}" in said, said
    assert "\\`odd\\` \\[see\\]" in said  # no code span, no link
    assert "/" not in said.replace("http\\://example.org", "")  # the file's name, never where the server keeps it


def test_the_uploaded_npz_and_the_maps_chosen_of_it_survive_a_reload(references_npz):
    at = run(extracted(new_app()), "rank")
    at = upload(at, "references.npz", references_npz.read_bytes())
    run(at.multiselect(key="rank_references").set_value(["band contrast", "references:adp"]))
    reloaded = run(new_app(workspace_id=url_workspace(at)), "rank")  # F5: the upload widget is empty again
    assert reloaded.selectbox(key="rank_npz").value == "references.npz"
    assert reloaded.multiselect(key="rank_references").value == ["band contrast", "references:adp"]
    assert list(dict.fromkeys(reloaded.dataframe[0].value["reference"])) == ["band contrast", "references:adp"]


def test_maps_on_the_scan_grid_and_per_row_values_with_nan_rank():
    at = run(extracted(new_app()), "rank")
    n_rows = 40 * 60
    ramp = np.tile(np.arange(60, dtype=np.float64), (40, 1))  # the demo scan's grid: 40 rows, 60 columns
    ramp[0, :5] = np.nan
    at = upload(at, "mine.npz", npz_bytes(ramp=ramp, noise=np.random.default_rng(0).normal(size=n_rows)))
    assert not at.error, texts(at.error)
    run(at.multiselect(key="rank_references").set_value(["mine:ramp", "mine:noise"]))
    best = at.dataframe[0].value
    assert set(best["reference"]) == {"mine:ramp", "mine:noise"}
    assert (best[best["reference"] == "mine:ramp"]["n_nan_dropped"] == 5).all()


@pytest.mark.parametrize("arrays, said", [
    ({"bad": np.zeros((3, 4))}, "array 'bad' has shape (3, 4)"),
    ({"words": np.array(["a", "b"])}, "array 'words' is of type"),
    ({"pickled": np.array([{"a": 1}], dtype=object)}, "array 'pickled' cannot be read"),
])
def test_a_wrong_npz_is_refused_in_one_line_naming_the_file_and_the_array(arrays, said):
    at = run(extracted(new_app()), "rank")
    at = upload(at, "hostile.npz", npz_bytes(**arrays))  # an object array is pickled into the file
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "hostile.npz" in errors[0] and said in errors[0], errors
    assert "\n" not in errors[0]
    assert at.multiselect(key="rank_references").value == ["band contrast"]  # the page still ranks without it
    assert set(at.dataframe[0].value["reference"]) == {"band contrast"}


def test_an_npz_whose_header_declares_a_tera_values_is_refused_in_one_line():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as archive:
        archive.writestr("iq.npy", header.getvalue() + bytes(8))
    at = upload(run(extracted(new_app()), "rank"), "forged.npz", forged.getvalue())
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "forged.npz: array 'iq' declares (1000000000000,) float64 values" in errors[0], errors
    assert "/" not in errors[0]
    assert set(at.dataframe[0].value["reference"]) == {"band contrast"}  # the page still ranks without it


def test_the_labels_are_a_reference_scored_by_ari_and_nmi_and_their_csv_goes_in_the_report(downloads):
    from latentcore.analysis.labels.labelled import LabelledRows

    at = run(extracted(new_app()), "rank")
    at.session_state["labels"] = LabelledRows.from_names(np.arange(0, 2400, 20), ["left", "right"] * 60)
    run(at)
    assert "labels" in at.multiselect(key="rank_references").options
    run(at.multiselect(key="rank_metrics").set_value(["pearson", "ari", "nmi"]))
    run(at.multiselect(key="rank_references").set_value(["labels"]))
    best = at.dataframe[0].value
    assert set(best["kind"]) == {"labels"} and set(best["ranked_by"]) == {"ari"}
    assert (best["n_valid"] == 120).all()
    report = json.loads(downloads["ranking_report__pearson_top4.json"]())
    assert report["references"] == ["labels"] and report["inputs"]["labels"]["name"] == "labels.csv"
