"""Train the pattern VAE (`latentcore.models.vae.ConvVAE`) on any pattern source.

    from latentcore.train import TrainConfig, sized_settings, train_vae
    sized = sized_settings(n_patterns=5120, pattern_side=60)   # a run of a few minutes on this machine
    result = train_vae(TrainConfig(data="scan.h5", out_dir="runs/vae1", name="ni-grains", **sized.values),
                       callback=print)
    result.model_path  # -> vae_model.pth, named "ni-grains", loadable with latentcore.load_model

`on_pace` gets the run's `Pace`: an estimate once the first batches were timed, then the time left.
The app runs train_vae in a worker process of its own; `TrainingJob` runs it in a background
thread of a script or notebook (`stop()` stops it); the CLI is `train-vae`. Names load on first use, so the CLI starts without importing torch.
"""
import importlib

_HOMES = {"TrainConfig": "config", "TrainingJob": "background", "PatternSet": "dataset", "load_patterns": "dataset",
          "EpochReport": "trainer", "TrainResult": "trainer", "encode_patterns": "trainer", "train_vae": "trainer",
          "Pace": "pace", "sized_settings": "sizing"}
__all__ = sorted(_HOMES)


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(name)
