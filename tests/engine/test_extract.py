"""Extraction: streamed batches into the latents file, pooling, determinism, skip/clobber, resume."""
import h5py
import numpy as np
import pytest
import torch

from latentcore.cli import main
from latentcore.data import open_source
from latentcore.errors import InputError
from latentcore.extract import Extractor, extract_file, pool_latents, prepare_batch
from latentcore.latents import latents_summary, read_latents, summary_label
from latentcore.models import load_model
from latentcore.models.base import InputSpec, LoadedModel
from latentcore.models.vae import ConvVAE, VAEConfig, VAEEncoder
from latentcore.outputs import latents_path_for, model_tag
from latentcore.storage import sha256_file


@pytest.fixture(scope="module")
def vae_model():
    torch.manual_seed(0)
    vae = ConvVAE(VAEConfig(input_size=60, latent_dim=4, channels=(8, 16))).eval()
    return LoadedModel("vae", "vae", VAEEncoder(vae), InputSpec(1, (60, 60), "minmax"), sha256="test-vae")


class Interrupt(Exception):
    pass


def test_scan_latents_file_has_rows_coordinates_and_provenance(ebsd_h5, vae_model, tmp_path):
    result = extract_file(ebsd_h5, vae_model, tmp_path, batch_size=256, device="cpu")
    assert result.path == tmp_path / "ni_grains_h5ebsd__test-vae_latents.h5" and not result.skipped
    latents = read_latents(result.path)
    assert latents.partitions["all"].shape == (2400, 4)
    assert latents.partitions["all"].dtype == np.float32
    assert latents.grid_shape == (40, 60)
    with open_source(ebsd_h5) as reader:
        x, y = reader.coordinates("all")
        first = reader.read("all", 0, 3)
    np.testing.assert_array_equal(latents.x, x)
    np.testing.assert_array_equal(latents.y, y)
    assert latents.attrs["source_sha256"] == sha256_file(ebsd_h5)
    assert latents.attrs["model_sha256"] == "test-vae" and latents.attrs["pooling"] == "mean"
    assert "torch" in latents.attrs["versions"]
    # the rows are the model's latents of the source rows, in source order
    expected = Extractor(vae_model, "cpu").extract_batch(first)
    np.testing.assert_allclose(latents.partitions["all"][:3], expected, rtol=1e-5, atol=1e-6)
    assert not list(tmp_path.glob("*.partial"))


def test_same_input_and_model_give_byte_identical_latents(ebsd_h5, vae_model, tmp_path):
    one = extract_file(ebsd_h5, vae_model, tmp_path / "a", batch_size=128, device="cpu").path
    two = extract_file(ebsd_h5, vae_model, tmp_path / "b", batch_size=128, device="cpu").path
    with h5py.File(one) as a, h5py.File(two) as b:
        assert a["all"][()].tobytes() == b["all"][()].tobytes()


def test_existing_file_is_skipped_unless_clobber(ebsd_h5, vae_model, tmp_path):
    first = extract_file(ebsd_h5, vae_model, tmp_path, batch_size=512, device="cpu")
    with h5py.File(first.path, "a") as f:
        f.attrs["marker"] = "kept"
    again = extract_file(ebsd_h5, vae_model, tmp_path, batch_size=512, device="cpu")
    assert again.skipped
    assert read_latents(first.path).attrs["marker"] == "kept"
    clobbered = extract_file(ebsd_h5, vae_model, tmp_path, batch_size=512, device="cpu", clobber=True)
    assert not clobbered.skipped and "marker" not in read_latents(first.path).attrs


def vae_checkpoint(path, seed: int, name: str | None = None):
    """A small VAE checkpoint as the trainer writes one, with the model's name recorded when `name` is given."""
    torch.manual_seed(seed)
    checkpoint = ConvVAE(VAEConfig(input_size=60, latent_dim=4, channels=(8, 16))).checkpoint()
    torch.save({**checkpoint, "name": name} if name else checkpoint, path)
    return path


def test_model_tag_is_the_recorded_name_else_a_short_hash():
    assert model_tag("demo-vae", "ab" * 32) == "demo-vae"
    assert model_tag("", "ab" * 32) == model_tag(None, "ab" * 32) == "ab" * 6
    assert model_tag("my model/v2", "") == "my-model-v2"  # a name is made a harmless file-name part
    assert model_tag("", "") == ""


def test_two_models_of_one_source_write_two_files_and_neither_is_taken_for_the_other(ebsd_h5, tmp_path):
    named = load_model(vae_checkpoint(tmp_path / "named.pth", 0, "small-vae"))
    unnamed = load_model(vae_checkpoint(tmp_path / "unnamed.pth", 1))
    assert (named.recorded_name, unnamed.recorded_name) == ("small-vae", "")
    first = extract_file(ebsd_h5, named, tmp_path / "out", batch_size=512, device="cpu")
    before = first.path.read_bytes()
    second = extract_file(ebsd_h5, unnamed, tmp_path / "out", batch_size=512, device="cpu")
    assert first.path.name == "ni_grains_h5ebsd__small-vae_latents.h5"
    assert second.path.name == f"ni_grains_h5ebsd__{unnamed.sha256[:12]}_latents.h5"
    assert not second.skipped  # the first model's file is not reused for the second
    assert first.path.read_bytes() == before  # nor written over
    attrs = [read_latents(r.path).attrs for r in (first, second)]
    assert [a["model_sha256"] for a in attrs] == [named.sha256, unnamed.sha256]
    assert [a["model_name"] for a in attrs] == ["small-vae", ""]
    assert extract_file(ebsd_h5, unnamed, tmp_path / "out", batch_size=512, device="cpu").skipped  # its own: reused
    assert summary_label(latents_summary(first.path)) == "ni_grains_h5ebsd · small-vae · 2,400 rows"
    assert summary_label(latents_summary(second.path)) == f"ni_grains_h5ebsd · {unnamed.sha256[:12]} · 2,400 rows"


def test_a_latents_file_of_the_old_name_still_reads_and_names_its_model(ebsd_h5, tmp_path):
    """Files written before the model joined the name are `<stem>_latents.h5`, without `model_name`."""
    model = load_model(vae_checkpoint(tmp_path / "vae.pth", 0))
    old = extract_file(ebsd_h5, model, out_path=tmp_path / "ni_grains_h5ebsd_latents.h5", device="cpu").path
    with h5py.File(old, "a") as f:
        del f.attrs["model_name"]
    assert read_latents(old).partitions["all"].shape == (2400, 4)
    assert latents_summary(old) == {"source": "ni_grains_h5ebsd", "model": model.sha256[:12], "rows": 2400,
                                    "partitions": {"all": 2400}, "source_sha256": sha256_file(ebsd_h5),
                                    "source_file": ebsd_h5.name}


def test_interrupted_run_resumes_from_the_rows_written(ebsd_h5, vae_model, tmp_path):
    reference = read_latents(extract_file(ebsd_h5, vae_model, tmp_path / "ref", batch_size=200,
                                          device="cpu").path).partitions["all"]

    stopped_at = []

    def stop_after_1000(done, total, message):
        if done >= 1000:
            stopped_at.append(done)
            raise Interrupt

    with pytest.raises(Interrupt):
        extract_file(ebsd_h5, vae_model, tmp_path, batch_size=200, device="cpu", progress=stop_after_1000)
    final = latents_path_for(ebsd_h5, tmp_path, model=model_tag(vae_model.recorded_name, vae_model.sha256))
    assert not final.exists() and final.with_name(final.name + ".partial").exists()

    seen = []
    extract_file(ebsd_h5, vae_model, tmp_path, batch_size=200, device="cpu",
                 progress=lambda done, total, message: seen.append(done))
    # resumed: the first report says the rows written before, the next goes on from them
    assert 0 < stopped_at[0] < 2400 and seen[0] == stopped_at[0] < seen[1] and seen[-1] == 2400
    np.testing.assert_array_equal(read_latents(final).partitions["all"], reference)
    assert not final.with_name(final.name + ".partial").exists()


def test_allowed_indices_restrict_rows_and_keep_their_coordinates(ebsd_h5, vae_model, tmp_path):
    chosen = np.r_[5:50, 700:730, 2399]
    full = read_latents(extract_file(ebsd_h5, vae_model, tmp_path / "full", device="cpu").path)
    part = read_latents(extract_file(ebsd_h5, vae_model, tmp_path / "part", device="cpu",
                                     allowed_indices=chosen).path)
    assert part.partitions["all"].shape == (len(chosen), 4)
    np.testing.assert_allclose(part.partitions["all"], full.partitions["all"][chosen], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(part.x, full.x[chosen])
    with h5py.File(part.path) as f:
        np.testing.assert_array_equal(f["all_indices"][()], chosen)
    # a row names its own item: in the table galleries read, and in the mean pattern the command line takes
    np.testing.assert_array_equal(part.stacked()[1]["index"], chosen)
    out = tmp_path / "mean"
    assert main(["mean-pattern", str(part.path), "--source", str(ebsd_h5), "--rows", "45-49", "--out", str(out),
                 "--no-png"]) == 0
    with open_source(ebsd_h5) as reader:
        expected = reader.read_rows("all", chosen[45:50]).astype(np.float64).mean(0)
    np.testing.assert_allclose(np.load(next(out.glob("*.npy"))), expected, rtol=1e-12)


@pytest.mark.parametrize("pool, expected", [
    ("mean", lambda z: z.reshape(2, 3, -1).mean(-1)),
    ("max", lambda z: z.reshape(2, 3, -1).max(-1)),
    ("flatten", lambda z: z.reshape(2, -1)),
])
def test_pooling_of_spatiotemporal_latents(pool, expected):
    z = torch.randn(2, 3, 4, 5, 6)  # (B, C, T, H, W)
    np.testing.assert_allclose(pool_latents(z, pool).numpy(), expected(z.numpy()), rtol=1e-5, atol=1e-6)


def test_unknown_pooling_is_refused():
    with pytest.raises(InputError, match="pooling"):
        pool_latents(torch.zeros(1, 2, 3, 3), "median")


def test_prepare_batch_repeats_channels_resizes_and_normalises():
    batch = torch.rand(2, 1, 30, 40) * 100
    out = prepare_batch(batch, InputSpec(channels=3, size=(64, 64), normalize="minmax"))
    assert out.shape == (2, 3, 64, 64)
    assert torch.equal(out[:, 0], out[:, 2])
    assert torch.allclose(out.amin((1, 2, 3)), torch.tensor(-1.0)) and torch.allclose(out.amax((1, 2, 3)), torch.tensor(1.0))
    video = prepare_batch(torch.rand(1, 1, 4, 10, 10), InputSpec(channels=1, size=(20, 20)))
    assert video.shape == (1, 1, 4, 20, 20)


def test_get_latent_shape_reports_the_unpooled_output():
    conv = torch.nn.Conv3d(1, 5, kernel_size=3, padding=1)
    model = LoadedModel("video", "torchscript", conv, InputSpec(1, None, "none"))
    extractor = Extractor(model, "cpu", pool="mean")
    assert extractor.get_latent_shape((1, 4, 8, 8)) == (5, 4, 8, 8)
    assert extractor.extract_pooled(np.zeros((1, 4, 8, 8), np.float32)).shape == (5,)
    assert Extractor(model, "cpu", pool="flatten").latent_dim((1, 4, 8, 8)) == 5 * 4 * 8 * 8
    # 3-D convolutions keep the default layout (channels-last holds 4-D weights only), in bf16 too
    assert Extractor(model, "cpu", precision="bf16").extract_pooled(np.zeros((1, 4, 8, 8), np.float32)).shape == (5,)


def test_2d_convolutions_run_channels_last_on_cpu_within_rounding_of_the_default_layout(vae_model):
    batch = torch.from_numpy(np.random.default_rng(0).random((8, 1, 60, 60), dtype=np.float32))
    with torch.inference_mode():
        out = vae_model.module.to(memory_format=torch.contiguous_format)(prepare_batch(batch, vae_model.input_spec))
        reference = pool_latents(out[0] if isinstance(out, tuple) else out, "mean").numpy()
    latents = Extractor(vae_model, "cpu").extract_batch(batch.numpy())
    weights = [p for p in vae_model.module.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    np.testing.assert_allclose(latents, reference, rtol=1e-5, atol=1e-6)


def test_cuda_requested_without_gpu_is_a_clear_error(vae_model):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(InputError, match="no CUDA GPU"):
        Extractor(vae_model, "cuda")


def test_crop_recorded_in_a_vae_checkpoint_is_applied_at_extraction(tmp_path):
    import dataclasses

    from latentcore.models import load_model

    torch.manual_seed(3)
    vae = ConvVAE(VAEConfig(input_size=20, latent_dim=2, channels=(4,)))
    torch.save({**vae.checkpoint(), "preprocess": {"crop": 40}}, tmp_path / "vae.pth")
    model = load_model(tmp_path / "vae.pth")
    assert model.input_spec.crop == 40
    batch = torch.rand(2, 1, 60, 60)
    uncropped = dataclasses.replace(model, input_spec=dataclasses.replace(model.input_spec, crop=None))
    np.testing.assert_allclose(Extractor(model, "cpu").extract_batch(batch),
                               Extractor(uncropped, "cpu").extract_batch(batch[..., 10:50, 10:50]), rtol=1e-6)


def test_latents_do_not_depend_on_the_torch_thread_count(ebsd_h5, vae_model, tmp_path):
    """Dask's nanny starts its workers with OMP_NUM_THREADS=1, the app's workers run with every core:
    a file's latents must be the same bits whatever the thread count."""
    threads = torch.get_num_threads()
    latents = {}
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            path = extract_file(ebsd_h5, vae_model, tmp_path / str(n), batch_size=64, device="cpu").path
            assert torch.get_num_threads() == n  # the caller's setting is left as it was
            with h5py.File(path) as f:
                latents[n] = f["all"][()]
            latents[f"batch {n}"] = Extractor(vae_model, "cpu").extract_batch(first_rows(ebsd_h5, 64))
    finally:
        torch.set_num_threads(threads)
    assert latents[1].tobytes() == latents[2].tobytes() == latents[3].tobytes()
    assert latents["batch 1"].tobytes() == latents["batch 2"].tobytes() == latents[1][:64].tobytes()


def first_rows(path, n):
    with open_source(path) as reader:
        return reader.read("all", 0, n)
