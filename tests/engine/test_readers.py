"""Readers (latentcore.data): every format on the shared real files where one exists, files
written here in the documented layouts otherwise, and the errors a user meets."""
import pickle
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from latentcore.data import (Reader, SourceInfo, align_to_coordinates, detect_format, open_source,
                             read_bandcontrast, registered_readers)
from latentcore.data._hdf5 import read_byte_table
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter

SST_COLUMNS = ["lat", "lon", "row", "col", "datetime", "filename", "clear_fraction", "mean_temperature",
               "T10", "T90", "DT40", "LL", "pp_file", "pp_idx", "pp_type", "UID"]


@pytest.fixture(scope="module")
def raw_patterns(ebsd_h5):
    with h5py.File(ebsd_h5, "r") as f:
        return f["Scan 1/EBSD/Data/patterns"][()]


def grid_xy(n_rows=40, n_columns=60, step=1.5):
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    return step * columns, step * rows


def truncated_copy(source, tmp_path):
    data = source.read_bytes()
    target = tmp_path / f"half_{source.name}"
    target.write_bytes(data[: len(data) // 2])
    return target


def writable_copy(source, tmp_path):
    target = tmp_path / source.name
    shutil.copy(source, target)
    target.chmod(0o644)
    return target


def assert_complete_info(info: SourceInfo, fmt: str):
    assert isinstance(info, SourceInfo) and info.format == fmt
    assert info.partitions and all(isinstance(n, int) and n > 0 for n in info.partitions.values())
    assert info.item_shape and info.dtype
    assert set(info.to_dict()) >= {"path", "partitions", "item_shape", "dtype", "grid_shape", "step",
                                   "metadata_columns", "has_coordinates", "is_features"}


# -- registry and generic errors ------------------------------------------------------------------

def test_registry_holds_one_reader_per_format():
    names = sorted(cls.format_name for cls in registered_readers())
    assert names == ["bruker", "edax", "edax_binary", "emsoft", "h5ebsd", "images", "latents", "nenya", "nordif",
                     "npz", "oxford", "oxford_binary", "video"]
    assert all(issubclass(cls, Reader) and cls.description for cls in registered_readers())


def test_missing_file_and_unknown_format_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such file") as err:
        open_source(tmp_path / "absent.h5")
    assert "absent.h5" in str(err.value)
    notes = tmp_path / "notes.h5"
    notes.write_text("hello world\n")
    with pytest.raises(InputError, match="unrecognised") as err:
        detect_format(notes)
    assert "notes.h5" in str(err.value)
    with pytest.raises(InputError, match="unknown format 'nope'"):
        open_source(notes, format="nope")


@pytest.mark.parametrize("fixture", ["ebsd_h5", "edax_h5", "sst_h5"])
def test_truncated_hdf5_is_reported_as_such(fixture, request, tmp_path):
    half = truncated_copy(request.getfixturevalue(fixture), tmp_path)
    with pytest.raises(InputError, match="truncated or corrupt") as err:
        open_source(half)
    assert half.name in str(err.value)
    with pytest.raises(InputError, match="truncated or corrupt"):
        open_source(half, format=detect_format(request.getfixturevalue(fixture)).format_name)


def test_corrupt_chunk_names_the_rows(ebsd_h5, tmp_path):
    copy = writable_copy(ebsd_h5, tmp_path)
    with h5py.File(copy, "r") as f:
        chunk = f["Scan 1/EBSD/Data/patterns"].id.get_chunk_info(3)  # rows 831..1107
    with open(copy, "r+b") as f:
        f.seek(chunk.byte_offset + 100)
        f.write(b"\xff" * 2000)
    reader = open_source(copy)
    assert reader.read("all", 0, 800).shape == (800, 1, 60, 60)
    with pytest.raises(InputError, match="cannot read rows 800:900 of '/Scan 1/EBSD/Data/patterns'") as err:
        reader.read("all", 800, 900)
    assert copy.name in str(err.value)


def test_truncated_npy_and_empty_folder(sst_dir, tmp_path):
    half = truncated_copy(sst_dir / "test_image.npy", tmp_path)
    with pytest.raises(InputError, match="cannot read .npy"):
        open_source(half)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image files"):
        open_source(tmp_path / "empty", format="images")


def test_forcing_the_wrong_format_says_what_is_missing(ebsd_h5):
    with pytest.raises(InputError, match="no '<scan>/EBSD/Data/Pattern' dataset"):
        open_source(ebsd_h5, format="edax")
    with pytest.raises(InputError, match="no 'valid' or 'train'"):
        open_source(ebsd_h5, format="nenya")


# -- nenya cutouts ---------------------------------------------------------------------------------

def test_nenya_info_and_values_follow_the_readme(sst_h5, sst_dir):
    reader = open_source(sst_h5)
    info = reader.info()
    assert_complete_info(info, "nenya")
    assert info.partitions == {"valid": 12, "train": 6}
    assert info.item_shape == (1, 64, 64) and info.dtype == "float32" and not info.is_features
    assert info.metadata_columns == SST_COLUMNS
    orig = np.load(sst_dir / "gallery_imgs.npz")["orig_imgs"]
    test_image = np.load(sst_dir / "test_image.npy")
    valid, train = reader.read("valid", 0, 12), reader.read("train", 0, 6)
    assert valid.dtype == np.float32 and valid.shape == (12, 1, 64, 64)
    np.testing.assert_array_equal(valid[:, 0], orig[:12])
    np.testing.assert_array_equal(train[:4, 0], orig[12:16])
    np.testing.assert_array_equal(train[4, 0], test_image - test_image.mean())
    np.testing.assert_array_equal(train[5, 0], np.load(sst_dir / "cutout_image.npy"))


def test_nenya_metadata_matches_the_images(sst_h5):
    with open_source(sst_h5) as reader:
        for pp_type, partition in enumerate(["valid", "train"]):
            table = reader.metadata(partition)
            images = reader.read(partition, 0, reader.count(partition))[:, 0]
            assert list(table.columns) == SST_COLUMNS and len(table) == len(images)
            np.testing.assert_array_equal(table["pp_idx"], np.arange(len(images)))
            assert (table["pp_type"] == pp_type).all() and (table["pp_file"] == "sst_preproc.h5").all()
            center = images[:, 12:52, 12:52].reshape(len(images), -1)
            dt40 = np.percentile(center, 90, axis=1) - np.percentile(center, 10, axis=1)
            np.testing.assert_allclose(table["DT40"], dt40, rtol=1e-6)
        with pytest.raises(InputError, match="no partition 'all'"):
            reader.metadata("all")


def test_nenya_batches_allowed_indices_and_pickle(sst_h5):
    reader = open_source(sst_h5)
    everything = reader.read("valid", 0, 12)
    batches = list(reader.iter_batches("valid", batch_size=5))
    assert [len(b) for b, _ in batches] == [5, 5, 2]
    np.testing.assert_array_equal(np.concatenate([b for b, _ in batches]), everything)
    (chosen, rows), = reader.iter_batches("valid", batch_size=8, allowed_indices=[11, 2, 3, 7])
    np.testing.assert_array_equal(rows, [2, 3, 7, 11])
    np.testing.assert_array_equal(chosen, everything[[2, 3, 7, 11]])
    clone = pickle.loads(pickle.dumps(reader))
    reader.close()
    np.testing.assert_array_equal(clone.read("train", 2, 4), open_source(sst_h5).read("train", 2, 4))
    with pytest.raises(InputError, match="out of range"):
        clone.read("valid", 10, 13)
    with pytest.raises(InputError, match=r"allowed_indices must lie in \[0, 12\)"):
        next(clone.iter_batches("valid", allowed_indices=[12]))


def test_nenya_bad_layouts(tmp_path):
    flat = tmp_path / "flat.h5"
    with h5py.File(flat, "w") as f:
        f["valid"] = np.zeros((4, 64), np.float32)
    with pytest.raises(InputError, match=r"must be \(N, 1, H, W\)"):
        open_source(flat, format="nenya")
    short_table = tmp_path / "short_table.h5"
    with h5py.File(short_table, "w") as f:
        f["valid"] = np.zeros((5, 1, 8, 8), np.float32)
        f["valid_metadata"] = np.zeros((3, 2), "S4")
        f["valid_metadata"].attrs["columns"] = [b"lat", b"lon"]
    with pytest.raises(InputError, match=r"shape \(3, 2\) but its partition has 5 rows") as err:
        open_source(short_table)
    assert "short_table.h5" in str(err.value)
    with_nan = tmp_path / "nan_preproc.h5"
    with h5py.File(with_nan, "w") as f:
        f["train"] = np.zeros((5, 1, 8, 8), np.float32)
        f["train"][3, 0, 2, 2] = np.nan
    reader = open_source(with_nan)
    assert reader.metadata("train") is None
    np.testing.assert_array_equal(reader.read("train", 0, 3), 0)
    with pytest.raises(InputError, match="1 NaN/inf values"):
        reader.read("train", 2, 5)


# -- EBSD scans ------------------------------------------------------------------------------------

def test_h5ebsd_patterns_grid_and_coordinates(ebsd_h5, raw_patterns):
    reader = open_source(ebsd_h5)
    info = reader.info()
    assert_complete_info(info, "h5ebsd")
    assert info.partitions == {"all": 2400} and info.item_shape == (1, 60, 60) and info.dtype == "uint8"
    assert info.grid_shape == (40, 60) and info.step == (1.5, 1.5) and info.has_coordinates
    batch = reader.read("all", 100, 164)
    assert batch.dtype == np.float32 and batch.shape == (64, 1, 60, 60)
    np.testing.assert_array_equal(batch[:, 0], raw_patterns[100:164])
    x, y = reader.coordinates()
    expected_x, expected_y = grid_xy()
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)
    picked = reader.read_rows("all", [2399, 0, 61, 60])
    np.testing.assert_array_equal(picked[:, 0], raw_patterns[[2399, 0, 61, 60]])


def test_h5ebsd_without_crystal_map_uses_the_header_grid(ebsd_h5, tmp_path):
    copy = writable_copy(ebsd_h5, tmp_path)
    with h5py.File(copy, "a") as f:
        del f["Scan 1/EBSD/CrystalMap"]
        f["Scan 1/EBSD/Header/step_x"][0] = 2.0
    reader = open_source(copy)
    assert reader.info().extra["coordinates"] == "grid" and reader.info().step == (2.0, 1.5)
    x, y = reader.coordinates()
    expected_x, expected_y = grid_xy()
    np.testing.assert_array_equal(x, expected_x / 1.5 * 2.0)
    np.testing.assert_array_equal(y, expected_y)


def test_h5ebsd_header_that_disagrees_with_the_patterns(ebsd_h5, tmp_path):
    copy = writable_copy(ebsd_h5, tmp_path)
    with h5py.File(copy, "a") as f:
        f["Scan 1/EBSD/Header/n_rows"][0] = 30
    with pytest.raises(InputError, match="header grid 30 x 60 = 1800 points but .* holds 2400 patterns") as err:
        open_source(copy)
    assert copy.name in str(err.value)


def test_hand_written_h5ebsd_and_patterns_of_the_wrong_shape(tmp_path):
    path = tmp_path / "tiny.h5"
    patterns = np.arange(6 * 3 * 4, dtype=np.uint8).reshape(6, 3, 4)
    with h5py.File(path, "w") as f:
        f["My scan/EBSD/Data/patterns"] = patterns
        for name, value in [("n_rows", 2), ("n_columns", 3), ("step_x", 0.5), ("step_y", 0.25)]:
            f[f"My scan/EBSD/Header/{name}"] = [value]
    reader = open_source(path)
    assert reader.info().extra == {"scan": "My scan", "coordinates": "grid"}
    assert reader.info().item_shape == (1, 3, 4)
    np.testing.assert_array_equal(reader.read("all", 1, 3)[:, 0], patterns[1:3])
    np.testing.assert_array_equal(np.stack(reader.coordinates()), [[0, .5, 1, 0, .5, 1], [0, 0, 0, .25, .25, .25]])
    reader.close()
    with h5py.File(path, "a") as f:
        del f["My scan/EBSD/Data/patterns"]
        f["My scan/EBSD/Data/patterns"] = np.zeros((6, 12), np.uint8)
        del f["My scan/EBSD/Header/step_y"]
    with pytest.raises(InputError, match=r"lacks \['step_y'\]"):
        open_source(path)
    with h5py.File(path, "a") as f:
        f["My scan/EBSD/Header/step_y"] = [0.25]
    with pytest.raises(InputError, match=r"must be \(N, height, width\), got shape \(6, 12\)"):
        open_source(path)


def test_edax_patterns_are_those_of_the_h5ebsd_file(edax_h5, ebsd_h5, raw_patterns):
    edax = open_source(edax_h5)
    info = edax.info()
    assert_complete_info(info, "edax")
    assert info.grid_shape == (40, 60) and info.step == (1.5, 1.5) and info.extra["coordinates"] == "stored"
    np.testing.assert_array_equal(edax.read("all", 0, 2400)[:, 0], raw_patterns)
    np.testing.assert_array_equal(np.stack(edax.coordinates()), np.stack(open_source(ebsd_h5).coordinates()))
    maps = edax.scan_maps()
    assert {"IQ", "CI", "Fit"} <= set(maps) and "X Position" not in maps
    with h5py.File(edax_h5, "r") as f:
        np.testing.assert_array_equal(maps["IQ"], f["Scan 1/EBSD/Data/IQ"][()])
        valid = f["Scan 1/EBSD/Data/Valid"][()] == 1
    assert np.allclose(maps["CI"][valid], 0.9) and np.allclose(maps["CI"][~valid], 0.1)


def test_edax_coordinates_of_the_wrong_length(edax_h5, tmp_path):
    copy = writable_copy(edax_h5, tmp_path)
    with h5py.File(copy, "a") as f:
        del f["Scan 1/EBSD/Data/X Position"]
        f["Scan 1/EBSD/Data/X Position"] = np.zeros(100, np.float32)
    reader = open_source(copy)
    with pytest.raises(InputError, match="'Scan 1/EBSD/Data/X Position' has 100 values but .* has 2400"):
        reader.coordinates()


def write_h5oina(path, patterns, x, y, band_contrast, n_rows=40, n_columns=60, step=1.5):
    """The H5OINA layout (Oxford Instruments), written with h5py."""
    with h5py.File(path, "w") as f:
        f["Manufacturer"] = np.array([b"Oxford Instruments"])
        f["Format Version"] = np.array([b"5.0"])
        data, header = f.create_group("1/EBSD/Data"), f.create_group("1/EBSD/Header")
        data.create_dataset("Processed Patterns", data=patterns, chunks=(64, *patterns.shape[1:]),
                            compression="gzip", compression_opts=1)
        data["X"], data["Y"] = x.astype(np.float32), y.astype(np.float32)
        data["Band Contrast"] = band_contrast.astype(np.uint8)
        data["Band Slope"] = np.zeros(len(x), np.uint8)
        header["X Cells"], header["Y Cells"] = np.array([n_columns], np.int32), np.array([n_rows], np.int32)
        header["X Step"], header["Y Step"] = np.array([step], np.float32), np.array([step], np.float32)


def test_oxford_h5oina_written_from_the_h5ebsd_scan(tmp_path, raw_patterns, ebsd_h5, bandcontrast_csv):
    x, y = open_source(ebsd_h5).coordinates()
    band_contrast = read_bandcontrast(bandcontrast_csv)["bandcontrast"].to_numpy()
    path = tmp_path / "scan.h5oina"
    write_h5oina(path, raw_patterns, x, y, band_contrast)
    assert detect_format(path).format_name == "oxford"
    reader = open_source(path)
    info = reader.info()
    assert_complete_info(info, "oxford")
    assert info.grid_shape == (40, 60) and info.step == (1.5, 1.5)
    np.testing.assert_array_equal(reader.read("all", 0, 2400)[:, 0], raw_patterns)
    np.testing.assert_array_equal(np.stack(reader.coordinates()), np.stack([x, y]))
    np.testing.assert_array_equal(reader.scan_maps()["Band Contrast"], band_contrast)
    # content, not the name, decides: the same file called .h5 is still Oxford
    renamed = path.rename(tmp_path / "scan.h5")
    assert detect_format(renamed).format_name == "oxford"


def test_scan_readers_pickle_and_reopen_after_close(ebsd_h5, raw_patterns):
    reader = open_source(ebsd_h5)
    reader.read("all", 0, 1)
    clone = pickle.loads(pickle.dumps(reader))
    reader.close()
    np.testing.assert_array_equal(reader.read("all", 5, 6)[0, 0], raw_patterns[5])  # reopens lazily
    np.testing.assert_array_equal(clone.read("all", 7, 8)[0, 0], raw_patterns[7])
    rows = [2, 3, 4, 100, 2399]
    batches = list(clone.iter_batches("all", batch_size=3, allowed_indices=rows))
    np.testing.assert_array_equal(np.concatenate([r for _, r in batches]), rows)
    np.testing.assert_array_equal(np.concatenate([b for b, _ in batches])[:, 0], raw_patterns[rows])


# -- band contrast -------------------------------------------------------------------------------------

def test_read_bandcontrast(bandcontrast_csv):
    table = read_bandcontrast(bandcontrast_csv)
    assert list(table.columns) == ["x", "y", "bandcontrast"] and len(table) == 2400
    assert table["bandcontrast"].between(0, 255).all() and table["bandcontrast"].dtype == np.float64


def test_alignment_is_by_coordinates_not_position(bandcontrast_csv, edax_h5, tmp_path):
    table = read_bandcontrast(bandcontrast_csv)
    edax = open_source(edax_h5)
    x, y = edax.coordinates()
    shuffled_path = tmp_path / "shuffled.csv"
    table.sample(frac=1.0, random_state=0).to_csv(shuffled_path, index=False)
    shuffled = read_bandcontrast(shuffled_path)
    assert not np.array_equal(shuffled["bandcontrast"], table["bandcontrast"])
    aligned = align_to_coordinates(shuffled, x, y)
    np.testing.assert_array_equal(aligned, align_to_coordinates(table, x, y))
    iq = edax.scan_maps()["IQ"]  # the sample's band contrast is its image quality rescaled to 0..255
    np.testing.assert_array_equal(aligned, np.round(255 * (iq - iq.min()) / (iq.max() - iq.min())))
    noisy = shuffled.assign(x=shuffled["x"] + 1e-6, y=shuffled["y"] - 1e-6)  # float round-off
    np.testing.assert_array_equal(align_to_coordinates(noisy, x, y), aligned)


def test_full_field_table_with_roi_patterns_and_roi_table_error(bandcontrast_csv, ebsd_h5):
    table = read_bandcontrast(bandcontrast_csv)
    x, y = open_source(ebsd_h5).coordinates()
    roi = (x >= 30) & (y < 15)
    np.testing.assert_array_equal(align_to_coordinates(table, x[roi], y[roi]),
                                  table["bandcontrast"].to_numpy()[roi])
    roi_table = table[table["y"] < 30]  # rows 0..19 only
    with pytest.raises(InputError, match=r"table \(1200 rows\) to the 2400 pattern coordinates: 1200 coordinates"
                       ) as err:
        align_to_coordinates(roi_table, x, y)
    assert bandcontrast_csv.name in str(err.value)
    other_grid = table.assign(x=table["x"] + 0.75)
    with pytest.raises(InputError, match="2400 coordinates have no table row"):
        align_to_coordinates(other_grid, x, y)
    doubled = pd.concat([table, table.iloc[:1]])
    with pytest.raises(InputError, match="duplicate coordinates"):
        align_to_coordinates(doubled, x, y)


def test_a_table_of_the_patterns_own_coordinates_in_their_order_pairs_row_for_row():
    x, y = np.array([0.0, 1.5, 3.0, 0.0]), np.array([0.0, 0.0, 0.0, 0.0])  # two patterns at (0, 0): re-scanned
    table = pd.DataFrame({"x": x, "y": y, "bandcontrast": [10.0, 20.0, 30.0, 40.0]})
    np.testing.assert_array_equal(align_to_coordinates(table, x, y), [10.0, 20.0, 30.0, 40.0])  # no search
    with pytest.raises(InputError, match="duplicate coordinates"):  # in another order, a search cannot tell them
        align_to_coordinates(table.iloc[::-1], x, y)


@pytest.mark.parametrize("content, message", [
    ("x,y,iq\n0,0,1\n", r"missing column\(s\) \['bandcontrast'\]"),
    ("x,y,bandcontrast\n0,0,1\n1.5,0,\n", r"'bandcontrast' has 1 empty, NaN or non-numeric values \(first on line 3"),
    ("x,y,bandcontrast\n0,0,1\nabc,0,2\n", r"column 'x' has 1 .* 'abc'"),
    ("x,y,bandcontrast\n", "no rows"),
])
def test_bad_bandcontrast_tables(tmp_path, content, message):
    path = tmp_path / "bc.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        read_bandcontrast(path)
    assert "bc.csv" in str(err.value)


# -- images ------------------------------------------------------------------------------------------

def to_uint8(image):
    return np.round(255 * (image - image.min()) / np.ptp(image)).astype(np.uint8)


def test_image_folders_png_and_npy(sst_dir, tmp_path):
    orig = np.load(sst_dir / "gallery_imgs.npz")["orig_imgs"]
    png_dir, npy_dir = tmp_path / "png", tmp_path / "npy"
    png_dir.mkdir(), npy_dir.mkdir()
    for k in reversed(range(len(orig))):  # written out of order: the reader sorts by name
        Image.fromarray(to_uint8(orig[k])).save(png_dir / f"cutout_{k:02d}.png")
        np.save(npy_dir / f"cutout_{k:02d}.npy", orig[k])
    (png_dir / "notes.txt").write_text("not an image")
    for folder, expected, dtype in [(png_dir, np.stack([to_uint8(i) for i in orig]), "uint8"),
                                    (npy_dir, orig, "float32")]:
        reader = open_source(folder)
        info = reader.info()
        assert_complete_info(info, "images")
        assert info.partitions == {"all": 16} and info.item_shape == (1, 64, 64) and info.dtype == dtype
        batch = reader.read("all", 0, 16)
        assert batch.dtype == np.float32
        np.testing.assert_array_equal(batch[:, 0], expected)
        (picked, rows), = reader.iter_batches("all", allowed_indices=[9, 3])
        np.testing.assert_array_equal(picked[:, 0], expected[[3, 9]])


def test_single_images_rgb_and_detection_by_content(sst_dir, tmp_path):
    test_image = np.load(sst_dir / "test_image.npy")
    assert detect_format(sst_dir / "test_image.npy").format_name == "latents"  # a lone 2-D .npy: (N, D)
    reader = open_source(sst_dir / "test_image.npy", format="images")
    np.testing.assert_array_equal(reader.read("all", 0, 1), test_image[None, None])
    rgb = np.stack([to_uint8(test_image), to_uint8(-test_image), np.full((64, 64), 7, np.uint8)], axis=-1)
    disguised = tmp_path / "photo.dat"  # a PNG under a name that says nothing
    Image.fromarray(rgb).save(disguised, format="PNG")
    reader = open_source(disguised)
    assert reader.info().format == "images" and reader.info().item_shape == (3, 64, 64)
    np.testing.assert_array_equal(reader.read("all", 0, 1)[0], np.moveaxis(rgb, -1, 0))
    tiff = tmp_path / "field.tif"
    Image.fromarray(test_image).save(tiff)  # float32 TIFF keeps the values
    np.testing.assert_array_equal(open_source(tiff).read("all", 0, 1)[0, 0], test_image)


def test_image_of_another_size_is_named(tmp_path):
    for name, size in [("a.png", 64), ("b.png", 64), ("c.png", 32), ("d.png", 48)]:
        Image.fromarray(np.zeros((size, size), np.uint8)).save(tmp_path / name)
    with pytest.raises(InputError, match=r"'c.png' is \(1, 32, 32\) .* but 'a.png' is \(1, 64, 64\)"):
        open_source(tmp_path)


# -- video ---------------------------------------------------------------------------------------------

def write_video(path, n_frames=20, height=32, width=48):
    import imageio.v2 as imageio
    frames = [np.full((height, width, 3), 10 * i, np.uint8) for i in range(n_frames)]
    imageio.mimwrite(path, frames, fps=10, format="FFMPEG", macro_block_size=16)


def test_video_sampled_evenly(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path)
    assert detect_format(path).format_name == "video"
    reader = open_source(path, num_frames=4)
    info = reader.info()
    assert_complete_info(info, "video")
    assert info.item_shape == (3, 4, 32, 48)
    clip = reader.read("all", 0, 1)
    assert clip.shape == (1, 3, 4, 32, 48) and clip.dtype == np.float32
    # frames 0, 6, 13, 19 of a clip whose frame i is grey 10*i (lossy codec: a few levels off)
    np.testing.assert_allclose(clip[0].mean(axis=(0, 2, 3)), [0, 60, 130, 190], atol=3)


def test_video_folder_and_size_mismatch(tmp_path):
    write_video(tmp_path / "a.mp4")
    write_video(tmp_path / "b.mp4", n_frames=5)
    reader = open_source(tmp_path)
    assert reader.info().format == "video" and reader.info().partitions == {"all": 2}
    assert reader.info().item_shape == (3, 16, 32, 48)
    clips = reader.read("all", 0, 2)
    np.testing.assert_allclose(clips[1].mean(axis=(0, 2, 3))[[0, -1]], [0, 40], atol=3)
    write_video(tmp_path / "c.mp4", height=64)
    with pytest.raises(InputError, match=r"'c.mp4' is 48x64 \(WxH\) but 'a.mp4' is 48x32"):
        open_source(tmp_path)


# -- NPZ features --------------------------------------------------------------------------------------

@pytest.fixture()
def features_npz(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 8)), rng.integers(0, 3, 50)
    order = rng.permutation(50)
    path = tmp_path / "features.npz"
    np.savez(path, X=X, y=y, idx_train=order[:30], idx_test=order[30:40], idx_val=order[40:])
    return path, X, y, order


def test_npz_features_partitions_and_labels(features_npz):
    path, X, y, order = features_npz
    reader = open_source(path)
    info = reader.info()
    assert_complete_info(info, "npz")
    assert info.is_features and info.item_shape == (8,)
    assert info.partitions == {"all": 50, "train": 30, "test": 10, "val": 10}
    np.testing.assert_allclose(reader.read("all", 0, 50), X.astype(np.float32))
    np.testing.assert_allclose(reader.read("train", 0, 30), X[order[:30]].astype(np.float32))
    np.testing.assert_array_equal(reader.labels("test"), y[order[30:40]])
    (rows, _), = reader.iter_batches("val", allowed_indices=[1, 4])
    np.testing.assert_allclose(rows, X[order[40:][[1, 4]]].astype(np.float32))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(reader)).read("val", 0, 2),
                               X[order[40:42]].astype(np.float32))


@pytest.mark.parametrize("arrays, message", [
    ({"X": np.zeros(5)}, r"'X' must be a numeric \(N, D\) array"),
    ({"X": np.zeros((5, 2)), "y": np.zeros(4)}, "'y' has 4 values but 'X' has 5"),
    ({"X": np.zeros((5, 2)), "idx_train": np.array([0, 5])}, r"'idx_train' must hold integer row numbers in \[0, 5\)"),
])
def test_bad_npz_features(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=message):
        open_source(path)


def test_npz_with_nan_fails_when_read(tmp_path):
    X = np.zeros((5, 2))
    X[4, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=X)
    reader = open_source(tmp_path / "nan.npz")
    with pytest.raises(InputError, match="NaN"):
        reader.read("all", 0, 5)


# -- existing latents ------------------------------------------------------------------------------

def test_latents_h5_of_a_scan(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(2400, 4)).astype(np.float32)
    x, y = grid_xy()
    writer = LatentsWriter(tmp_path / "scan_latents.h5", {"all": (2400, 4)}, {"model": "test"})
    writer.write_rows("all", 0, values[:1000])
    unfinished = tmp_path / "scan_latents.h5.partial"
    with pytest.raises(InputError, match="unfinished latents file: 'all' has 1000 of 2400 rows"):
        open_source(unfinished)
    writer.write_rows("all", 1000, values[1000:])
    writer.write_array("x", x), writer.write_array("y", y), writer.write_array("grid_shape", [40, 60])
    path = writer.finish({"model": "vae", "pooling": "mean"})
    reader = open_source(path)
    info = reader.info()
    assert_complete_info(info, "latents")
    assert info.is_features and info.item_shape == (4,) and info.grid_shape == (40, 60)
    assert info.step == (1.5, 1.5) and info.has_coordinates and info.extra["model"] == "vae"
    np.testing.assert_array_equal(reader.read("all", 10, 20), values[10:20])
    np.testing.assert_array_equal(np.stack(reader.coordinates()), np.stack([x, y]))


def test_latents_h5_of_cutouts_keeps_metadata(tmp_path, sst_h5):
    with h5py.File(sst_h5, "r") as f:
        table = read_byte_table(f["valid_metadata"])
    writer = LatentsWriter(tmp_path / "sst_latents.h5", {"valid": (12, 3)}, {})
    writer.write_rows("valid", 0, np.arange(36, dtype=np.float32).reshape(12, 3))
    writer.write_metadata("valid", table)
    reader = open_source(writer.finish({}))
    assert reader.info().metadata_columns == SST_COLUMNS and reader.info().partitions == {"valid": 12}
    pd.testing.assert_frame_equal(reader.metadata("valid"), table)
    assert reader.coordinates("valid") is None


def test_latents_npy_and_tables(tmp_path):
    rng = np.random.default_rng(2)
    values = rng.normal(size=(30, 3)).astype(np.float32)
    np.save(tmp_path / "z.npy", values)
    reader = open_source(tmp_path / "z.npy")
    assert reader.info().format == "latents" and reader.info().item_shape == (3,)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reader)).read("all", 5, 9), values[5:9])
    x, y = grid_xy(5, 6, 2.0)
    table = pd.DataFrame({"x": x, "y": y, "z0": values[:, 0], "z1": values[:, 1],
                          "name": [f"p{i}" for i in range(30)]})
    table.to_csv(tmp_path / "z.csv", index=False)
    table.to_parquet(tmp_path / "z.parquet")
    for name in ["z.csv", "z.parquet"]:
        reader = open_source(tmp_path / name)
        info = reader.info()
        assert info.format == "latents" and info.item_shape == (2,) and info.step == (2.0, 2.0)
        assert info.extra["feature_columns"] == ["z0", "z1"] and info.metadata_columns == ["name"]
        np.testing.assert_allclose(reader.read("all", 0, 30), values[:, :2], rtol=1e-6)
        np.testing.assert_array_equal(np.stack(reader.coordinates()), np.stack([x, y]))
        assert list(reader.metadata("all")["name"]) == list(table["name"])
    one_column = open_source(tmp_path / "z.csv", columns=["z1"])
    np.testing.assert_allclose(one_column.read("all", 0, 30)[:, 0], values[:, 1], rtol=1e-6)


def test_latents_table_with_nan_or_no_features(tmp_path):
    (tmp_path / "nan.csv").write_text("z0,z1\n1,2\n3,\n")
    with pytest.raises(InputError, match="feature columns: 1 NaN/inf values") as err:
        open_source(tmp_path / "nan.csv")
    assert "nan.csv" in str(err.value)
    (tmp_path / "words.csv").write_text("x,y,name\n0,0,a\n1,0,b\n")
    with pytest.raises(InputError, match="feature columns must be numeric: none found"):
        open_source(tmp_path / "words.csv")
