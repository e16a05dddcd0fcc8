import os
from pathlib import Path

import pytest

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
