"""Feeding the model: preparation on the model's device, precision (fp32, bf16) recorded and within
its tolerance, bit-identical runs. The CUDA paths (pinned buffers, copy stream, preparation on the
GPU) are tested where a GPU is present and skipped elsewhere."""
import threading

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from latentcore.data import open_source
from latentcore.demo import DEMO_SCAN
from latentcore.errors import InputError
from latentcore.extract import BF16_TOLERANCE, Extractor, extract_array, extract_file, prepare_batch
from latentcore.models import load_model
from latentcore.models.base import InputSpec, LoadedModel

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SPECS = {  # every step of prepare_batch: crop, channel repeat, RGB to grey, resize, normalisations
    "crop, repeat to 3 channels, standard": (InputSpec(3, None, "standard", crop=10), 1),
    "resize, min-max": (InputSpec(1, (8, 8), "minmax"), 1),
    "grey from RGB, resize, none": (InputSpec(1, (6, 6), "none"), 3),
}


@pytest.fixture(scope="module")
def demo_vae():
    return load_model(DEMO_SCAN.parent / "vae_model.pth")


def pooled_conv(channels: int) -> LoadedModel:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(channels, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return module.eval()


def items(channels: int, n=40, side=12, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 200, (n, channels, side, side)).astype(np.float32)


class ArrayReader:  # the reader interface iter_latents uses, over an array in memory
    def __init__(self, data):
        self.data, self.path = data, "memory"

    def info(self):
        return type("Info", (), {"item_shape": self.data.shape[1:]})()

    def count(self, partition):
        return len(self.data)

    def chunk_rows(self, partition):
        return 1

    def stored_dtype(self, partition):
        return self.data.dtype

    def iter_batches(self, partition, batch_size, allowed_indices=None, stored=False):
        for start in range(0, len(self.data), batch_size):
            rows = np.arange(start, min(start + batch_size, len(self.data)))
            yield self.data[rows] if stored else self.data[rows].astype(np.float32), rows


def run_blocks(spec, channels, device, precision="fp32", dtype=np.float32, data=None):
    model = LoadedModel("conv", "conv", pooled_conv(spec.channels), spec, sha256="t")
    extractor = Extractor(model, device, batch_size=16, precision=precision, readers=1)
    extractor.read_size = lambda shape: 32  # blocks of two batches, the last one shorter
    return extract_array(extractor, ArrayReader(items(channels).astype(dtype) if data is None else data), "all")


@pytest.mark.parametrize("name", SPECS)
def test_block_pipeline_gives_each_items_own_latent(name, one_torch_thread):
    """Blocks prepared whole then cut into batches: each row is the latent of its own item."""
    spec, channels = SPECS[name]
    latents = run_blocks(spec, channels, "cpu")
    model = LoadedModel("conv", "conv", pooled_conv(spec.channels), spec, sha256="t")
    one_by_one = np.concatenate([Extractor(model, "cpu").extract_batch(item[None]) for item in items(channels)])
    np.testing.assert_allclose(latents, one_by_one, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_integer_items_as_stored_give_the_bits_of_their_float32_values(name, dtype, device, one_torch_thread):
    """Integer blocks are converted in prepare_batch (on the model's device), not by the reader: the
    latents are those of the same values handed over as float32 in the same blocks, bit for bit. (Not
    across block sizes on a GPU: its per-item mean and std sum in another order for another number of items.)"""
    spec, channels = SPECS[name]
    whole = items(channels).astype(dtype)
    prepared = prepare_batch(torch.from_numpy(whole).to(device), spec)
    assert prepared.dtype == torch.float32
    assert torch.equal(prepared, prepare_batch(torch.from_numpy(whole.astype(np.float32)).to(device), spec))
    as_stored = run_blocks(spec, channels, device, dtype=dtype)
    assert as_stored.tobytes() == run_blocks(spec, channels, device, data=whole.astype(np.float32)).tobytes()


def test_an_interrupted_extraction_stops_its_reading_thread_at_once(one_torch_thread):
    """Ctrl-C during a batch leaves no reading thread behind while the traceback still holds the
    extraction's frames (a daemon thread inside h5py at exit can hang the interpreter's shutdown)."""
    spec, channels = SPECS["resize, min-max"]
    extractor = Extractor(LoadedModel("conv", "conv", pooled_conv(1), spec, sha256="t"), "cpu", batch_size=16,
                          readers=1)
    extractor.read_size = lambda shape: 16
    batches = []

    def second_batch_interrupted(batch, prepared=False):
        if batches:
            raise KeyboardInterrupt
        batches.append(len(batch))
        return Extractor.extract_batch(extractor, batch, prepared)

    extractor.extract_batch = second_batch_interrupted
    with pytest.raises(KeyboardInterrupt) as caught:
        for _ in extractor.iter_latents(ArrayReader(items(channels, n=400)), "all"):
            pass
    assert caught.value.__traceback__ is not None and batches == [16]
    assert "latentcore-prefetch" not in [thread.name for thread in threading.enumerate()]


def test_precision_is_recorded_and_part_of_the_fingerprint(demo_vae, tmp_path, one_torch_thread):
    fp32 = extract_file(DEMO_SCAN, demo_vae, tmp_path, device="cpu", readers=1)
    with h5py.File(fp32.path) as f:
        assert f.attrs["precision"] == "fp32" and f.attrs["precision_tolerance"] == 0.0
    with pytest.raises(InputError, match="clobber"):  # a bf16 run does not take the fp32 file for its own
        extract_file(DEMO_SCAN, demo_vae, tmp_path, device="cpu", precision="bf16", readers=1)
    bf16 = extract_file(DEMO_SCAN, demo_vae, tmp_path, device="cpu", precision="bf16", readers=1, clobber=True)
    with h5py.File(bf16.path) as f:
        assert f.attrs["precision"] == "bf16" and f.attrs["precision_tolerance"] == BF16_TOLERANCE
    assert extract_file(DEMO_SCAN, demo_vae, tmp_path, device="cpu", precision="bf16", readers=1).skipped
    with pytest.raises(InputError, match="precision must be one of"):
        extract_file(DEMO_SCAN, demo_vae, tmp_path / "x", device="cpu", precision="fp16")


def demo_latents(model, device, precision):
    with open_source(DEMO_SCAN) as reader:
        return extract_array(Extractor(model, device, batch_size=256, precision=precision, readers=1), reader, "all")


def within_tolerance(latents, reference) -> float:
    return float(np.abs(latents - reference).max() / reference.std())


def test_bf16_latents_are_within_the_stated_tolerance_and_the_same_run_to_run(demo_vae, one_torch_thread):
    """The demo VAE on its scan: max |bf16 - fp32| / std(fp32) measured 0.026 (RMS 0.005); stated 0.05."""
    fp32 = demo_latents(demo_vae, "cpu", "fp32")
    bf16 = demo_latents(demo_vae, "cpu", "bf16")
    assert 0 < within_tolerance(bf16, fp32) < BF16_TOLERANCE  # bf16 did run, and stays within
    assert bf16.tobytes() == demo_latents(demo_vae, "cpu", "bf16").tobytes()
    assert fp32.tobytes() == demo_latents(demo_vae, "cpu", "fp32").tobytes()


@CUDA
@pytest.mark.parametrize("name", SPECS)
def test_preparation_on_the_gpu_equals_the_cpu_preparation(name):
    spec, channels = SPECS[name]
    batch = torch.from_numpy(items(channels))
    on_gpu = prepare_batch(batch.cuda(), spec).cpu()
    torch.testing.assert_close(on_gpu, prepare_batch(batch, spec), rtol=1e-5, atol=1e-5)


@CUDA
@pytest.mark.parametrize("name", SPECS)
def test_gpu_pipeline_equals_the_cpu_pipeline(name):
    spec, channels = SPECS[name]
    np.testing.assert_allclose(run_blocks(spec, channels, "cuda"), run_blocks(spec, channels, "cpu"),
                               rtol=1e-3, atol=1e-4)  # TF32 convolutions on the GPU


@CUDA
def test_gpu_bf16_channels_last_within_tolerance_and_the_same_run_to_run(demo_vae):
    fp32 = demo_latents(demo_vae, "cpu", "fp32")
    bf16 = demo_latents(demo_vae, "cuda", "bf16")
    assert within_tolerance(bf16, fp32) < BF16_TOLERANCE
    assert bf16.tobytes() == demo_latents(demo_vae, "cuda", "bf16").tobytes()


@CUDA
def test_pinned_buffers_are_reused():
    from latentcore.extract import pinned_buffer

    first = pinned_buffer(None, (4, 1, 8, 8))
    again = pinned_buffer(first.view(-1), (3, 1, 8, 8))
    assert first.is_pinned() and again.data_ptr() == first.data_ptr()


def test_cli_extract_takes_readers_and_precision(tmp_path, capsys):
    from latentcore.cli import main

    code = main(["extract", str(DEMO_SCAN), "--model", str(DEMO_SCAN.parent / "vae_model.pth"), "--out",
                 str(tmp_path), "--device", "cpu", "--readers", "2", "--precision", "bf16"])
    assert code == 0, capsys.readouterr().err
    with h5py.File(tmp_path / "ni_grains_h5ebsd__demo-vae_latents.h5") as f:  # the demo VAE records its name
        assert f.attrs["precision"] == "bf16" and f["all"].shape[0] == 2400
    capsys.readouterr()
    assert main(["extract", str(DEMO_SCAN), "--model", str(DEMO_SCAN.parent / "vae_model.pth"), "--out",
                 str(tmp_path / "x"), "--readers", "0", "--device", "cpu"]) == 2
    assert "readers must be at least 1" in capsys.readouterr().err
