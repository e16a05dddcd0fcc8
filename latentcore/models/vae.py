"""Convolutional VAE for diffraction patterns: conv encoder -> (mu, logvar), conv decoder with Tanh.

The latent used for exploration is mu. A checkpoint is `{'arch': 'vae', 'config': {...}, 'model':
state_dict}`: plain values and tensors only, so it loads with `torch.load(weights_only=True)` and
needs no options file.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn


@dataclasses.dataclass
class VAEConfig:
    input_size: int = 60  # square patterns, side in pixels
    in_channels: int = 1
    latent_dim: int = 16
    channels: tuple[int, ...] = (32, 64, 128)  # one stride-2 conv per entry

    @property
    def feature_side(self) -> int:
        side = self.input_size
        for _ in self.channels:
            side = (side + 1) // 2  # k=3, s=2, p=1
        return side

    @classmethod
    def from_dict(cls, values: dict) -> "VAEConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known}
        if "channels" in kwargs:
            kwargs["channels"] = tuple(int(c) for c in kwargs["channels"])
        return cls(**kwargs)


LOGVAR_BOUND = 8.0  # |logvar| < 8 (std 0.02 to 55): exp(logvar) and the KL term stay finite whatever the encoder says


class ConvVAE(nn.Module):
    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        self.config = config = config or VAEConfig()
        layers, c_in = [], config.in_channels
        for c_out in config.channels:
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        flat = c_in * config.feature_side ** 2
        self.fc_mu = nn.Linear(flat, config.latent_dim)
        self.fc_logvar = nn.Linear(flat, config.latent_dim)
        self.fc_decode = nn.Linear(config.latent_dim, flat)
        layers = []
        widths = list(reversed(config.channels))
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
                       nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        layers += [nn.ConvTranspose2d(widths[-1], config.in_channels, 3, stride=2, padding=1, output_padding=1)]
        self.decoder = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        # bounded smoothly (tanh): an unbounded logvar once overflowed exp() and made the KL term inf/NaN
        return self.fc_mu(h), LOGVAR_BOUND * torch.tanh(self.fc_logvar(h) / LOGVAR_BOUND)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        side = self.config.feature_side
        h = self.fc_decode(z).view(len(z), self.config.channels[-1], side, side)
        out = self.decoder(h)  # side * 2**depth >= input_size: crop the padding back off
        n = self.config.input_size
        return torch.tanh(out[..., :n, :n])

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def checkpoint(self) -> dict:
        return {"arch": "vae", "config": dataclasses.asdict(self.config), "model": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict) -> "ConvVAE":
        model = cls(VAEConfig.from_dict(checkpoint["config"]))
        model.load_state_dict(checkpoint["model"])
        return model


class VAEEncoder(nn.Module):
    """The part used for extraction: a prepared batch -> mu."""

    def __init__(self, vae: ConvVAE):
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(x)[0]
