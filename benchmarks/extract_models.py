"""The two models of benchmarks/extract_throughput.py, built from a fixed seed with whichever latentcore
is first on sys.path: the same models time this checkout and another one (main)."""
import torch

from latentcore.models.base import InputSpec, LoadedModel
from latentcore.models.vae import ConvVAE, VAEConfig, VAEEncoder


def vae_model() -> LoadedModel:
    torch.manual_seed(0)
    vae = ConvVAE(VAEConfig(input_size=60, latent_dim=16, channels=(32, 64, 128))).eval()
    return LoadedModel("vae", "vae", VAEEncoder(vae), InputSpec(1, (60, 60), "minmax"), sha256="bench")


def nenya_model() -> LoadedModel:
    from latentcore.models.nenya import build_nenya

    torch.manual_seed(0)
    return LoadedModel("nenya-resnet18", "nenya", build_nenya({"ssl_model": "resnet18", "feat_dim": 256}).eval(),
                       InputSpec(1, None, "none"), sha256="bench")


MODELS = {"vae": vae_model, "nenya_resnet18": nenya_model}
