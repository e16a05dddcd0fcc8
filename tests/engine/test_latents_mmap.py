"""read_latents maps contiguous partitions from the file (no copy) and still reads chunked and
compressed ones into memory; both give the same values."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from latentcore.analysis._validation import check_matrix
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter, finite_rows, read_latents


def written(tmp_path, rows: np.ndarray, name="scan_latents.h5"):
    writer = LatentsWriter(tmp_path / name, {"all": rows.shape}, {})
    for start in range(0, len(rows), 700):  # several writes, as an extraction makes them
        writer.write_rows("all", start, rows[start:start + 700])
    writer.write_array("x", np.arange(len(rows), dtype=np.float64))
    writer.write_array("y", np.zeros(len(rows)))
    return writer.finish({"source": "test.h5"})


def h5_copy(path, target, **storage):
    """The same file with its `all` partition stored as `storage` says (chunks, compression)."""
    with h5py.File(path) as f, h5py.File(target, "w") as out:
        for key in f:
            if key == "all":
                out.create_dataset(key, data=f[key][()], **storage)
            else:
                f.copy(key, out)
        out.attrs.update(f.attrs)
    return target


@pytest.fixture
def rows():
    return np.random.default_rng(5).normal(size=(2500, 6)).astype(np.float32)


def test_the_writers_file_is_contiguous_and_read_as_a_read_only_map_of_it(tmp_path, rows):
    path = written(tmp_path, rows)
    with h5py.File(path) as f:
        assert f["all"].chunks is None and f["all"].compression is None
    lat = read_latents(path)
    mapped = lat.partitions["all"]
    assert isinstance(mapped, np.memmap) and Path(mapped.filename) == path.resolve()
    assert not mapped.flags.writeable
    np.testing.assert_array_equal(mapped, rows)
    with pytest.raises(ValueError):
        mapped[0, 0] = 1.0


def test_stacked_one_partition_shares_the_map_and_checks_make_no_copy(tmp_path, rows):
    lat = read_latents(written(tmp_path, rows))
    matrix, table = lat.stacked()
    assert np.shares_memory(matrix, lat.partitions["all"])
    assert list(table["index"]) == list(range(len(rows))) and set(table["partition"]) == {"all"}
    checked = check_matrix(matrix, dtype=np.float32, order="C")  # the analysis modules' check
    assert np.shares_memory(checked, lat.partitions["all"])


@pytest.mark.parametrize("storage", [{"chunks": (100, 6)}, {"chunks": (64, 6), "compression": "gzip"},
                                     {"chunks": (64, 6), "shuffle": True, "fletcher32": True}])
def test_chunked_and_compressed_files_read_the_same_values_into_memory(tmp_path, rows, storage):
    mapped = read_latents(written(tmp_path, rows))
    other = read_latents(h5_copy(mapped.path, tmp_path / "other_latents.h5", **storage))
    assert not isinstance(other.partitions["all"], np.memmap)
    np.testing.assert_array_equal(other.partitions["all"], mapped.partitions["all"])
    np.testing.assert_array_equal(other.x, mapped.x)


def test_two_partitions_are_stacked_in_order(tmp_path, rows):
    writer = LatentsWriter(tmp_path / "cut_latents.h5", {"valid": (1000, 6), "train": (1500, 6)}, {})
    writer.write_rows("valid", 0, rows[:1000])
    writer.write_rows("train", 0, rows[1000:])
    lat = read_latents(writer.finish({}))
    matrix, table = lat.stacked()
    assert all(isinstance(p, np.memmap) for p in lat.partitions.values())
    np.testing.assert_array_equal(matrix, rows)
    assert list(table["partition"][[0, 999, 1000]]) == ["valid", "valid", "train"]


def test_a_truncated_contiguous_file_is_refused_naming_it(tmp_path, rows):
    path = written(tmp_path, rows)
    with h5py.File(path) as f:
        end = f["all"].id.get_offset() + f["all"].id.get_storage_size()
    data = path.read_bytes()[:end - 100]  # cut inside the rows (HDF5 itself may notice first)
    path.write_bytes(data)
    with pytest.raises(InputError, match="scan_latents.h5"):
        read_latents(path)


def test_finite_rows_in_blocks_and_non_finite_rows_refused(tmp_path, rows):
    rows = rows.copy()
    rows[[3, 2001], [1, 5]] = [np.nan, np.inf]
    expected = np.isfinite(rows).all(axis=1)
    np.testing.assert_array_equal(finite_rows(rows, block=128), expected)
    lat = read_latents(written(tmp_path, rows))
    np.testing.assert_array_equal(lat.finite_rows("all"), expected)
    with pytest.raises(InputError, match="2 rows with NaN .*first: row 3"):
        check_matrix(lat.stacked()[0], dtype=np.float32)


def test_a_npy_file_is_mapped_too(tmp_path, rows):
    np.save(tmp_path / "rows.npy", rows)
    lat = read_latents(tmp_path / "rows.npy")
    assert isinstance(lat.partitions["all"], np.memmap)
    np.testing.assert_array_equal(lat.partitions["all"], rows)


def test_a_latents_file_opened_as_data_offers_its_own_point_maps(tmp_path, rows):
    from latentcore.data import open_source

    writer = LatentsWriter(tmp_path / "scan_latents.h5", {"all": rows.shape}, {})
    writer.write_rows("all", 0, rows)
    writer.write_point_maps({"Band Contrast": np.arange(len(rows)) * 2.0, "MAD": np.ones(len(rows))},
                            {"all": np.arange(len(rows))})
    path = writer.finish({})
    with open_source(path) as reader:
        maps = reader.point_maps()
    assert list(maps) == ["Band Contrast", "MAD"]
    np.testing.assert_array_equal(maps["Band Contrast"], read_latents(path).point_maps["Band Contrast"])
