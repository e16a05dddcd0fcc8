"""Vendor EBSD readers against kikuchipy (a test-only dependency, GPL-3.0, never imported by
latentcore): the files bundled in its wheel, the files its dummy-file helpers write, and .ebsp files
of every version written here from the format description. Patterns must equal kikuchipy's reading
and coordinates its crystal map; each file opens with `info` and `extract` (the demo VAE)."""
import json
import pickle
import shutil
import warnings
from pathlib import Path

import h5py
import kikuchipy as kp
import numpy as np
import pytest
from kikuchipy.data._dummy_files.bruker_h5ebsd import (create_dummy_bruker_h5ebsd_file,
                                                        create_dummy_bruker_h5ebsd_nonrectangular_roi_file,
                                                        create_dummy_bruker_h5ebsd_roi_file)
from kikuchipy.data._dummy_files.oxford_h5ebsd import create_dummy_oxford_h5ebsd_file

import latentcore
from latentcore.cli import main
from latentcore.data import open_source
from latentcore.errors import InputError
from latentcore.latents import read_latents
from vendor_writers import write_bruker_roi, write_ebsp, write_up2_square

KIKUCHIPY_DATA = Path(kp.__file__).parent / "data"
BUNDLED = ["kikuchipy_h5ebsd/patterns.h5", "kikuchipy_h5ebsd/patterns_nochunks.h5", "edax_h5ebsd/patterns.h5",
           "edax_binary/edax_binary.up1", "edax_binary/edax_binary.up2", "oxford_binary/patterns.ebsp",
           "nordif/Pattern.dat", "emsoft_ebsd/simulated_ebsd.h5", "emsoft_ebsd/EBSD_TEST_Ni.h5"]
WRITTEN = ["bruker.h5", "bruker_roi.h5", "oxford.h5oina", "v0.ebsp", "v1_uint16.ebsp", "v2.ebsp", "v3.ebsp",
           "v4.ebsp", "v5.ebsp", "v2_non_indexed.ebsp", "square_v3.up2"]
DEMO_VAE = Path(latentcore.__file__).parent / "demo" / "vae_model.pth"


@pytest.fixture(scope="module")
def small_patterns():
    return kp.data.nickel_ebsd_small().data  # (3, 3, 60, 60) uint8, bundled in the wheel


@pytest.fixture(scope="module")
def written(tmp_path_factory, small_patterns):
    folder = tmp_path_factory.mktemp("vendor")
    create_dummy_bruker_h5ebsd_file(folder / "bruker.h5")
    create_dummy_bruker_h5ebsd_roi_file(folder / "bruker_roi.h5")
    create_dummy_bruker_h5ebsd_nonrectangular_roi_file(folder / "bruker_nonrectangular_roi.h5")
    create_dummy_oxford_h5ebsd_file(folder / "oxford.h5oina")
    two_by_four = np.concatenate([small_patterns[:2], small_patterns[:2, :1] // 2], axis=1)  # (2, 4, ...)
    for version in (0, 2, 3, 4, 5):
        write_ebsp(folder / f"v{version}.ebsp", two_by_four, version)
    write_ebsp(folder / "v1_uint16.ebsp", two_by_four.astype(np.uint16) * 200, 1)
    write_ebsp(folder / "v2_non_indexed.ebsp", two_by_four, 2, stored=[1, 1, 1, 1, 1, 0])
    write_up2_square(folder / "square_v3.up2", two_by_four)
    return folder


def vendor_path(name, written):
    return written / name if name in WRITTEN else KIKUCHIPY_DATA / name


def kikuchipy_reading(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kikuchipy's own notes (hexagonal grid, unclosed file, ...)
        signal = kp.load(path)
    patterns = signal.data.reshape(-1, *signal.data.shape[-2:])
    return signal, np.asarray(patterns)


@pytest.mark.parametrize("name", BUNDLED + WRITTEN)
def test_patterns_and_coordinates_are_kikuchipys(name, written):
    path = vendor_path(name, written)
    signal, expected = kikuchipy_reading(path)
    with open_source(path) as reader:
        n = reader.count("all")
        patterns = reader.read("all", 0, n)
        x, y = reader.coordinates()
        assert reader.info().item_shape == (1, *expected.shape[1:])
        np.testing.assert_array_equal(reader.read_rows("all", [n - 1, 0]), patterns[[n - 1, 0]])
    assert patterns.dtype == np.float32 and patterns.shape[0] == len(expected)
    np.testing.assert_array_equal(patterns[:, 0], expected)  # exact: every stored integer fits a float32
    xmap = signal.xmap
    if xmap is not None and xmap.x is not None and xmap.size == n:
        np.testing.assert_allclose(x, xmap.x)
        np.testing.assert_allclose(y, 0 if xmap.y is None else xmap.y)
    elif signal.axes_manager.navigation_dimension == 2:  # no crystal map: kikuchipy's scan axes
        axis_x, axis_y = signal.axes_manager["x"], signal.axes_manager["y"]
        np.testing.assert_allclose(x, axis_x.offset + axis_x.scale * (np.arange(n) % axis_x.size))
        np.testing.assert_allclose(y, axis_y.offset + axis_y.scale * (np.arange(n) // axis_x.size))


@pytest.mark.parametrize("name", BUNDLED + WRITTEN)
def test_every_file_opens_with_info_and_extract(name, written, tmp_path, capsys, one_torch_thread):
    path = vendor_path(name, written)
    if path.name == "Pattern.dat":  # NORDIF needs its Setting.txt: copy the pair
        shutil.copy(path.with_name("Setting.txt"), tmp_path / "Setting.txt")
    copy = shutil.copy(path, tmp_path / path.name)
    assert main(["info", str(copy)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["has_coordinates"] and info["item_shape"][0] == 1
    assert main(["extract", str(copy), "--model", str(DEMO_VAE), "--out", str(tmp_path / "out"),
                 "--device", "cpu"]) == 0
    latents = read_latents(tmp_path / "out" / f"{copy.stem}__demo-vae_latents.h5")
    n = info["partitions"]["all"]
    assert latents.partitions["all"].shape[0] == n and np.isfinite(latents.partitions["all"]).all()
    with open_source(copy) as reader:
        x, y = reader.coordinates()
    np.testing.assert_array_equal(latents.x, x)
    np.testing.assert_array_equal(latents.y, y)
    assert json.loads(latents.attrs["source_warnings"]) == info["extra"].get("warnings", [])


def test_edax_y_position_repeating_x_falls_back_to_the_grid(tmp_path, one_torch_thread):
    path = KIKUCHIPY_DATA / "edax_h5ebsd/patterns.h5"
    with h5py.File(path) as f:  # the file as kikuchipy ships it: Y Position is a copy of X Position
        data = f["Scan 1/EBSD/Data"]
        np.testing.assert_array_equal(data["Y Position"][()], data["X Position"][()])
    with open_source(path) as reader:
        info = reader.info()
        x, y = reader.coordinates()
    assert info.extra["coordinates"] == "grid"
    assert info.extra["warnings"] == ["stored coordinates 'Y Position' repeats 'X Position': the scan is placed "
                                      "on its header grid 3 x 3 (step 1.5, 1.5)"]
    np.testing.assert_array_equal(x, [0, 1.5, 3] * 3)
    np.testing.assert_array_equal(y, np.repeat([0, 1.5, 3], 3))


def write_h5ebsd(path, x, y, n_rows=2, n_columns=3, step=0.5):
    """kikuchipy's h5ebsd layout, with the stored coordinates given."""
    patterns = np.arange(n_rows * n_columns * 4 * 5, dtype=np.uint8).reshape(-1, 4, 5)
    with h5py.File(path, "w") as f:
        f["Scan 1/EBSD/Data/patterns"] = patterns
        for name, value in [("n_rows", n_rows), ("n_columns", n_columns), ("step_x", step), ("step_y", step)]:
            f[f"Scan 1/EBSD/Header/{name}"] = [value]
        f["Scan 1/EBSD/CrystalMap/crystal_map/data/x"] = np.asarray(x, float)
        f["Scan 1/EBSD/CrystalMap/crystal_map/data/y"] = np.asarray(y, float)
    return path


@pytest.mark.parametrize("x, y, source, why", [
    ([10, 10.5, 11, 11, 10.5, 10], [5, 5, 5, 5.5, 5.5, 5.5], "stored", None),  # snake order, offset origin
    ([0, 0.25, 0.5, 0, 0.25, 0.5], [0, 0, 0, 0.5, 0.5, 0.5], "grid", "put 2 points between the nodes"),
    ([0, 0.5, 1, 1.5, 2, 2.5], [0, 0, 0, 0, 0, 0], "grid", "span 1 x 6 points, more than the header grid 2 x 3"),
    ([0, 0.5, 1, 0, 0.5, 0.5], [0, 0, 0, 0.5, 0.5, 0.5], "grid", "put 1 points on a node another point"),
])
def test_stored_coordinates_are_checked_against_the_header_grid(tmp_path, x, y, source, why):
    with open_source(write_h5ebsd(tmp_path / "scan.h5", x, y)) as reader:
        info = reader.info()
        got_x, got_y = reader.coordinates()
    assert info.extra["coordinates"] == source
    if source == "stored":
        assert "warnings" not in info.extra
        np.testing.assert_array_equal(got_x, x)
        np.testing.assert_array_equal(got_y, y)
    else:
        assert len(info.extra["warnings"]) == 1 and why in info.extra["warnings"][0]
        np.testing.assert_array_equal(got_x, [0, 0.5, 1, 0, 0.5, 1])
        np.testing.assert_array_equal(got_y, [0, 0, 0, 0.5, 0.5, 0.5])


def test_bruker_roi_rows_and_quality_maps_follow_the_map_order(written, tmp_path):
    path = shutil.copy(written / "bruker_roi.h5", tmp_path / "roi.h5")
    with h5py.File(path, "a") as f:  # a quality map that tells the stored patterns apart
        data = f["Scan 0/EBSD/Data"]
        data["RadonQuality"][...] = data["RawPatterns"][()].mean(axis=(1, 2))
    with open_source(path) as reader:
        assert reader.info().grid_shape == (3, 2) and reader.layout.order is not None
        maps = reader.point_maps()
        rows = reader.read("all", 1, 5)  # a slice across the reordering
        np.testing.assert_allclose(maps["RadonQuality"], reader.read("all", 0, 6).mean(axis=(1, 2, 3)), rtol=1e-6)
        np.testing.assert_array_equal(rows, reader.read_rows("all", [1, 2, 3, 4]))
        assert set(maps) == {"RadonQuality", "MAD", "NIndexedBands", "RadonBandCount"}


def test_bruker_non_rectangular_roi_fills_part_of_its_box(written, tmp_path, one_torch_thread):
    """kikuchipy refuses this ROI: the reference is the file itself (pattern i at IY[i], IX[i])."""
    path = written / "bruker_nonrectangular_roi.h5"
    with h5py.File(path) as f:
        stored = f["Scan 0/EBSD/Data/RawPatterns"][()]
        iy, ix = f["Scan 0/EBSD/SEM/IY"][()], f["Scan 0/EBSD/SEM/IX"][()]
    with open_source(path) as reader:
        info = reader.info()
        patterns = reader.read("all", 0, reader.count("all"))[:, 0]
        x, y = reader.coordinates()
    assert info.grid_shape == (3, 2) and info.partitions == {"all": 5}
    at = {(1.5 * (c - ix.min()), 1.5 * (r - iy.min())): i for i, (r, c) in enumerate(zip(iy, ix))}
    assert sorted(zip(y, x)) == list(zip(y, x))  # rows in map order
    for row, point in enumerate(zip(x, y)):
        np.testing.assert_array_equal(patterns[row], stored[at[point]])
    assert main(["extract", str(path), "--model", str(DEMO_VAE), "--out", str(tmp_path), "--device", "cpu"]) == 0
    latents = read_latents(tmp_path / "bruker_nonrectangular_roi__demo-vae_latents.h5")
    assert latents.partitions["all"].shape[0] == 5 and latents.grid_shape == (3, 2)


@pytest.mark.parametrize("stored", ["shuffled", "rows reversed"])
def test_bruker_roi_stored_in_any_order_reads_in_map_order(tmp_path, stored):
    patterns = np.random.default_rng(3).integers(0, 255, (4, 10, 3, 5), dtype=np.uint8)
    points = np.arange(40).reshape(4, 10)
    order = np.random.default_rng(4).permutation(40) if stored == "shuffled" else points[:, ::-1].ravel()
    path = write_bruker_roi(tmp_path / "roi.h5", patterns, order)
    with open_source(path) as reader:
        batches = list(reader.iter_batches("all", batch_size=3))
        np.testing.assert_array_equal(reader.point_maps()["MAD"], np.arange(40))  # map k holds point k
        x, y = reader.coordinates()
    np.testing.assert_array_equal(np.concatenate([b for b, _ in batches])[:, 0], patterns.reshape(40, 3, 5))
    np.testing.assert_array_equal(x, 1.5 * (np.arange(40) % 10))
    np.testing.assert_array_equal(y, 1.5 * (np.arange(40) // 10))


def test_binary_readers_pickle_and_read_after_close(written):
    with open_source(written / "v2.ebsp") as reader:
        first = reader.read("all", 0, 6)
        clone = pickle.loads(pickle.dumps(reader))
        reader.close()
        np.testing.assert_array_equal(reader.read("all", 2, 4), first[2:4])
    np.testing.assert_array_equal(clone.read("all", 0, 6), first)
    assert isinstance(clone.records, np.memmap)


def corrupt(tmp_path, name, written):
    """(path, expected message) of a broken variant of a vendor file."""
    if name.startswith("nordif_settings"):  # kikuchipy's Setting.txt with another scan or pattern size
        settings = (KIKUCHIPY_DATA / "nordif/Setting.txt").read_bytes()
        wrong = {"nordif_settings_4x3": (b"samples\t3x3", b"samples\t4x3"),
                 "nordif_settings_60x": (b"Resolution\t60x60", b"Resolution\t60x")}[name]
        (tmp_path / "Setting.txt").write_bytes(settings.replace(*wrong))
        shutil.copy(KIKUCHIPY_DATA / "nordif/Pattern.dat", tmp_path / "Pattern.dat")
        return tmp_path / "Pattern.dat", {"nordif_settings_4x3": r"declares 12 patterns .* but the file holds 32400",
                                          "nordif_settings_60x": "'Resolution' is '60x', not a valid value"}[name]
    if name == "nordif_without_settings":
        return shutil.copy(KIKUCHIPY_DATA / "nordif/Pattern.dat", tmp_path / "Pattern.dat"), "needs its Setting.txt"
    if name == "up1_version_2":
        data = bytearray((KIKUCHIPY_DATA / "edax_binary/edax_binary.up1").read_bytes())
        data[0] = 2
        (tmp_path / "v2.up1").write_bytes(bytes(data))
        return tmp_path / "v2.up1", "UP file version 2 cannot be read"
    if name == "up2_truncated":
        data = (written / "square_v3.up2").read_bytes()
        (tmp_path / "cut.up2").write_bytes(data[:-100])
        return tmp_path / "cut.up2", r"declares 8 patterns .* but the file holds"
    if name == "ebsp_compressed":
        data = bytearray((written / "v2.ebsp").read_bytes())
        data[8 + 8 * 8] = 1  # is_compressed of the first record, after the version and 8 offsets
        (tmp_path / "c.ebsp").write_bytes(bytes(data))
        return tmp_path / "c.ebsp", "compressed .ebsp patterns cannot be read"
    if name == "ebsp_truncated":
        data = (written / "v2.ebsp").read_bytes()
        (tmp_path / "t.ebsp").write_bytes(data[: len(data) - 3000])
        return tmp_path / "t.ebsp", "but the file holds"
    if name == "bruker_roi_sharing_a_point":
        path = shutil.copy(written / "bruker_roi.h5", tmp_path / "roi.h5")
        with h5py.File(path, "a") as f:
            f["Scan 0/EBSD/SEM/IX"][0] = f["Scan 0/EBSD/SEM/IX"][1]
            f["Scan 0/EBSD/SEM/IY"][0] = f["Scan 0/EBSD/SEM/IY"][1]
        return path, "IY, IX put 1 patterns on a point another pattern has"
    if name == "edax_hexagonal_grid":
        path = shutil.copy(KIKUCHIPY_DATA / "edax_h5ebsd/patterns.h5", tmp_path / "hex.h5")
        with h5py.File(path, "a") as f:
            f["Scan 1/EBSD/Header/Grid Type"][...] = b"HexGrid"
        return path, "grid type 'HexGrid': only square"
    if name == "emsoft_declared_size":
        path = shutil.copy(KIKUCHIPY_DATA / "emsoft_ebsd/simulated_ebsd.h5", tmp_path / "sim.h5")
        with h5py.File(path, "a") as f:
            f["NMLparameters/EBSDNameList/numsx"][...] = 12
        return path, "declares 10 x 12 patterns but 'EMData/EBSD/EBSDPatterns' holds 10 x 10"
    raise ValueError(name)


@pytest.mark.parametrize("name", ["nordif_settings_4x3", "nordif_settings_60x", "nordif_without_settings",
                                  "up1_version_2", "up2_truncated", "ebsp_compressed", "ebsp_truncated",
                                  "bruker_roi_sharing_a_point", "edax_hexagonal_grid", "emsoft_declared_size"])
def test_broken_vendor_files_fail_in_one_line_naming_the_file(name, written, tmp_path):
    path, message = corrupt(tmp_path, name, written)
    with pytest.raises(InputError, match=message) as error:
        open_source(path)
    named = "Setting.txt" if name == "nordif_settings_60x" else path.name  # the file that is wrong
    assert named in str(error.value) and "\n" not in str(error.value)
