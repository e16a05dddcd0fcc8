"""Package versions recorded in every latents file and report, for reproducibility."""
import platform
from importlib import metadata

PACKAGES = ("latentcore", "torch", "numpy", "h5py", "scipy", "scikit-learn", "umap-learn", "hdbscan", "pandas")


def package_versions(packages=PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
