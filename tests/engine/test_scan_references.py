"""EBSD reference maps of a scan (latentcore.analysis.ebsd.scan_references, `python -m latentcore references`)
on simulated scans with known grains: the boundary overlay marks the true grain boundaries, `rank` takes
references.npz and puts IPF components first for the dimensions that separate grains."""
import json
import warnings

import numpy as np
import pytest

from latentcore.analysis import rank
from latentcore.analysis.references import read_reference_files
from latentcore.analysis.ebsd.scan_references import load_npz, scan_references, write_references
from latentcore.cli import main
from latentcore.demo import DEMO_MODEL
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd, write_h5oina
from latentcore.extract import extract_file
from latentcore.latents import read_latents
from latentcore.models import load_model

KEYS = {"ipf_x", "ipf_y", "ipf_z", "phase", "vbse_rgb", "iq", "adp", "boundaries", "x", "y", "units", "step"}


@pytest.fixture(scope="module")
def scan():
    return simulate_scan(ScanSettings(n_rows=24, n_columns=32, pattern_size=60, n_grains=5, seed=2))


@pytest.fixture(scope="module")
def oxford(scan, tmp_path_factory):
    return write_h5oina(scan, tmp_path_factory.mktemp("refs") / "grains.h5oina")


@pytest.fixture(scope="module")
def written(oxford, tmp_path_factory):
    out = tmp_path_factory.mktemp("refs_out")
    assert main(["references", str(oxford), "--out", str(out), "--no-figures"]) == 0
    return out


def dilate(mask):
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def test_references_npz_holds_every_map_on_the_scan_grid(written, scan):
    with np.load(written / "references.npz", allow_pickle=False) as npz:
        assert set(npz.files) == KEYS
        shape = (24, 32)
        for name in ("ipf_x", "ipf_y", "ipf_z", "vbse_rgb"):
            assert npz[name].shape == (*shape, 3)
        for name in ("phase", "iq", "adp", "boundaries"):
            assert npz[name].shape == shape
        assert npz["boundaries"].dtype == bool
        np.testing.assert_allclose(npz["x"], np.arange(32) * 1.5)
        np.testing.assert_allclose(npz["y"], np.arange(24) * 1.5)
        assert str(npz["units"]) == "um" and list(npz["step"]) == [1.5, 1.5]
        bad = scan.is_bad.reshape(shape)  # not indexed (phase 0 in the file): no orientation colour
        assert np.isnan(npz["ipf_z"][bad]).all() and np.isfinite(npz["ipf_z"][~bad]).all()
        np.testing.assert_array_equal(npz["phase"][bad], -1)
        np.testing.assert_array_equal(npz["phase"][~bad], 1)
    report = json.loads((written / "references_report.json").read_text())
    assert report["phases"]["1"]["laue_group"] == "m-3m" and report["parameters"]["boundary_deg"] == 5.0
    assert report["inputs"]["scan"]["sha256"] and report["versions"]["numpy"]


def test_boundaries_mark_the_true_grain_boundaries_within_one_pixel(written, scan):
    boundaries = load_npz(written / "references.npz")[0]["boundaries"]
    grains = scan.grain_id.reshape(24, 32)
    truth = np.zeros_like(boundaries)  # points with a 4-neighbour in another grain
    truth[:, :-1] |= grains[:, :-1] != grains[:, 1:]
    truth[:, 1:] |= grains[:, :-1] != grains[:, 1:]
    truth[:-1] |= grains[:-1] != grains[1:]
    truth[1:] |= grains[:-1] != grains[1:]
    indexed = ~scan.is_bad.reshape(24, 32)
    assert boundaries.sum() > 40
    assert not (boundaries & ~dilate(truth)).any()  # nothing inside a grain
    assert not (truth & indexed & ~dilate(boundaries)).any()  # every boundary found


def test_rank_puts_ipf_components_first_for_the_dimensions_that_separate_grains(written, oxford, scan, tmp_path,
                                                                              one_torch_thread):
    latents = read_latents(extract_file(oxford, load_model(DEMO_MODEL), tmp_path).path)
    assert latents.orientations.phases[1].point_group == "m-3m"  # the latents file keeps the orientations
    np.testing.assert_allclose(latents.orientations.euler, scan.euler, atol=1e-6)
    values = latents.partitions["all"]
    references = read_reference_files([str(written / "references.npz")], latents.x, latents.y, len(values), {})
    assert {"ipf_z[r]", "vbse_rgb[b]", "iq", "adp", "boundaries", "phase"} <= set(references)
    interior = ~scan.is_boundary & ~scan.is_bad
    grain = scan.grain_id[interior]

    def grain_separation(v):  # share of the variance between grains
        v = v[interior]
        return sum((grain == k).sum() * (v[grain == k].mean() - v.mean()) ** 2 for k in np.unique(grain)) / \
            ((v - v.mean()) ** 2).sum()

    separating = np.argsort([-grain_separation(values[:, d]) for d in range(values.shape[1])])[:3]
    table = rank.rank_dimensions(values, references, latents.x, latents.y, metrics=["mutual_information"],
                                 dimensions=separating)
    for place, dim in enumerate(separating):
        best = table[table.dimension == dim].sort_values("mutual_information", ascending=False).reference
        top = list(best[:1] if place == 0 else best[:5])
        assert any(name.startswith("ipf_") for name in top), (dim, list(best[:5]))
    out = tmp_path / "ranked"
    assert main(["rank", str(latents.path), "--reference", f"{written / 'references.npz'}:ipf_z",
                 "--out", str(out), "--metrics", "pearson", "--no-figures"]) == 0
    assert any(out.glob("*.csv"))


def test_figures_have_colour_keys_legends_and_the_overlay(oxford, tmp_path):
    refs = scan_references(oxford, patterns=False)  # orientation maps only
    assert set(refs.maps) == {"ipf_x", "ipf_y", "ipf_z", "phase", "boundaries"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the matplotlib fallback says it is used
        paths = write_references(refs, tmp_path, oxford, browser=None, dpi=72)
    assert all(paths[name].stat().st_size > 1000 for name in refs.maps)
    from latentcore.analysis.ebsd.scan_references import figures
    figs = figures(refs)
    assert [t.type for t in figs["ipf_z"].data] == ["image", "image"]  # the map and its key
    assert "1: Nickel" in [t.name for t in figs["phase"].data]
    assert figs["boundaries"].data[-1].name == "grain boundaries"


def test_h5ebsd_scans_give_their_maps_info_shows_phases_and_a_missing_file_fails_in_one_line(scan, tmp_path, capsys):
    path = write_h5ebsd(simulate_scan(ScanSettings(n_rows=4, n_columns=5, pattern_size=16, n_grains=2, seed=1)),
                        tmp_path / "small.h5")
    refs = scan_references(path)
    assert "phase" in refs.maps and "vbse_rgb" in refs.maps
    assert main(["info", str(path)]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["orientations"]["phases"]["0"]["point_group"] == "m-3m"
    assert main(["references", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.h5" in capsys.readouterr().err
