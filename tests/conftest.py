import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LATENT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"test data not found at {SHARED_DATA}: clone the repo with ../shared beside it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ebsd_h5(shared_data) -> Path:
    return shared_data / "ebsd" / "ni_grains_h5ebsd.h5"


@pytest.fixture(scope="session")
def edax_h5(shared_data) -> Path:
    return shared_data / "ebsd" / "ni_grains_edax.h5"


@pytest.fixture(scope="session")
def bandcontrast_csv(shared_data) -> Path:
    return shared_data / "ebsd" / "ni_grains_bandcontrast.csv"


@pytest.fixture(scope="session")
def truth_csv(shared_data) -> Path:
    return shared_data / "ebsd" / "ni_grains_truth.csv"


@pytest.fixture(scope="session")
def sst_h5(shared_data) -> Path:
    return shared_data / "sst" / "sst_preproc.h5"


@pytest.fixture
def one_torch_thread():
    """Small models run as fast on one thread, and do not crawl when other processes share the 2
    cores (two OpenMP threads spin while waiting for a busy core)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
