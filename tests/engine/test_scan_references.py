"""EBSD reference maps of a scan (latentcore.analysis.ebsd.scan_references, `python -m latentcore references`)
on simulated scans with known grains: the boundary overlay marks the true grain boundaries, the grain map
finds the simulated grains, KAM of order 1 and 2 agrees with orix (test-only) and `--kam-order` reaches the
references and the grain table, the twin boundaries of a scan with a Σ3 twin pair are
the pixels orix puts across a boundary within Brandon's tolerance of Σ3 (a hexagonal scan has none, said), `phase`
is offered only with two phases, the VBSE image is contrast-stretched, and `rank` takes references.npz and puts IPF components first for the
dimensions that separate grains; the Schmid factor map is orix's largest Schmid factor over the family's slip systems
(its Miller indices symmetrised), pixel by pixel, and `references --schmid-family bcc --loading-direction 0,0,1`
writes it and records both."""
import base64
import dataclasses
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from latentcore.analysis import rank
from latentcore.analysis.references import read_reference_files
from latentcore.analysis.ebsd.records import ORIENTATION_MAP_PARAMETERS
from latentcore.analysis.ebsd.scan_references import load_npz, scan_references, write_references
from latentcore.data.orientations import Phase
from latentcore.cli import main
from latentcore.demo import DEMO_MODEL
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd, write_h5oina
from latentcore.errors import InputError
from latentcore.figures.reference_figures import rgb_image
from latentcore.extract import extract_file
from latentcore.latents import read_latents
from latentcore.models import load_model

KEYS = {"ipf_x", "ipf_y", "ipf_z", "indexed", "vbse_rgb", "iq", "adp", "boundaries", "twin_boundaries", "grains", "kam",
        "schmid", "x", "y", "units", "step"}
ORIENTATION_KEYS = {"ipf_x", "ipf_y", "ipf_z", "indexed", "boundaries", "twin_boundaries", "grains", "kam", "schmid"}


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
        for name in ("indexed", "iq", "adp", "boundaries", "twin_boundaries", "grains", "kam"):
            assert npz[name].shape == shape
        assert npz["boundaries"].dtype == bool and npz["indexed"].dtype == bool and npz["twin_boundaries"].dtype == bool
        assert not (npz["twin_boundaries"] & ~npz["boundaries"]).any()
        np.testing.assert_allclose(npz["x"], np.arange(32) * 1.5)
        np.testing.assert_allclose(npz["y"], np.arange(24) * 1.5)
        assert str(npz["units"]) == "um" and list(npz["step"]) == [1.5, 1.5]
        bad = scan.is_bad.reshape(shape)  # not indexed (phase 0 in the file): no orientation colour
        assert np.isnan(npz["ipf_z"][bad]).all() and np.isfinite(npz["ipf_z"][~bad]).all()
        np.testing.assert_array_equal(npz["indexed"], ~bad)  # one phase: `indexed`, not a phase map
        np.testing.assert_array_equal(npz["grains"][bad], -1)
        assert np.isnan(npz["kam"][bad]).all()
    report = json.loads((written / "references_report.json").read_text())
    assert report["phases"]["1"]["laue_group"] == "m-3m" and report["parameters"]["boundary_deg"] == 5.0
    assert report["parameters"]["kam_threshold_deg"] == 2.5
    assert report["parameters"]["twin_tolerance_deg"] == pytest.approx(15 / np.sqrt(3))
    assert report["grains"]["count"] == len(report["grains"]["points"]) >= 5
    assert sum(report["grains"]["points"]) == (~bad).sum()
    np.testing.assert_allclose(report["grains"]["areas"], np.array(report["grains"]["points"]) * 1.5 * 1.5)
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
    assert {"ipf_z[r]", "vbse_rgb[b]", "iq", "adp", "boundaries", "indexed", "kam"} <= set(references)
    assert not {"phase", "grains"} & set(references)  # one phase; grain ids are labels, not values
    picked = read_reference_files([f"{written / 'references.npz'}:grains"], latents.x, latents.y, len(values), {})
    np.testing.assert_array_equal(picked["grains"], load_npz(written / "references.npz")[0]["grains"].reshape(-1))
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
    assert set(refs.maps) == ORIENTATION_KEYS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the matplotlib fallback says it is used
        paths = write_references(refs, tmp_path, {"scan": oxford}, browser=None, dpi=72)
    assert all(paths[name].stat().st_size > 1000 for name in refs.maps)
    from latentcore.analysis.ebsd.scan_references import figures
    figs = figures(refs)
    assert [t.type for t in figs["ipf_z"].data] == ["image", "image"]  # the map and its key
    ipf = figs["ipf_z"].data[0]  # a PNG (plotly.js draws an image's z pixel by pixel), of exactly the map's colours
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(ipf.source.split(",", 1)[1]))).convert("RGB"))
    np.testing.assert_array_equal(png, rgb_image(refs.maps["ipf_z"]))
    assert (ipf.x0, ipf.dx, ipf.y0, ipf.dy) == (0, 1.5, 0, 1.5)
    assert "grain 2: " in figs["grains"].data[0].hovertemplate.replace("%{customdata[0]}", "2")
    assert figs["kam"].data[0].colorbar.title.text == "KAM (°)"
    assert figs["boundaries"].data[-1].name == "grain boundaries"
    assert [t.name for t in figs["boundaries"].data].count("grain boundaries") == 1  # one trace: one copy of the lines


def test_a_map_shown_with_a_stride_keeps_the_whole_maps_grain_sizes_areas_and_count(oxford):
    from latentcore.analysis.ebsd.scan_references import map_figure

    refs = scan_references(oxford, patterns=False)
    grains, grid = refs.maps["grains"], refs.grid
    whole, thinned = (map_figure("grains", grains, grid, refs.units, refs.laue, {}, stride=s) for s in (1, 3))
    np.testing.assert_array_equal(thinned.data[0].x, grid.x_values[::3])
    assert np.shape(thinned.data[0].z) == np.shape(grains[::3, ::3])
    ids, points, areas = refs.grains()
    size_of, area_of = dict(zip(ids.tolist(), points.tolist())), dict(zip(ids.tolist(), areas.tolist()))
    shown = np.asarray(thinned.data[0].customdata).reshape(-1, 3)
    shown = shown[shown[:, 0] >= 0]
    assert len(np.unique(shown[:, 0])) < len(ids)  # small grains fall between the shown pixels...
    for grain, size, area in np.unique(shown, axis=0):  # ...but each shown one has the whole map's size and area
        assert size == size_of[int(grain)] and area == pytest.approx(area_of[int(grain)])
    assert thinned.layout.title.text == whole.layout.title.text  # the grain count of the whole map
    kam = map_figure("kam", refs.maps["kam"], grid, refs.units, refs.laue, {}, stride=3)
    np.testing.assert_array_equal(kam.data[0].z, refs.maps["kam"][::3, ::3])


def test_h5ebsd_scans_give_their_maps_info_shows_phases_and_a_missing_file_fails_in_one_line(scan, tmp_path, capsys):
    path = write_h5ebsd(simulate_scan(ScanSettings(n_rows=4, n_columns=5, pattern_size=16, n_grains=2, seed=1)),
                        tmp_path / "small.h5")
    refs = scan_references(path)
    assert "indexed" in refs.maps and "vbse_rgb" in refs.maps
    assert main(["info", str(path)]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["orientations"]["phases"]["0"]["point_group"] == "m-3m"
    assert main(["references", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.h5" in capsys.readouterr().err


@pytest.fixture(scope="module", params=["h5oina", "h5ebsd"])
def simulated(request, oxford, scan, tmp_path_factory):
    """(scan file, its simulation): the module's H5OINA scan (bad points not indexed) and a larger h5ebsd
    one (every point indexed, 8 grains)."""
    if request.param == "h5oina":
        return oxford, scan
    other = simulate_scan(ScanSettings(n_rows=30, n_columns=40, pattern_size=16, n_grains=8, seed=3))
    return write_h5ebsd(other, tmp_path_factory.mktemp("refs_h5ebsd") / "grains.h5"), other


def orix_kam(euler, indexed, threshold_deg, order=1):
    """KAM (degrees) from orix's symmetry-reduced angles (test-only): the mean over the pixels within `order` edge
    steps (order 1: the 4 edge neighbours; 2: the 12 of MTEX's square-grid kernel) within the threshold, NaN where
    not indexed or none is left."""
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import Oh

    n_rows, n_columns = indexed.shape
    rows, columns = np.divmod(np.arange(indexed.size), n_columns)
    offsets = [(dr, dc) for dr in range(order + 1) for dc in range(-order, order + 1)
               if 0 < dr + abs(dc) <= order and (dr or dc > 0)]  # each pair once
    inside = [(0 <= rows + dr) & (rows + dr < n_rows) & (0 <= columns + dc) & (columns + dc < n_columns)
              for dr, dc in offsets]
    first = np.concatenate([np.flatnonzero(kept) for kept in inside])
    second = np.concatenate([np.flatnonzero(kept) + dr * n_columns + dc for kept, (dr, dc) in zip(inside, offsets)])
    both = indexed.ravel()[first] & indexed.ravel()[second]
    first, second = first[both], second[both]
    orientations = Orientation.from_euler(euler.reshape(-1, 3), Oh)
    angles = np.rad2deg(orientations[first].angle_with(orientations[second]))
    kept = angles <= threshold_deg
    total = sum(np.bincount(side[kept], angles[kept], minlength=indexed.size) for side in (first, second))
    count = sum(np.bincount(side[kept], minlength=indexed.size) for side in (first, second))
    with np.errstate(invalid="ignore", divide="ignore"):
        kam = total / count
    kam[~indexed.ravel()] = np.nan
    return kam.reshape(n_rows, n_columns)


@pytest.mark.parametrize("threshold_deg, order", [(2.5, 1), (1.0, 1), (2.5, 2)])
def test_kam_agrees_with_orix_within_a_hundredth_of_a_degree(simulated, threshold_deg, order):
    from latentcore.data import open_source

    path, sim = simulated
    refs = scan_references(path, patterns=False,
                           parameters=ORIENTATION_MAP_PARAMETERS(kam_threshold_deg=threshold_deg, kam_order=order))
    with open_source(path) as reader:
        read = reader.orientations()  # the angles as the file stores them (H5OINA: float32)
    shape = (sim.settings.n_rows, sim.settings.n_columns)
    expected = orix_kam(read.euler.reshape(*shape, 3), read.phase_id.reshape(shape) >= 0, threshold_deg, order)
    kam = refs.maps["kam"]
    np.testing.assert_array_equal(np.isnan(kam), np.isnan(expected))
    assert np.isfinite(kam).mean() > 0.75 and np.nanmax(kam) <= threshold_deg
    assert np.nanmax(np.abs(kam - expected)) < 0.01
    assert refs.parameters["kam_threshold_deg"] == threshold_deg and refs.parameters["kam_order"] == order


@pytest.fixture(scope="module")
def twinned(tmp_path_factory):
    """(an H5OINA of `small_files.twinned_scan`: a Σ3 twin pair, one-pixel grains, bad points; the scan)."""
    from small_files import twinned_scan

    scan, _, _ = twinned_scan()
    return write_h5oina(scan, tmp_path_factory.mktemp("twins") / "twins.h5oina"), scan


def test_twin_boundaries_are_the_pixels_orix_puts_across_a_boundary_within_brandons_tolerance(twinned):
    from orix.quaternion import Misorientation, Orientation, Rotation as OrixRotation
    from orix.quaternion.symmetry import Oh

    from latentcore.analysis.ebsd.scan_references import figures
    from latentcore.data import open_source

    path, sim = twinned
    refs = scan_references(path, patterns=False)
    with open_source(path) as reader:
        read = reader.orientations()  # as stored: float32 angles, bad points not indexed
    shape = (sim.settings.n_rows, sim.settings.n_columns)
    index, indexed = np.arange(len(read.euler)).reshape(shape), read.phase_id >= 0
    expected = np.zeros(len(read.euler), bool)
    for a, b in ((index[:, :-1].ravel(), index[:, 1:].ravel()), (index[:-1].ravel(), index[1:].ravel())):
        both = indexed[a] & indexed[b]
        a, b = a[both], b[both]
        oa, ob = Orientation.from_euler(read.euler[a], Oh), Orientation.from_euler(read.euler[b], Oh)
        sigma3 = OrixRotation.from_axes_angles([1, 1, 1], 60, degrees=True)
        stacked = Misorientation(np.concatenate([(ob * ~oa).data.reshape(-1, 4), sigma3.data]), symmetry=(Oh, Oh))
        twin = (np.rad2deg(stacked.get_distance_matrix(lazy=False)[-1, :-1]) <= 15 / np.sqrt(3)) & \
            (np.rad2deg(oa.angle_with(ob)) > 5)
        expected[a[twin]] = expected[b[twin]] = True
    found = refs.maps["twin_boundaries"]
    np.testing.assert_array_equal(found, expected.reshape(shape))
    assert found.sum() >= 10 and (found <= refs.maps["boundaries"]).all()
    lines = {trace.name: trace for trace in figures(refs)["twin_boundaries"].data[1:]}
    assert list(lines) == ["low-angle", "high-angle", "Σ3 twin"]  # each class its trace, the twins on top
    assert lines["Σ3 twin"].line.color != lines["high-angle"].line.color and len(lines["Σ3 twin"].x) > 0


def test_a_scan_without_a_cubic_phase_has_no_twin_boundaries_and_says_so(oxford, scan):
    from latentcore.analysis.ebsd.scan_references import orientation_references
    from latentcore.data import open_source

    with open_source(oxford) as reader:
        single = reader.orientations()
    titanium = dataclasses.replace(single, phases={1: Phase("Titanium", point_group="6/mmm")})
    refs = orientation_references(titanium, scan.x, scan.y)
    assert "twin_boundaries" not in refs.maps and "boundaries" in refs.maps
    assert any("no cubic (m-3m) phase" in note for note in refs.notes)


def test_the_grain_map_finds_the_simulated_grains(simulated):
    from sklearn.metrics import adjusted_rand_score

    path, sim = simulated
    refs = scan_references(path, patterns=False)
    grains = refs.maps["grains"].reshape(-1)
    indexed = refs.maps["indexed"].reshape(-1)
    assert (grains[~indexed] == -1).all() and (grains[indexed] >= 0).all()
    assert adjusted_rand_score(sim.grain_id[indexed], grains[indexed]) >= 0.99
    ids, points, areas = refs.grains()
    assert points.sum() == indexed.sum() and list(ids) == list(range(len(points)))
    np.testing.assert_allclose(areas, points * sim.settings.step ** 2)


def two_phase(orientations, scan):
    """The scan's orientations with its grains 0-1 called a second (also cubic) phase."""
    phase_id = np.where((orientations.phase_id >= 0) & (scan.grain_id <= 1), 2, orientations.phase_id)
    return dataclasses.replace(orientations, phase_id=phase_id,
                               phases={**orientations.phases, 2: Phase("Copper", point_group="m-3m")})


def test_phase_is_a_reference_only_where_two_phases_are_indexed(oxford, scan):
    from latentcore.analysis.ebsd.scan_references import orientation_references
    from latentcore.data import open_source

    with open_source(oxford) as reader:
        single = reader.orientations()
    one = orientation_references(single, scan.x, scan.y)
    assert "phase" not in one.maps and "phase" not in one.point_values(scan.x, scan.y)
    assert any("one phase" in note for note in one.notes)
    two = orientation_references(two_phase(single, scan), scan.x, scan.y)
    assert "phase" in two.maps and "phase" in two.point_values(scan.x, scan.y)
    assert set(np.unique(two.maps["phase"])) == {-1, 1, 2}
    np.testing.assert_array_equal(two.maps["indexed"], one.maps["indexed"])
    assert not {"grains"} & set(two.point_values(scan.x, scan.y))  # grain ids: labels, never values


def test_the_vbse_image_is_stretched_between_its_percentiles_and_says_so(written, oxford, tmp_path):
    report = json.loads((written / "references_report.json").read_text())
    assert report["parameters"]["vbse_percentiles"] == [1.0, 99.0]
    rgb = load_npz(written / "references.npz")[0]["vbse_rgb"].reshape(-1, 3)
    # the points at or below each channel's 1st percentile are black, those at or above its 99th full bright
    np.testing.assert_array_equal(np.percentile(rgb, 1, axis=0, method="lower"), 0)
    np.testing.assert_array_equal(np.percentile(rgb, 99, axis=0, method="higher"), 1)
    assert ((rgb == 0).mean(0) <= 0.015).all() and ((rgb == 1).mean(0) <= 0.015).all()
    out = tmp_path / "wide"
    assert main(["references", str(oxford), "--out", str(out), "--no-figures", "--vbse-percentiles", "10", "90"]) == 0
    assert json.loads((out / "references_report.json").read_text())["parameters"]["vbse_percentiles"] == [10.0, 90.0]
    wide = load_npz(out / "references.npz")[0]["vbse_rgb"].reshape(-1, 3)
    assert ((wide == 0) | (wide == 1)).mean() > 0.15 > ((rgb == 0) | (rgb == 1)).mean()  # more clipped
    assert main(["references", str(oxford), "--out", str(out), "--vbse-percentiles", "90", "10"]) == 2
    read = []  # in Python too, before any pattern is read
    with pytest.raises(InputError, match=r"VBSE percentiles must satisfy 0 <= low < high <= 100, got \(90, 10\)"):
        scan_references(oxford, vbse_percentiles=(90, 10), progress=lambda done, total: read.append(done))
    assert read == []


def test_a_few_bright_outliers_no_longer_darken_the_vbse_image():
    from latentcore.analysis.ebsd.pattern_maps import vbse_rgb

    vbse = np.tile(np.linspace(1, 2, 1000), (1, 3, 1))
    vbse[..., :5] = 1e6  # five hot pixels
    stretched, plain = vbse_rgb(vbse), vbse_rgb(vbse, percentiles=(0, 100))
    assert np.median(plain) < 1e-5 and 0.45 < np.median(stretched) < 0.55


def test_kam_order_2_reaches_the_reference_maps_and_the_grain_table(oxford, written, tmp_path):
    """`references --kam-order 2`: the NPZ's KAM is the order-2 map, its report's parameters and the map's record say
    the order; `grains --kam-order 2`: each grain's kam_deg is its points' mean of that map."""
    from latentcore.analysis.ebsd.records import REFERENCE_MAPS

    out = tmp_path / "order2"
    assert main(["references", str(oxford), "--out", str(out), "--no-patterns", "--no-figures", "--kam-order",
                 "2"]) == 0
    second = load_npz(out / "references.npz")[0]
    assert json.loads((out / "references_report.json").read_text())["parameters"]["kam_order"] == 2
    expected = scan_references(oxford, patterns=False, parameters=ORIENTATION_MAP_PARAMETERS(kam_order=2)).maps["kam"]
    np.testing.assert_array_equal(second["kam"], expected)
    first = load_npz(written / "references.npz")[0]["kam"]
    assert json.loads((written / "references_report.json").read_text())["parameters"]["kam_order"] == 1
    assert np.nanmean(np.abs(second["kam"] - first)) > 0.01  # a wider kernel: another map
    assert "of order 2: the mean misorientation (°, symmetry-reduced) of each point to the 12 pixels within 2 edge " \
           "steps" in REFERENCE_MAPS["kam"].described(ORIENTATION_MAP_PARAMETERS(kam_order=2))
    assert main(["grains", str(oxford), "--kam-order", "2", "--out", str(tmp_path / "grains")]) == 0
    [table] = (tmp_path / "grains").glob("grains__*.csv")
    grains = pd.read_csv(table).set_index("grain")
    ids = second["grains"]
    means = [np.nanmean(second["kam"][ids == g]) if np.isfinite(second["kam"][ids == g]).any() else np.nan
             for g in grains.index]
    np.testing.assert_allclose(grains["kam_deg"], means, rtol=1e-9)
    [report] = (tmp_path / "grains").glob("grains_report__*.json")
    assert json.loads(report.read_text())["parameters"]["kam_order"] == 2


# -- the Schmid factor map ---------------------------------------------------------------------------------------

ORIX_FAMILIES = {"fcc": ((1, 1, 1), (1, 1, 0)), "bcc": ((1, 1, 0), (1, 1, 1))}  # {plane}<direction>, as metallurgy


def orix_schmid(euler, family, loading):
    """(N,) the largest Schmid factor of each orientation, all from orix (test-only): the loading direction taken
    into the crystal frame by orix's Orientation of the Euler angles (as its IPF colour key takes a sample direction),
    the planes and directions of the family by its Miller indices symmetrised in m-3m, every perpendicular pair a slip
    system (each of the 12 four times: both signs of its normal and of its direction), |cos phi cos lambda| each."""
    from orix.crystal_map import Phase as OrixPhase
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import Oh
    from orix.vector import Miller, Vector3d

    cubic = OrixPhase(point_group="m-3m")
    plane, direction = ORIX_FAMILIES[family]
    normals = Miller(hkl=plane, phase=cubic).symmetrise(unique=True).unit.data
    slips = Miller(uvw=direction, phase=cubic).symmetrise(unique=True).unit.data
    systems = [(n, d) for n in normals for d in slips if abs(n @ d) < 1e-9]
    assert len(systems) == 4 * 12
    crystal = (Orientation.from_euler(euler, Oh) * Vector3d(loading).unit).data.reshape(-1, 3)
    crystal = crystal / np.linalg.norm(crystal, axis=1, keepdims=True)
    return np.max([np.abs((crystal @ n) * (crystal @ d)) for n, d in systems], axis=0)


@pytest.mark.parametrize("family, loading", [("fcc", (1, 0, 0)), ("bcc", (0, 0, 1)), ("fcc", (1, -2, 3))])
def test_the_schmid_factor_map_is_orixs_largest_schmid_factor_pixel_by_pixel(oxford, family, loading):
    from latentcore.data import open_source

    parameters = ORIENTATION_MAP_PARAMETERS(schmid_family=family, loading_direction=loading)
    refs = scan_references(oxford, patterns=False, parameters=parameters)
    with open_source(oxford) as reader:
        read, (x, y) = reader.orientations(), reader.coordinates("all")
    schmid = refs.point_values(x, y)["schmid"]
    indexed = read.phase_id >= 0
    assert (~indexed).any() and np.isnan(schmid[~indexed]).all()  # the bad points: blank
    expected = orix_schmid(read.euler[indexed], family, loading)
    np.testing.assert_allclose(schmid[indexed], expected, rtol=0, atol=1e-9)
    assert 0 < schmid[indexed].min() and schmid[indexed].max() <= 0.5
    assert refs.parameters["schmid_family"] == family and refs.parameters["loading_direction"] == list(map(float, loading))


def test_schmid_factors_of_known_orientations():
    """The cube orientation (crystal axes along the sample's) by hand: loaded along [001] the best fcc and bcc systems
    give 1/sqrt(6) (0.408: cos phi 1/sqrt(3), cos lambda 1/sqrt(2), or the reverse); fcc along [111] 2/(3 sqrt(6))
    (0.272: the (111) plane's systems give 0) and along [110] 1/sqrt(6) again."""
    from latentcore.analysis.ebsd import orientation as ori

    cube = np.zeros((1, 3))
    for family in ("fcc", "bcc"):
        assert ori.slip_systems(family)[0].shape == (12, 3)
        assert ori.schmid_factors(cube, family, (0, 0, 1))[0] == pytest.approx(1 / np.sqrt(6))
    assert ori.schmid_factors(cube, "fcc", (1, 1, 1))[0] == pytest.approx(2 / (3 * np.sqrt(6)))
    assert ori.schmid_factors(cube, "fcc", (1, 1, 0))[0] == pytest.approx(1 / np.sqrt(6))


def test_the_references_command_writes_the_schmid_map_of_the_family_and_direction_given(oxford, tmp_path, capsys):
    """`references --schmid-family bcc --loading-direction 0,0,1`: the NPZ's `schmid` is orix's bcc {110}<111> map for
    loading along z, the report records both, the map's record says them; a direction of zeros and an unknown family
    are refused in one line naming the option, before any file is written."""
    from cli_lines import refused

    from latentcore.analysis.ebsd.records import REFERENCE_MAPS
    from latentcore.data import open_source

    out = tmp_path / "bcc"
    assert main(["references", str(oxford), "--out", str(out), "--no-patterns", "--no-figures",
                 "--schmid-family", "bcc", "--loading-direction", "0,0,1"]) == 0
    maps, grid, _, _ = load_npz(out / "references.npz")
    with open_source(oxford) as reader:
        read, (x, y) = reader.orientations(), reader.coordinates("all")
    rows, columns = grid.indices(x, y)
    indexed = read.phase_id >= 0
    written_map = maps["schmid"][rows, columns]
    np.testing.assert_allclose(written_map[indexed], orix_schmid(read.euler[indexed], "bcc", (0, 0, 1)), atol=1e-9)
    report = json.loads((out / "references_report.json").read_text())
    assert report["parameters"]["schmid_family"] == "bcc" and report["parameters"]["loading_direction"] == [0, 0, 1]
    parameters = ORIENTATION_MAP_PARAMETERS.from_record(report["parameters"])
    assert "12 bcc {110}<111> slip systems for uniaxial loading along [0 0 1]" in \
        REFERENCE_MAPS["schmid"].described(parameters)
    for option, value, said in (("--loading-direction", "0,0,0", "--loading-direction must be three finite numbers"),
                                ("--loading-direction", "1,0", "--loading-direction must be three finite numbers"),
                                ("--schmid-family", "hcp", "--schmid-family must be one of fcc, bcc, got 'hcp'"),
                                ("--kam-order", "8", "--kam-order must be one of 1, 2, 3, got 8: choose")):
        refused(["references", oxford, "--out", tmp_path / "refused", "--no-patterns", option, value], capsys, said)
    assert not (tmp_path / "refused").exists()
