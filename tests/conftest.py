from pathlib import Path

import pytest
import torch

from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"  # small copies of the sample files; see tests/data/README.md


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def ebsd_h5() -> Path:
    return DEMO_SCAN  # the demo scan is the sample h5ebsd scan, byte for byte


@pytest.fixture(scope="session")
def edax_h5() -> Path:
    return TEST_DATA / "ebsd" / "ni_grains_edax.h5"


@pytest.fixture(scope="session")
def bandcontrast_csv() -> Path:
    return DEMO_BANDCONTRAST


@pytest.fixture(scope="session")
def truth_csv() -> Path:
    return TEST_DATA / "ebsd" / "ni_grains_truth.csv"


@pytest.fixture(scope="session")
def sst_dir() -> Path:
    return TEST_DATA / "sst"


@pytest.fixture(scope="session")
def sst_h5(sst_dir) -> Path:
    return sst_dir / "sst_preproc.h5"


@pytest.fixture
def one_torch_thread():
    """Small models run as fast on one thread, and do not crawl when other processes share the 2
    cores (two OpenMP threads spin while waiting for a busy core)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
