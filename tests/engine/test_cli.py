"""`python -m latentcore info|extract`: the issue's end-to-end cases and one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from latentcore.cli import main
from latentcore.latents import read_latents
from latentcore.models.nenya import build_nenya
from latentcore.models.vae import ConvVAE, VAEConfig
from latentcore.outputs import latents_path_for, model_tag
from latentcore.storage import sha256_file

REPO = Path(__file__).resolve().parents[2]


def save_vae(path, latent_dim=6, name=None):
    torch.manual_seed(1)
    checkpoint = ConvVAE(VAEConfig(input_size=60, latent_dim=latent_dim, channels=(8, 16))).checkpoint()
    torch.save({**checkpoint, "name": name} if name else checkpoint, path)
    return path


def latents_of(source, checkpoint, folder):
    """Where `extract --out folder` writes the latents the checkpoint (recording no name) makes of `source`."""
    return latents_path_for(source, folder, model=model_tag("", sha256_file(checkpoint)))


def test_extract_scan_with_vae_checkpoint(ebsd_h5, tmp_path, capsys):
    ckpt = save_vae(tmp_path / "vae.pth")
    assert main(["extract", str(ebsd_h5), "--model", str(ckpt), "--out", str(tmp_path), "--device", "cpu"]) == 0
    latents = read_latents(tmp_path / f"ni_grains_h5ebsd__{sha256_file(ckpt)[:12]}_latents.h5")
    assert latents.partitions["all"].shape == (2400, 6)
    assert latents.x.shape == latents.y.shape == (2400,)
    assert latents.attrs["model"] == "vae" and latents.attrs["source"] == "ni_grains_h5ebsd.h5"
    assert "written" in capsys.readouterr().out
    # a second run skips the existing file
    assert main(["extract", str(ebsd_h5), "--model", str(ckpt), "--out", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out
    # another model of the same scan: a file of its own, named by the name its checkpoint records
    named = save_vae(tmp_path / "named.pth", latent_dim=3, name="small-vae")
    assert main(["extract", str(ebsd_h5), "--model", str(named), "--out", str(tmp_path), "--device", "cpu"]) == 0
    assert "written" in capsys.readouterr().out
    assert read_latents(tmp_path / "ni_grains_h5ebsd__small-vae_latents.h5").partitions["all"].shape == (2400, 3)
    assert read_latents(latents_of(ebsd_h5, ckpt, tmp_path)).partitions["all"].shape == (2400, 6)


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
    latents = read_latents(latents_of(sst_h5, tmp_path / "ckpt.pth", tmp_path))  # `_preproc` dropped from the stem
    assert latents.path.name.startswith("sst__")
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


def test_info_describes_a_file_declaring_more_rows_than_memory_while_extract_refuses_it(tmp_path):
    """`info` reads no rows, so a file that declares 10^9 rows (chunked, nothing written: a 2 kB file)
    is described from its shapes, with why reading it is refused; `extract` still refuses it in one
    line, exit 2, and so does any read through a reader opened only to describe it."""
    from latentcore.data import open_source
    from latentcore.data._checks import ROW_BYTES, memory_budget
    from latentcore.errors import InputError

    rows = max(10**9, 2 * memory_budget() // ROW_BYTES)  # more than this machine's memory can index
    huge = tmp_path / "huge.h5"
    with h5py.File(huge, "w") as f:
        f.create_dataset("valid", shape=(rows, 60, 60), chunks=(64, 60, 60), dtype="u1")
    assert huge.stat().st_size < 100_000

    run = subprocess.run([sys.executable, "-m", "latentcore", "info", str(huge)], capture_output=True, text=True,
                         cwd=REPO)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["format"] == "nenya" and info["partitions"] == {"valid": rows}
    assert info["item_shape"] == [1, 60, 60] and info["dtype"] == "uint8"
    refused = info["extra"]["refused_for_reading"]
    assert len(refused) == 1 and f"declares {rows:,} rows" in refused[0]

    ckpt = save_vae(tmp_path / "vae.pth")
    run = subprocess.run([sys.executable, "-m", "latentcore", "extract", str(huge), "--model", str(ckpt),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and str(huge) in lines[0] and f"declares {rows:,} rows" in lines[0]
    assert "Traceback" not in run.stderr and not list(tmp_path.glob("out/*_latents.h5*"))

    with pytest.raises(InputError, match="more than this machine's memory can index"):
        open_source(huge)
    with open_source(huge, describe_only=True) as reader:
        assert reader.count("valid") == rows
        with pytest.raises(InputError, match="more than this machine's memory can index"):
            reader.read("valid", 0, 1)
        with pytest.raises(InputError, match="more than this machine's memory can index"):
            reader.metadata("valid")


def test_info_describes_a_scan_declaring_1e9_patterns(tmp_path, capsys):
    from small_files import write_scan

    huge = write_scan(tmp_path / "huge.h5", n_rows=40_000, n_columns=25_000, shape=(10**9, 60, 60), chunks=(1, 60, 60))
    assert main(["info", str(huge)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "h5ebsd" and info["partitions"] == {"all": 10**9} and info["item_shape"] == [1, 60, 60]
    assert info["grid_shape"] == [40_000, 25_000] and info["extra"]["refused_for_reading"]


def test_the_command_line_reads_its_options_without_importing_torch():
    """Every command's parser is built at start; one that imported torch for a default (train-vae's --minutes from
    train.sizing) cost every command, `references --no-figures` too, over a second of import."""
    code = ("import sys\nfrom latentcore.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_help_lists_the_commands_in_the_order_of_the_work(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()
              if line.startswith("    ") and not line.startswith("     ")]  # one line per command, indented 4
    assert listed == ["info", "bandcontrast", "extract", "batch", "study", "umap", "maps", "cluster", "mean-pattern",
                      "profile", "rank", "references", "orientations", "grains", "export-ebsd", "probe", "export",
                      "compare", "compare-sources", "train-vae", "rerun"]


def test_the_readme_is_short_and_names_every_command():
    from latentcore.cli import build_parser

    readme = (REPO / "README.md").read_text()
    commands = next(action.choices for action in build_parser()._actions if action.dest == "command")
    assert len(readme.splitlines()) <= 120
    assert [name for name in commands if f"| `{name}` |" not in readme] == []


def test_the_readme_python_example_runs_verbatim_on_what_ships(tmp_path):
    readme = (REPO / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12", "2400"]
    assert (tmp_path / "latents" / "ni_grains_h5ebsd__demo-vae_latents.h5").is_file()


def one_error_line(capsys, argv) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("command", ["cluster", "maps", "umap", "probe"])
def test_a_data_file_given_for_latents_says_to_extract_first(command, edax_h5, sst_h5, tmp_path, capsys):
    extra = {"cluster": ["--method", "kmeans"], "probe": ["--labels", str(tmp_path / "labels.csv")]}.get(command, [])
    out = ["--out", str(tmp_path / ("table.csv" if command == "umap" else "out"))]
    for data in (edax_h5, sst_h5, sst_h5.parent):  # a scan, a cutout file (4-D 'valid'), a folder
        line = one_error_line(capsys, [command, str(data), *extra, *out])
        assert str(data) in line and "extract its latents first (python -m latentcore extract FILE" in line


@pytest.fixture
def latents_without_coordinates(tmp_path):
    path = tmp_path / "lat.npy"
    np.save(path, np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    return path


def test_latents_without_coordinates_say_what_to_do_instead(latents_without_coordinates, tmp_path, capsys):
    lat, out = str(latents_without_coordinates), str(tmp_path / "out")
    assert "maps need a scan (extract the latents of a scan file, or embed these with umap)" in one_error_line(
        capsys, ["maps", lat, "--out", out])
    line = one_error_line(capsys, ["cluster", lat, "--method", "kmeans", "--out", out])  # pairs with the scan's map
    assert "clustering with band contrast needs a scan; cluster whole latent vectors instead (--features latent" in line
    assert main(["cluster", lat, "--method", "kmeans", "--k", "2", "--features", "latent", "--out", out]) == 0
    capsys.readouterr()
    line = one_error_line(capsys, ["rank", lat, "--reference", lat, "--metrics", "partial_pearson", "--out", out])
    assert "(leave it out of --metrics)" in line


def test_a_checkpoint_for_another_architecture_says_to_pass_arch(ebsd_h5, tmp_path, capsys):
    vae = str(save_vae(tmp_path / "vae.pth"))
    out = ["--out", str(tmp_path / "out"), "--device", "cpu"]
    line = one_error_line(capsys, ["extract", str(ebsd_h5), "--model", vae, "--arch", "nenya", *out])
    assert "does not fit the NenyaEncoder architecture (another model's checkpoint? pass --arch and the --options" in line
    line = one_error_line(capsys, ["extract", str(ebsd_h5), "--model", vae, "--arch", "torchscript", *out])
    assert "is not a TorchScript archive (torch.jit.save); leave --arch out to detect what it is" in line


def test_a_scan_without_band_contrast_says_to_give_a_table(ebsd_h5, bandcontrast_csv, tmp_path, capsys):
    ckpt = save_vae(tmp_path / "vae.pth")
    assert main(["extract", str(ebsd_h5), "--model", str(ckpt), "--out", str(tmp_path), "--device", "cpu"]) == 0
    latents = str(latents_of(ebsd_h5, ckpt, tmp_path))  # h5ebsd scans carry no per-point maps
    capsys.readouterr()
    line = one_error_line(capsys, ["cluster", latents, "--method", "kmeans", "--out", str(tmp_path / "out")])
    assert "give a band-contrast table x,y,bandcontrast instead (--bandcontrast FILE.csv)" in line
    assert main(["cluster", latents, "--method", "kmeans", "--k", "2", "--bandcontrast", str(bandcontrast_csv),
                 "--out", str(tmp_path / "out")]) == 0


def test_building_the_parser_loads_none_of_the_analyses_heavy_libraries():
    """Every command pays for the whole parser: building it must not load pandas, SciPy, scikit-learn or torch
    (1.2 CPU s of each command's start when it did), only the command that runs loads what it needs: the parser reads
    the analyses' parameters and records from light modules (`analysis.ebsd.records`, `analysis.rank_metrics`)."""
    code = ("import sys; from latentcore.cli import build_parser; build_parser(); "
            "print([name for name in ('pandas', 'scipy', 'sklearn', 'torch') if name in sys.modules])")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert found.stdout.strip() == "[]", found.stdout
