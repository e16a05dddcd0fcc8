"""latentcore.models: Nenya's encoder, safe checkpoint loading, VAE and TorchScript loading."""
import builtins
import json
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from latentcore.errors import CheckpointError, InputError, UnsafeCheckpointError
from latentcore.models import describe_checkpoint, load_model, load_nenya_options
from latentcore.models.base import InputSpec
from latentcore.models.nenya import NenyaEncoder
from latentcore.models.vae import ConvVAE, VAEConfig
from latentcore.storage import sha256_file

# Real key names and shapes of Nenya's SupConResNet('resnet18', feat_dim=F, nchannels=1), written out
# by hand from its source: stem, first and last block of each stage, every shortcut, the head.
NENYA_RESNET18_KEYS = {
    "encoder.conv1.weight": (64, 1, 3, 3),
    "encoder.bn1.weight": (64,),
    "encoder.bn1.running_var": (64,),
    "encoder.bn1.num_batches_tracked": (),
    "encoder.layer1.0.conv1.weight": (64, 64, 3, 3),
    "encoder.layer1.0.bn1.bias": (64,),
    "encoder.layer1.1.conv2.weight": (64, 64, 3, 3),
    "encoder.layer1.1.bn2.running_mean": (64,),
    "encoder.layer2.0.conv1.weight": (128, 64, 3, 3),
    "encoder.layer2.0.conv2.weight": (128, 128, 3, 3),
    "encoder.layer2.0.shortcut.0.weight": (128, 64, 1, 1),
    "encoder.layer2.0.shortcut.1.weight": (128,),
    "encoder.layer2.0.shortcut.1.running_var": (128,),
    "encoder.layer2.1.bn2.weight": (128,),
    "encoder.layer3.0.shortcut.0.weight": (256, 128, 1, 1),
    "encoder.layer3.1.conv1.weight": (256, 256, 3, 3),
    "encoder.layer4.0.conv1.weight": (512, 256, 3, 3),
    "encoder.layer4.0.shortcut.0.weight": (512, 256, 1, 1),
    "encoder.layer4.0.shortcut.1.num_batches_tracked": (),
    "encoder.layer4.1.bn2.bias": (512,),
    "head.0.weight": (512, 512),
    "head.0.bias": (512,),
    "head.2.weight": ("F", 512),
    "head.2.bias": ("F",),
}
# 6 stem entries + 8 blocks x 12 + 3 shortcuts x 6 + 4 head entries
NENYA_RESNET18_KEY_COUNT = 6 + 8 * 12 + 3 * 6 + 4

NENYA_OPTIONS = {  # as Nenya writes them (opts_nenya_*.json), junk included
    "print_freq": 100, "batch_size_train": 256, "batch_size_valid": 4, "num_workers": 16,
    "lr_decay_epochs": "700, 800, 900", "feat_dim": 32, "ssl_method": "SimCLR", "ssl_model": "resnet18",
    "model_root": "models/MODIS_tst", "s3_outdir": "s3://modis-l2/Nenya/", "random_jitter": [40, 5],
    "random_cropjitter": {"crop": 5}, "gauss_noise": 0.0, "flip": True, "nenya_data": True, "nchannels": 1,
    "cuda_use": True, "an_option_from_the_future": None,
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    model = NenyaEncoder("resnet18", feat_dim=32, nchannels=1).eval()
    _randomise_batchnorm(model)
    return model


def _randomise_batchnorm(model):
    """Non-trivial running statistics, so that a load that skipped them would change the output."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)


def _forward(module, x):
    with torch.no_grad():
        return module(x)


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))


# ---------------------------------------------------------------- the encoder itself

def test_resnet18_keys_and_shapes_are_nenyas():
    state = NenyaEncoder("resnet18", feat_dim=64, nchannels=1).state_dict()
    assert len(state) == NENYA_RESNET18_KEY_COUNT
    for key, shape in NENYA_RESNET18_KEYS.items():
        assert key in state, key
        assert tuple(state[key].shape) == tuple(64 if s == "F" else s for s in shape), key
    assert not [k for k in state if k.startswith("encoder.layer1.") and "shortcut" in k]  # same shape: identity
    assert {k.split(".")[0] for k in state} == {"encoder", "head"}


def test_resnet50_uses_bottlenecks_with_2048_features():
    state = NenyaEncoder("resnet50", feat_dim=256, nchannels=3).state_dict()
    assert tuple(state["encoder.conv1.weight"].shape) == (64, 3, 3, 3)
    assert tuple(state["encoder.layer1.0.conv3.weight"].shape) == (256, 64, 1, 1)
    assert tuple(state["encoder.layer1.0.shortcut.0.weight"].shape) == (256, 64, 1, 1)
    assert tuple(state["encoder.layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    assert tuple(state["head.0.weight"].shape) == (2048, 2048)
    assert tuple(state["head.2.weight"].shape) == (256, 2048)


def test_output_is_l2_normalised_per_item(resnet18):
    out = _forward(resnet18, torch.randn(2, 1, 64, 64))
    assert out.shape == (2, 32)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))


# ---------------------------------------------------------------- Nenya checkpoints

def test_plain_state_dict_loads_and_matches(tmp_path, resnet18, images):
    path = tmp_path / "plain.pth"
    torch.save(resnet18.state_dict(), path)
    model = load_model(path, options=NENYA_OPTIONS)
    assert (model.arch, model.name) == ("nenya", "nenya-resnet18")
    assert model.input_spec == InputSpec(channels=1, size=None, normalize="none")
    assert model.sha256 == sha256_file(path) and model.path == str(path)
    assert not model.module.training
    torch.testing.assert_close(_forward(model.module, images), _forward(resnet18, images))


@pytest.mark.parametrize("prefix", ["module.", "encoder.module."])
def test_dataparallel_prefixes_are_removed(tmp_path, resnet18, images, prefix):
    """Whole-model DataParallel (`module.encoder.`) and Nenya's encoder-only one (`encoder.module.`)."""
    if prefix == "module.":
        state = {f"module.{k}": v for k, v in resnet18.state_dict().items()}
    else:
        state = {k.replace("encoder.", "encoder.module.", 1): v for k, v in resnet18.state_dict().items()}
    path = tmp_path / "dp.pth"
    torch.save({"model": state, "epoch": 3}, path)
    model = load_model(path, options=NENYA_OPTIONS)
    torch.testing.assert_close(_forward(model.module, images), _forward(resnet18, images))
    with pytest.raises(CheckpointError, match="unexpected keys") as err:
        load_model(path, arch="nenya", options=NENYA_OPTIONS, remove_module=False)
    assert "module." in str(err.value)


def test_options_json_with_junk_keys(tmp_path, resnet18):
    options_path = tmp_path / "opts_nenya_test.json"
    options_path.write_text(json.dumps(NENYA_OPTIONS))
    assert load_nenya_options(options_path) == NENYA_OPTIONS
    path = tmp_path / "m.pth"
    torch.save({"model": resnet18.state_dict()}, path)
    model = load_model(path, options=options_path)
    assert model.name == "nenya-resnet18"
    assert model.options["batch_size_valid"] == 4 and model.options["random_jitter"] == [40, 5]
    json.dumps(model.options)  # plain values only


def test_bad_options_file_names_it(tmp_path):
    bad = tmp_path / "opts.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="opts.json"):
        load_nenya_options(bad)


def test_options_are_read_off_the_weights_when_missing(tmp_path):
    """Old ulmo checkpoints: no options file, 3 input channels, resnet34, linear head."""
    torch.manual_seed(2)
    original = NenyaEncoder("resnet34", feat_dim=16, nchannels=3, head="linear").eval()
    path = tmp_path / "ulmo.pth"
    torch.save({"model": original.state_dict()}, path)
    model = load_model(path)
    assert model.name == "nenya-resnet34"
    assert model.input_spec.channels == 3
    assert (model.options["feat_dim"], model.options["head"]) == (16, "linear")
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(_forward(model.module, x), _forward(original, x))


def _fake_ulmo_modules():
    """A `ulmo.utils` module with Nenya's `Params`: present while saving, gone while loading."""
    ulmo, utils = types.ModuleType("ulmo"), types.ModuleType("ulmo.utils")

    class Params:
        def __init__(self, values):
            self.__dict__.update(values)

    Params.__module__, Params.__qualname__ = "ulmo.utils", "Params"
    utils.Params, ulmo.utils = Params, utils
    return {"ulmo": ulmo, "ulmo.utils": utils}


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy-format"])
def test_nenya_checkpoint_with_pickled_params(tmp_path, monkeypatch, resnet18, images, zipped):
    modules = _fake_ulmo_modules()
    path = tmp_path / "last.pth"
    optimizer = torch.optim.SGD(resnet18.parameters(), lr=0.05, momentum=0.9)
    with monkeypatch.context() as patch:
        for name, module in modules.items():
            patch.setitem(sys.modules, name, module)
        params = modules["ulmo.utils"].Params(dict(NENYA_OPTIONS, lr_decay_epochs=[700, 800],
                                                   warmup_to=np.float64(0.04)))
        torch.save({"opt": params, "model": resnet18.state_dict(), "optimizer": optimizer.state_dict(),
                    "epoch": 23}, path, _use_new_zipfile_serialization=zipped)
    assert "ulmo" not in sys.modules and "ulmo.utils" not in sys.modules
    model = load_model(path)  # no options: the checkpoint's own
    assert model.name == "nenya-resnet18"
    assert model.options["ssl_model"] == "resnet18" and model.options["feat_dim"] == 32
    assert model.options["lr_decay_epochs"] == [700, 800]
    assert model.options["warmup_to"] == 0.04 and type(model.options["warmup_to"]) is float
    assert model.options["s3_outdir"] == "s3://modis-l2/Nenya/"
    json.dumps(model.options)
    torch.testing.assert_close(_forward(model.module, images), _forward(resnet18, images))
    assert "ulmo" not in sys.modules  # nothing was imported to load it
    assert describe_checkpoint(path)["options"]["model_root"] == "models/MODIS_tst"


def test_explicit_options_override_the_pickled_ones(tmp_path, monkeypatch, resnet18):
    modules = _fake_ulmo_modules()
    path = tmp_path / "last.pth"
    with monkeypatch.context() as patch:
        for name, module in modules.items():
            patch.setitem(sys.modules, name, module)
        torch.save({"opt": modules["ulmo.utils"].Params(NENYA_OPTIONS), "model": resnet18.state_dict()}, path)
    model = load_model(path, options={"batch_size_valid": 2})
    assert model.options["batch_size_valid"] == 2 and model.options["ssl_method"] == "SimCLR"


# ---------------------------------------------------------------- checkpoints that must be refused

class _RunsShellCommand:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _RunsSubprocess(_RunsShellCommand):
    def __reduce__(self):
        return subprocess.call, (["touch", self.marker],)


class _RunsExec(_RunsShellCommand):
    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').close()",)


class _RunsOwnConstructor(_RunsShellCommand):
    """A class global called as a function (REDUCE), as `Params(json_path)` would be."""

    def __reduce__(self):
        return type(self), (self.marker,)

    def __init__(self, marker):
        super().__init__(marker)
        open(marker, "w").close()


@pytest.mark.parametrize("payload", [_RunsShellCommand, _RunsSubprocess, _RunsExec, _RunsOwnConstructor])
def test_checkpoint_that_would_run_code_is_refused(tmp_path, resnet18, payload):
    marker = tmp_path / "pwned"
    evil = payload.__new__(payload)
    evil.marker = str(marker)
    path = tmp_path / "evil.pth"
    torch.save({"opt": evil, "model": resnet18.state_dict()}, path)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError) as err:
        load_model(path)
    assert str(path) in str(err.value)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError):
        describe_checkpoint(path)
    assert not marker.exists()


def test_unsupported_pickled_object_is_refused_with_the_reason(tmp_path, monkeypatch):
    """A dict subclass (EasyDict-style options) cannot be rebuilt without running its class."""
    module = types.ModuleType("easydict_like")

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__, module.EasyDict = "easydict_like", "EasyDict", EasyDict
    path = tmp_path / "easy.pth"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "easydict_like", module)
        torch.save({"opt": EasyDict(feat_dim=8), "model": {"head.weight": torch.zeros(8, 4)}}, path)
    with pytest.raises(CheckpointError, match=r"easy\.pth: refused to load: .*easydict_like\.EasyDict"):
        load_model(path)


def test_state_dict_that_does_not_fit_lists_keys_and_shapes(tmp_path, resnet18):
    state = dict(resnet18.state_dict())
    del state["encoder.layer3.1.conv2.weight"]
    state["encoder.fc.weight"] = torch.zeros(10, 512)
    path = tmp_path / "broken.pth"
    torch.save({"model": state}, path)
    with pytest.raises(CheckpointError) as err:
        load_model(path, options={"ssl_model": "resnet18", "feat_dim": 64})
    message = str(err.value)
    assert str(path) in message
    assert "missing keys (1): encoder.layer3.1.conv2.weight" in message
    assert "unexpected keys (1): encoder.fc.weight" in message
    assert "head.2.weight: checkpoint (32, 512) vs model (64, 512)" in message


def test_wrong_depth_is_refused(tmp_path, resnet18):
    path = tmp_path / "r18.pth"
    torch.save(resnet18.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"missing keys \(\d+\): .*encoder\.layer1\.2\.conv1\.weight"):
        load_model(path, options={"ssl_model": "resnet34"})


def test_files_that_are_not_checkpoints(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(os.urandom(256))
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_model(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="unknown arch"):
        load_model(junk, arch="gpt")


def test_pickled_whole_module_is_refused_with_advice(tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(CheckpointError, match="state_dict"):
        load_model(path)


# ---------------------------------------------------------------- VAE and TorchScript

def test_vae_round_trip(tmp_path):
    torch.manual_seed(3)
    config = VAEConfig(input_size=20, in_channels=1, latent_dim=6, channels=(4, 8))
    vae = ConvVAE(config).eval()
    _randomise_batchnorm(vae)
    path = tmp_path / "vae.pth"
    torch.save(vae.checkpoint(), path)
    model = load_model(path)
    assert (model.arch, model.name) == ("vae", "vae")
    assert model.input_spec == InputSpec(channels=1, size=(20, 20), normalize="minmax")
    assert model.options["latent_dim"] == 6 and model.options["channels"] == [4, 8]
    x = torch.rand(3, 1, 20, 20) * 2 - 1
    torch.testing.assert_close(_forward(model.module, x), _forward(vae, x)[1])  # mu
    assert describe_checkpoint(path)["arch"] == "vae"


class _SmallEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))  # spatial output: pooled later by the extractor


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_round_trip(tmp_path, how):
    torch.manual_seed(4)
    original = _SmallEncoder().eval()
    _randomise_batchnorm(original)
    x = torch.randn(2, 3, 12, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        compiled = torch.jit.script(original) if how == "script" else torch.jit.trace(original, x)
        path = tmp_path / "encoder.pt"
        torch.jit.save(compiled, str(path))
    model = load_model(path)
    assert (model.arch, model.name) == ("torchscript", "torchscript")
    assert model.input_spec == InputSpec(channels=3, size=None, normalize="none")  # channels off conv weight
    torch.testing.assert_close(_forward(model.module, x), _forward(original, x))
    model = load_model(path, arch="torchscript",
                       options={"input_channels": 3, "input_size": 32, "normalize": "standard"})
    assert model.input_spec == InputSpec(channels=3, size=(32, 32), normalize="standard")
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        load_model(path, arch="nenya")


# ---------------------------------------------------------------- detection

def test_arch_detection(tmp_path, resnet18):
    torch.save({"model": resnet18.state_dict()}, tmp_path / "nenya.pth")
    torch.save(ConvVAE(VAEConfig(input_size=8, latent_dim=2, channels=(4,))).checkpoint(), tmp_path / "vae.pth")
    torch.save({"conv.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "other.pth")
    assert describe_checkpoint(tmp_path / "nenya.pth")["arch"] == "nenya"
    assert describe_checkpoint(tmp_path / "nenya.pth")["keys"] == NENYA_RESNET18_KEY_COUNT
    assert describe_checkpoint(tmp_path / "nenya.pth")["options"]["ssl_model"] == "resnet18"
    assert describe_checkpoint(tmp_path / "vae.pth")["arch"] == "vae"
    with pytest.raises(CheckpointError, match="cannot tell the architecture"):
        load_model(tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a TorchScript archive"):
        load_model(tmp_path / "nenya.pth", arch="torchscript")
