"""The built-in demo: a small simulated nickel EBSD scan (40 x 60 patterns of 60 x 60 pixels,
simulated with kikuchipy; its crystal map holds the simulation's orientations, one m-3m phase) with its
band-contrast map, and a small VAE trained on it by this project's own trainer (`python -m latentcore
train-vae`). Works offline, loads in seconds. The orientations were written into the scan after the VAE was trained:
the patterns are those it was trained on, and its records (`vae_config.json`, the checkpoint's `training`) name the
scan's present SHA-256."""
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
DEMO_SCAN = DEMO_DIR / "ni_grains_h5ebsd.h5"
DEMO_BANDCONTRAST = DEMO_DIR / "ni_grains_bandcontrast.csv"
DEMO_MODEL = DEMO_DIR / "vae_model.pth"  # written by the trainer; committed (a few MB at most)
