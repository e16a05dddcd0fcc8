"""One model for a study: `train-vae` on several pattern files trains on the same number of patterns from each,
says so and records each source; a resumed run checks every source's bytes; options that belong to one scan are
refused with several. Three small simulated scans of different sizes that share their grains' orientations."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from latentcore.analysis.maps import Roi
from latentcore.data import open_source
from latentcore.data.bandcontrast import BandContrast
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd
from latentcore.errors import InputError
from latentcore.train import TrainConfig, load_patterns
from latentcore.train.dataset import load_training_set, select_rows

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZES = {"a": (8, 10), "b": (10, 12), "c": (6, 9)}  # 80, 120 and 54 patterns

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study-scans")
    return {name: write_h5ebsd(simulate_scan(ScanSettings(n_rows=rows, n_columns=columns, pattern_size=16, n_grains=3,
                                                          seed=seed, orientation_seed=5)), folder / f"{name}.h5")
            for seed, (name, (rows, columns)) in enumerate(SIZES.items(), 1)}


def config(sources, out_dir, **overrides) -> TrainConfig:
    values = dict(data=tuple(sources), out_dir=out_dir, input_size=16, latent_dim=3, channels=(4, 8), epochs=2,
                  batch_size=32, kl_warmup_epochs=1, device="cpu")
    return TrainConfig(**{**values, **overrides})


def test_each_source_gives_as_many_patterns_as_the_smallest(scans, tmp_path):
    training = load_training_set(config(scans.values(), tmp_path))
    smallest = min(rows * columns for rows, columns in SIZES.values())
    assert len(training) == 3 * smallest
    assert [s["name"] for s in training.sources] == ["a.h5", "b.h5", "c.h5"]
    assert [s["n_used"] for s in training.sources] == [smallest] * 3
    assert [s["n_selected"] for s in training.sources] == [r * c for r, c in SIZES.values()]
    parts = np.split(training.rows, 3)
    assert parts[2].tolist() == list(range(smallest))  # the smallest whole, the others a draw of distinct rows
    for part, (rows, columns) in zip(parts[:2], list(SIZES.values())[:2]):
        assert len(np.unique(part)) == smallest and part.max() < rows * columns
        assert part.tolist() != list(range(smallest))
    for i, path in enumerate(scans.values()):  # each source's patterns, prepared as one file's are
        with open_source(path) as reader:
            alone = load_patterns(reader, config([path], tmp_path)).patterns
        assert training.patterns[i * smallest:(i + 1) * smallest].tobytes() == alone[parts[i]].tobytes()
    again = load_training_set(config(scans.values(), tmp_path))
    assert again.rows.tolist() == training.rows.tolist()  # seeded
    other = load_training_set(config(scans.values(), tmp_path, seed=1))
    assert other.rows.tolist() != training.rows.tolist()


def test_filters_apply_to_each_source_before_the_even_share(scans, tmp_path):
    filtered = config(scans.values(), tmp_path, roi=Roi(0, 9, 0, 15))  # µm: 7 columns of each scan, all its rows
    kept = []
    for path in scans.values():
        with open_source(path) as reader:
            kept.append(len(select_rows(reader, "all", filtered)[0]))
    training = load_training_set(filtered)
    assert kept == [7 * 8, 7 * 10, 7 * 6] and len(training) == 3 * 42
    assert [s["n_selected"] for s in training.sources] == kept


def test_options_of_one_scan_are_refused_with_several(scans, bandcontrast_csv, tmp_path):
    with pytest.raises(InputError, match="bandcontrast from a table belongs to one scan"):
        config(scans.values(), tmp_path, bandcontrast=BandContrast.table(bandcontrast_csv), bc_min=1)
    with pytest.raises(InputError, match="keep_coordinates lists one scan's points"):
        config(scans.values(), tmp_path, keep_coordinates=bandcontrast_csv)
    with pytest.raises(InputError, match="data must name each source once"):
        config([scans["a"], scans["a"]], tmp_path)
    assert config([scans["a"]], tmp_path).data == str(scans["a"])  # a study of one is the file


def test_sources_of_other_pattern_sizes_need_an_input_size(scans, tmp_path):
    other = write_h5ebsd(simulate_scan(ScanSettings(n_rows=4, n_columns=5, pattern_size=20, seed=9)),
                         tmp_path / "bigger.h5")
    with pytest.raises(InputError, match="20 pixels across and those of a.h5 16") as raised:
        load_training_set(config([scans["a"], other], tmp_path, input_size=None))
    assert raised.value.path == str(other)
    assert len(load_training_set(config([scans["a"], other], tmp_path))) == 2 * 20  # resized to one size


def cli(*args):
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}  # tiny model: see one_torch_thread
    return subprocess.run([sys.executable, "-m", "latentcore", "train-vae", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)


def test_cli_trains_one_model_on_a_glob_says_the_share_and_resumes_only_on_the_same_bytes(scans, tmp_path):
    folder = scans["a"].parent
    common = ["--input-size", "16", "--latent-dim", "3", "--channels", "4,8", "--device", "cpu", "--out",
              tmp_path / "run"]
    first = cli(folder / "*.h5", *common, "--epochs", "1")
    assert first.returncode == 0, first.stderr
    assert "3 sources of 54 to 120 patterns: one model, trained on the same number from each" in first.stderr
    assert "sized for this machine and 162 patterns" in first.stderr
    assert ", 54 from each of 3 sources" in first.stdout and "(named a+2-20" in first.stdout
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["train"]["data"] == ["a.h5", "b.h5", "c.h5"]  # names, no server path
    assert [(s["name"], s["n_source"], s["n_used"]) for s in record["data"]["sources"]] == [
        ("a.h5", 80, 54), ("b.h5", 120, 54), ("c.h5", 54, 54)]
    assert record["data"]["sha256"] == [s["sha256"] for s in record["data"]["sources"]] and \
        len(set(record["data"]["sha256"])) == 3
    resumed = cli(folder / "*.h5", *common, "--epochs", "2")
    assert resumed.returncode == 0 and "resumed at epoch 2" in resumed.stdout, resumed.stderr
    fewer = cli(scans["a"], scans["b"], *common, "--epochs", "3")
    assert fewer.returncode == 2 and "trained with other settings or data (data (content))" in fewer.stderr
    assert "glob matches no file" in cli(folder / "nothing*.h5", *common).stderr


def test_a_folder_of_scans_is_its_scans_and_an_image_folder_one_source(scans, tmp_path):
    """`train-vae FOLDER` as `umap FOLDER` takes a folder: its pattern files (latents and other files left out),
    where a folder a reader takes whole (images) is one source; a folder of neither is refused, naming it."""
    import shutil

    from PIL import Image

    from latentcore.cli.train import pattern_sources

    folder = tmp_path / "scans"
    folder.mkdir()
    copies = [shutil.copy(scans[name], folder) for name in "cab"]
    (folder / "a__demo-vae_latents.h5").write_bytes(b"latents, not patterns")
    (folder / "notes.txt").write_text("not a scan")
    assert pattern_sources([str(folder)]) == tuple(sorted(map(str, copies)))
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(images / f"p{i}.png")
    assert pattern_sources([str(images), str(scans["b"])]) == (str(images), str(scans["b"]))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no pattern files .* and is not an image or video folder"):
        pattern_sources([str(empty)])
