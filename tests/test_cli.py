"""`python -m latentcore info|extract`: the issue's end-to-end cases and one-line errors."""
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import torch

from latentcore.cli import main
from latentcore.latents import read_latents
from latentcore.models.nenya import build_nenya
from latentcore.models.vae import ConvVAE, VAEConfig

REPO = Path(__file__).resolve().parents[1]


def save_vae(path, latent_dim=6):
    torch.manual_seed(1)
    torch.save(ConvVAE(VAEConfig(input_size=60, latent_dim=latent_dim, channels=(8, 16))).checkpoint(), path)
    return path


def test_extract_scan_with_vae_checkpoint(ebsd_h5, tmp_path, capsys):
    ckpt = save_vae(tmp_path / "vae.pth")
    assert main(["extract", str(ebsd_h5), "--model", str(ckpt), "--out", str(tmp_path), "--device", "cpu"]) == 0
    latents = read_latents(tmp_path / "ni_grains_h5ebsd_latents.h5")
    assert latents.partitions["all"].shape == (2400, 6)
    assert latents.x.shape == latents.y.shape == (2400,)
    assert latents.attrs["model"] == "vae" and latents.attrs["source"] == "ni_grains_h5ebsd.h5"
    assert "written" in capsys.readouterr().out
    # a second run skips the existing file
    assert main(["extract", str(ebsd_h5), "--model", str(ckpt), "--out", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out


def test_extract_cutouts_with_nenya_checkpoint_and_options(sst_h5, tmp_path):
    torch.manual_seed(2)
    encoder = build_nenya({"ssl_model": "resnet18", "feat_dim": 32})
    state = {k.replace("encoder.", "encoder.module.", 1): v for k, v in encoder.state_dict().items()}
    torch.save({"model": state, "epoch": 3}, tmp_path / "ckpt.pth")  # saved from DataParallel
    options = {"ssl_model": "resnet18", "feat_dim": 32, "ssl_method": "SimCLR", "random_jitter": [5, 5],
               "batch_size_valid": 4, "s3_outdir": "s3://somewhere"}
    (tmp_path / "opts.json").write_text(json.dumps(options))
    assert main(["extract", str(sst_h5), "--model", str(tmp_path / "ckpt.pth"), "--options",
                 str(tmp_path / "opts.json"), "--out", str(tmp_path), "--batch-size", "6"]) == 0
    latents = read_latents(tmp_path / "sst_latents.h5")  # `_preproc` dropped from the stem
    assert latents.partitions["valid"].shape == (12, 32) and latents.partitions["train"].shape == (6, 32)
    np.testing.assert_allclose(np.linalg.norm(latents.partitions["valid"], axis=1), 1, rtol=1e-5)
    with h5py.File(sst_h5) as f:
        cutouts = torch.from_numpy(f["train"][:2])
    with torch.inference_mode():
        expected = encoder.eval()(cutouts).numpy()
    np.testing.assert_allclose(latents.partitions["train"][:2], expected, rtol=1e-4, atol=1e-5)
    assert list(latents.metadata["valid"].columns)[:3] == ["lat", "lon", "row"]
    assert latents.metadata["train"]["pp_idx"].tolist() == list(range(6))


def test_info_prints_json(ebsd_h5, capsys):
    assert main(["info", str(ebsd_h5)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "h5ebsd" and info["partitions"] == {"all": 2400}
    assert info["grid_shape"] == [40, 60]


def test_errors_are_one_line_naming_the_file_with_exit_code_2(ebsd_h5, tmp_path):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(ebsd_h5.read_bytes()[:100_000])  # a truncated download
    ckpt = save_vae(tmp_path / "vae.pth")
    run = subprocess.run([sys.executable, "-m", "latentcore", "extract", str(broken), "--model", str(ckpt)],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "Traceback" not in run.stderr
    assert not list(tmp_path.glob("*_latents.h5*"))

    wrong_model = tmp_path / "other.pth"
    torch.save({"model": {"encoder.conv1.weight": torch.zeros(3)}}, wrong_model)
    run = subprocess.run([sys.executable, "-m", "latentcore", "extract", str(ebsd_h5), "--model", str(wrong_model),
                          "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2 and str(wrong_model) in run.stderr and "Traceback" not in run.stderr
