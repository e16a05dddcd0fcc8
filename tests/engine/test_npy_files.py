"""NPY and NPZ files from outside (`latentcore.data._npy`): every place the engine reads one refuses, in one line
naming the file and the array, an array whose header declares more than the file holds (numpy allocated what the
header said first: 7.28 TiB for a 300-byte file), a member that is not an array and an array of Python objects,
before any data is read."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from latentcore.analysis.embedding.fitted import load_embedding
from latentcore.analysis.references import read_reference_file, uploaded_npz_references
from latentcore.data import open_source
from latentcore.data._npy import npz_headers, read_npy, read_npz
from latentcore.errors import InputError
from latentcore.train.dataset import read_xy_list

X, Y = (v.ravel() for v in np.meshgrid(np.arange(4) * 0.5, np.arange(3) * 0.5))  # a 3 x 4 scan
TERA = 10**12


def npy_bytes(shape, descr="<f8", data=b"\0" * 8) -> bytes:
    """An .npy whose header declares `shape` of `descr` over `data` (a few bytes)."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue() + data


def zip_of(path, members: dict):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# every reader of a user's NPZ, each given the path
NPZ_READERS = {
    "rank-page-upload": lambda path: uploaded_npz_references(path, X, Y, 12, (3, 4)),
    "rank-reference": lambda path: read_reference_file(str(path), X, Y, 12),
    "npz-features": lambda path: open_source(path, format="npz"),
    "embedding": load_embedding,
    "read_npz": read_npz,
    "npz_headers": npz_headers,
}


def refused(read, path, said):
    with pytest.raises(InputError) as raised:
        read(path)
    line = str(raised.value)
    assert line.startswith(f"{path}: ") and said in line and "\n" not in line, line


@pytest.mark.parametrize("reader", NPZ_READERS)
def test_a_300_byte_npz_declaring_a_tera_values_is_refused_from_its_header(tmp_path, reader):
    path = zip_of(tmp_path / "references.npz", {"X.npy": npy_bytes((TERA,))})
    assert path.stat().st_size < 400
    refused(NPZ_READERS[reader], path, "array 'X' declares (1000000000000,) float64 values (8,000,000,000,000 "
                                       "bytes) but holds 8 bytes")


@pytest.mark.parametrize("reader", NPZ_READERS)
def test_a_zip_of_a_text_file_is_refused_naming_the_member(tmp_path, reader):
    path = zip_of(tmp_path / "readme.npz", {"readme.txt": b"not an array"})
    refused(NPZ_READERS[reader], path, "member 'readme.txt' is not a numpy array (.npy)")


@pytest.mark.parametrize("members, said", [
    ({"X.npy": np.lib.format.MAGIC_PREFIX[:3] + b"garbage"}, "array 'X' is not a numpy array"),
    ({"X.npy": npy_bytes((3,), "|O", b"\x80\x04N.")}, "array 'X' cannot be read: it holds Python objects (object)"),
    ({"X.npy": npy_bytes((1,)), "y.npy": npy_bytes((-5,))}, "array 'y' declares the shape (-5,)"),
    ({f"a{i}.npy": npy_bytes((1,)) for i in range(257)}, "holds 257 arrays, more than the 256 allowed"),
])
def test_members_that_are_not_plain_arrays_are_refused_before_any_is_read(tmp_path, members, said):
    path = zip_of(tmp_path / "odd.npz", members)
    for read in NPZ_READERS.values():
        refused(read, path, said)


def test_the_arrays_declared_bytes_are_capped_before_any_is_read(tmp_path):
    np.savez_compressed(tmp_path / "big.npz", X=np.zeros((1000, 1000)))  # 8 MB in a few kB
    refused(lambda path: read_npz(path, max_bytes=1 << 20), tmp_path / "big.npz",
            "its arrays take 8,000,000 bytes uncompressed, more than the 1,048,576 allowed")


def test_well_formed_files_are_read_as_numpy_reads_them(tmp_path):
    arrays = {"X": np.arange(12.0).reshape(3, 4), "flags": np.ones(3, bool), "units": np.array("um")}
    np.savez_compressed(tmp_path / "good.npz", **arrays)
    got = read_npz(tmp_path / "good.npz")
    assert set(got) == set(arrays) and all(np.array_equal(got[k], v) for k, v in arrays.items())
    assert read_npz(tmp_path / "good.npz", ["X", "missing"]).keys() == {"X"}
    assert npz_headers(tmp_path / "good.npz")["X"] == ((3, 4), np.dtype("<f8"))
    np.save(tmp_path / "good.npy", arrays["X"])
    np.testing.assert_array_equal(read_npy(tmp_path / "good.npy"), arrays["X"])


@pytest.mark.parametrize("read", [lambda path: read_reference_file(str(path), X, Y, 12), read_xy_list, read_npy],
                         ids=["rank-reference", "train-keep-coords", "read_npy"])
def test_an_npy_declaring_more_than_it_holds_is_refused(tmp_path, read):
    path = tmp_path / "forged.npy"
    path.write_bytes(npy_bytes((TERA, 2)))
    refused(read, path, "the file declares (1000000000000, 2) float64 values (16,000,000,000,000 bytes) but holds 8")
    path.write_bytes(npy_bytes((4,), "|O", b"\x80\x04N."))
    refused(read, path, "the file cannot be read: it holds Python objects")
