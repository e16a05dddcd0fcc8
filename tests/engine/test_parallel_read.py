"""Reading in worker processes (latentcore.data.parallel): the single reader's rows, in order, for every
format family; resume after an interruption; a reader process that dies is reported and loses nothing."""
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image
from vendor_writers import write_ebsp, write_up2_square

from latentcore.data import open_source
from latentcore.data.parallel import ReaderDied, block_rows_for, default_readers, iter_blocks
from latentcore.errors import error_line
from latentcore.extract import Extractor, extract_file
from latentcore.models.base import InputSpec, LoadedModel
from latentcore.models.vae import ConvVAE, VAEConfig, VAEEncoder


@pytest.fixture(scope="module")
def vae_model():
    torch.manual_seed(0)
    vae = ConvVAE(VAEConfig(input_size=60, latent_dim=4, channels=(8, 16))).eval()
    return LoadedModel("vae", "vae", VAEEncoder(vae), InputSpec(1, (60, 60), "minmax"), sha256="test-vae")


def patterns(n_rows=5, n_columns=7, side=12, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n_rows, n_columns, side, side)).astype(np.uint8)


def contiguous_cutouts(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("valid", data=np.random.default_rng(1).normal(size=(33, 1, 16, 16)).astype(np.float32))
    return path


def image_folder(folder):
    folder.mkdir()
    for i, image in enumerate(patterns().reshape(-1, 12, 12)):
        Image.fromarray(image).save(folder / f"p{i:03d}.png")
    return folder


SOURCES = {  # format family -> (writer of a small file of it, the type its rows are stored in)
    "hdf5 chunked (h5ebsd, gzip)": (lambda tmp, demo: demo, np.uint8),
    "hdf5 contiguous (cutouts)": (lambda tmp, demo: contiguous_cutouts(tmp / "cutouts_preproc.h5"), np.float32),
    "memory-mapped binary (EDAX .up2)": (lambda tmp, demo: write_up2_square(tmp / "scan.up2", patterns()), np.uint16),
    "memory-mapped binary, reordered (Oxford .ebsp)": (
        lambda tmp, demo: write_ebsp(tmp / "scan.ebsp", patterns(), 2), np.uint8),
    "images folder (PNG)": (lambda tmp, demo: image_folder(tmp / "images"), np.float32),
}


def blocks(path, readers, block_rows, indices=None, stored=False):
    with open_source(path) as reader:
        partition = reader.partitions[0]
        return [(block, rows) for block, rows in
                iter_blocks(reader, partition, block_rows, None, indices, readers, stored)]


@pytest.mark.parametrize("stored", [False, True], ids=["float32", "as stored"])
@pytest.mark.parametrize("family", SOURCES)
def test_reader_processes_give_the_single_readers_rows_in_order(family, stored, tmp_path, ebsd_h5):
    write, stored_dtype = SOURCES[family]
    path = write(tmp_path, ebsd_h5)
    with open_source(path) as reader:
        n = reader.count(reader.partitions[0])
    block_rows = max(1, n // 5 + 1)  # several blocks for each of the 2 processes, the last one shorter
    single, parallel = blocks(path, 1, block_rows, stored=stored), blocks(path, 2, block_rows, stored=stored)
    assert len(single) == len(parallel) >= 5
    for (one, rows_one), (two, rows_two) in zip(single, parallel):
        np.testing.assert_array_equal(rows_two, rows_one)
        assert one.dtype == two.dtype == (stored_dtype if stored else np.float32)
        assert two.tobytes() == one.tobytes()
    assert np.concatenate([rows for _, rows in parallel]).tolist() == list(range(n))
    if stored:  # the values of the float32 rows, in a compact type
        as_float = np.concatenate([block for block, _ in blocks(path, 1, block_rows)])
        assert np.concatenate([block for block, _ in parallel]).astype(np.float32).tobytes() == as_float.tobytes()


@pytest.mark.parametrize("stored", [False, True], ids=["float32", "as stored"])
def test_reader_processes_read_only_the_allowed_rows(ebsd_h5, stored):
    allowed = np.r_[3:40, 500:530, 2390:2400, 1234]
    single, parallel = blocks(ebsd_h5, 1, 16, allowed, stored), blocks(ebsd_h5, 3, 16, allowed, stored)
    np.testing.assert_array_equal(np.concatenate([r for _, r in parallel]), np.sort(allowed))
    assert {b.dtype for b, _ in single + parallel} == {np.dtype(np.uint8 if stored else np.float32)}
    np.testing.assert_array_equal(np.concatenate([b for b, _ in parallel]), np.concatenate([b for b, _ in single]))
    with open_source(ebsd_h5) as reader:
        np.testing.assert_array_equal(np.concatenate([b for b, _ in single]), reader.read_rows("all", np.sort(allowed)))


def test_blocks_hold_whole_chunks_and_whole_batches(ebsd_h5):
    with open_source(ebsd_h5) as reader:
        chunk = reader.chunk_rows("all")
        assert chunk > 1
        assert block_rows_for(reader, "all", 3 * chunk - 5, 1) == 2 * chunk  # rounded down to whole chunks
        assert block_rows_for(reader, "all", chunk - 5, 1) == chunk  # or up to one chunk
        assert block_rows_for(reader, "all", 1000, 64) == 1000  # lcm(chunk, 64) too far: kept as asked
    assert default_readers(2) == 1 and default_readers(16) == 15


def latents_of(path):
    with h5py.File(path) as f:
        return f["all"][()]


class Interrupt(Exception):
    pass


def test_interrupted_parallel_extraction_resumes_to_the_same_latents(ebsd_h5, vae_model, tmp_path,
                                                                     one_torch_thread, monkeypatch):
    whole = latents_of(extract_file(ebsd_h5, vae_model, tmp_path / "one", batch_size=200, device="cpu",
                                    readers=1).path)
    monkeypatch.setattr(Extractor, "read_size", lambda self, shape: 400)  # 6 blocks

    def stop_after_800(done, total, message):
        if done >= 800:
            raise Interrupt

    with pytest.raises(Interrupt):
        extract_file(ebsd_h5, vae_model, tmp_path / "two", batch_size=200, device="cpu", readers=2,
                     progress=stop_after_800)
    assert not [p for p in multiprocessing.active_children() if p.name == "latentcore-reader"]  # all ended
    seen = []
    resumed = extract_file(ebsd_h5, vae_model, tmp_path / "two", batch_size=200, device="cpu", readers=2,
                           progress=lambda done, total, message: seen.append(done))
    assert seen[:2] == [800, 800 + 400]  # said where it starts, then went on from the rows written
    assert latents_of(resumed.path).tobytes() == whole.tobytes()


def test_a_reader_process_that_dies_is_reported_in_one_line_and_loses_nothing(ebsd_h5, vae_model, tmp_path,
                                                                             one_torch_thread, monkeypatch):
    whole = latents_of(extract_file(ebsd_h5, vae_model, tmp_path / "one", batch_size=100, device="cpu",
                                    readers=1).path)
    monkeypatch.setattr(Extractor, "read_size", lambda self, shape: 100)  # 24 blocks: the kill lands mid-run
    written = []

    def kill_the_readers(done, total, message):
        written.append(done)
        if len(written) == 1:
            for process in multiprocessing.active_children():
                if process.name == "latentcore-reader":  # the processes this extraction started
                    os.kill(process.pid, signal.SIGKILL)

    with pytest.raises(ReaderDied) as raised:
        extract_file(ebsd_h5, vae_model, tmp_path / "two", batch_size=100, device="cpu", readers=2,
                     progress=kill_the_readers)
    line = error_line(raised.value)
    assert "\n" not in line and "ni_grains_h5ebsd.h5" in line and "died" in line and "block" in line
    partial = tmp_path / "two" / "ni_grains_h5ebsd__test-vae_latents.h5.partial"  # the model's short "hash"
    assert partial.exists()  # the rows written before are kept
    seen = []
    resumed = extract_file(ebsd_h5, vae_model, tmp_path / "two", batch_size=100, device="cpu", readers=2,
                           progress=lambda done, total, message: seen.append(done))
    assert seen[:2] == [written[-1], written[-1] + 100]
    assert latents_of(resumed.path).tobytes() == whole.tobytes()


def test_readers_must_be_positive(ebsd_h5, vae_model, tmp_path):
    with pytest.raises(Exception, match="readers must be at least 1"):
        extract_file(ebsd_h5, vae_model, tmp_path, device="cpu", readers=0)


def test_a_reader_process_starts_without_pandas_or_scipy():
    """Each reader process imports the readers before its first block (16 of them on a 16-core machine): pandas and
    SciPy, which only tables, alignment and dynamic background correction use, are left to those (about 0.8 s of
    each reader's start)."""
    code = ("import sys; import latentcore.data.parallel; "
            "print([name for name in ('pandas', 'scipy', 'sklearn', 'torch') if name in sys.modules])")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[2])
    assert found.stdout.strip() == "[]", found.stdout
