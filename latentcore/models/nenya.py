"""Nenya's SSL encoder: a CIFAR-style ResNet and an MLP projection head, output L2-normalised.

State-dict keys and shapes are those of Nenya's (and SupContrast's) `SupConResNet`, so its
checkpoints load as they are: `encoder.conv1`, `encoder.bn1`, `encoder.layerL.B.{conv,bn}N`,
`encoder.layerL.B.shortcut.{0,1}` (1x1 conv + BN where the shape changes), `head.0` and `head.2`.
The stem is a 3x3 stride-1 conv without max-pool, as for 32-64 pixel cutouts.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError

# name -> (block kind, blocks per stage); width of the pooled features follows from the block
ARCHITECTURES = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
HEADS = ("mlp", "linear")  # the projection heads SupConResNet has
DEFAULTS = {"ssl_model": "resnet50", "feat_dim": 128, "nchannels": 1, "head": "mlp"}  # SupConResNet's


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()  # no parameters, as Nenya's empty nn.Sequential()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_planes))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = _shortcut(in_planes, out_planes, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNetBackbone(nn.Module):
    """(B, C, H, W) -> globally average-pooled features (B, dim_out)."""

    def __init__(self, block: type[nn.Module], blocks_per_stage, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_planes = 64
        for index, (planes, count, stride) in enumerate(zip(STAGE_WIDTHS, blocks_per_stage, STAGE_STRIDES), 1):
            stage = []
            for b in range(count):
                stage.append(block(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes * block.expansion
            setattr(self, f"layer{index}", nn.Sequential(*stage))
        self.dim_out = in_planes

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)


class NenyaEncoder(nn.Module):
    """SupConResNet: backbone, projection head, L2 normalisation -> (B, feat_dim)."""

    def __init__(self, ssl_model: str = "resnet50", feat_dim: int = 128, nchannels: int = 1, head: str = "mlp"):
        super().__init__()
        if ssl_model not in ARCHITECTURES:
            raise ValueError(f"unknown ssl_model {ssl_model!r}; known: {', '.join(ARCHITECTURES)}")
        kind, blocks = ARCHITECTURES[ssl_model]
        self.encoder = ResNetBackbone(BLOCKS[kind], blocks, in_channels=nchannels)
        dim_in = self.encoder.dim_out
        if head == "mlp":
            self.head = nn.Sequential(nn.Linear(dim_in, dim_in), nn.ReLU(inplace=True), nn.Linear(dim_in, feat_dim))
        elif head == "linear":
            self.head = nn.Linear(dim_in, feat_dim)
        else:
            raise ValueError(f"unknown head {head!r}; known: {', '.join(HEADS)}")

    def forward(self, x):
        return F.normalize(self.head(self.encoder(x)), dim=1)


def nenya_settings(options: dict | None = None, state_dict: dict | None = None, path=None) -> dict:
    """The four settings that shape the network: taken from the options where given, else read off
    the checkpoint's weights (older options files lack `nchannels`: ulmo's models took 3 channels),
    else SupConResNet's defaults."""
    options = options or {}
    inferred = _settings_from_state_dict(state_dict, path) if state_dict else {}
    settings = {}
    for key, default in DEFAULTS.items():
        value = options.get(key)
        settings[key] = value if value is not None else inferred.get(key, default)
    try:
        settings["feat_dim"] = int(settings["feat_dim"])
        settings["nchannels"] = int(settings["nchannels"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"options: feat_dim and nchannels must be integers ({exc}): correct the options",
                              path) from exc
    for key in ("feat_dim", "nchannels"):
        if settings[key] < 1:
            raise CheckpointError(f"options: {key} must be a positive integer, got {settings[key]}", path)
    if settings["ssl_model"] not in ARCHITECTURES:
        raise CheckpointError(f"options: unknown ssl_model {settings['ssl_model']!r}; "
                              f"choose one of {', '.join(ARCHITECTURES)}", path)
    if settings["head"] not in HEADS:
        raise CheckpointError(f"options: unknown head {settings['head']!r}; choose one of {', '.join(HEADS)}", path)
    return settings


def _settings_from_state_dict(state: dict, path=None) -> dict:
    """ssl_model, feat_dim, nchannels and head as the weights show them (empty when they are not
    Nenya's)."""
    settings = {}
    stem = state.get("encoder.conv1.weight")
    if isinstance(stem, torch.Tensor) and stem.ndim == 4:
        settings["nchannels"] = int(stem.shape[1])
    last = state.get("head.2.weight", state.get("head.weight"))
    if isinstance(last, torch.Tensor) and last.ndim == 2:
        settings["feat_dim"] = int(last.shape[0])
        settings["head"] = "mlp" if "head.2.weight" in state else "linear"
    kind = "bottleneck" if "encoder.layer1.0.conv3.weight" in state else "basic"
    blocks = tuple(len({key.split(".")[2] for key in state if key.startswith(f"encoder.layer{i}.")})
                   for i in range(1, 5))
    for name, spec in ARCHITECTURES.items():
        if spec == (kind, blocks):
            settings["ssl_model"] = name
    return settings


def build_nenya(options: dict | None = None, state_dict: dict | None = None, path=None) -> NenyaEncoder:
    """A NenyaEncoder shaped by `nenya_settings` (weights not loaded)."""
    settings = nenya_settings(options, state_dict, path)
    return NenyaEncoder(**settings)
