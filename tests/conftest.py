import os
import sys
import tempfile
from pathlib import Path

import numba_cache  # tests/: pyproject.toml's pythonpath

# The page tests fit the demo's small UMAPs in the test process (the server default sends every fit to
# a worker: tests/app/test_pages_jobs.py checks that path); set before the app's modules read it.
os.environ.setdefault("LATENT_EXPLORER_INLINE_FIT_ROWS", "20000")

# The suite runs in parallel (pytest-xdist, `-n` in pyproject.toml): every test process gets its own
# session folders, embedding cache, S3 download cache and machine rate for training's sizing, so a test that does
# not set its own never shares one with another worker, another run or the developer's (~/.cache,
# /tmp/latent-explorer).
# Set before the app's modules read them; the processes the tests start inherit them.
_PRIVATE = Path(tempfile.mkdtemp(prefix=f"latent-explorer-tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"))
os.environ["LATENT_EXPLORER_WORKDIR"] = str(_PRIVATE / "sessions")
os.environ["LATENT_EXPLORER_CACHE"] = str(_PRIVATE / "embedding-cache")
os.environ["LATENTCORE_S3_CACHE"] = str(_PRIVATE / "s3-cache")
os.environ["LATENT_EXPLORER_MACHINE_RATES"] = str(_PRIVATE / "machine-rates.json")


# numba's on-disk cache is not safe for two processes compiling the same functions at once (the
# index of one can point at the other's machine code, and every later load crashes: seen with orix's
# gufuncs on a new install). Each xdist worker keeps its own cache folder, kept between runs, inside the
# virtualenv: numba files a function's cache under its source file's path, so a folder outside it would
# gain a copy for every new virtualenv (one per `.ci/run`). The controller compiles the code most processes
# load into its own folder before the workers start, and each worker's folder starts as a copy of it
# (tests/numba_cache.py). Not read from the environment: the workers inherit the controller's. The app's own
# first fits take `latentcore.analysis.embedding.umap_numba.cache_lock`. Set before numba loads.
_NUMBA_HOME = (Path(sys.prefix) if os.access(sys.prefix, os.W_OK) else Path.home() / ".cache") / "numba-cache"
_NUMBA_COMPILED = _NUMBA_HOME / "latent-explorer-tests-main"
_NUMBA_OWN = _NUMBA_HOME / f"latent-explorer-tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
if _NUMBA_OWN != _NUMBA_COMPILED:
    numba_cache.seed(_NUMBA_OWN, _NUMBA_COMPILED)
os.environ["NUMBA_CACHE_DIR"] = str(_NUMBA_OWN)


def pytest_configure(config):
    if "PYTEST_XDIST_WORKER" not in os.environ:  # the controller (or a run without workers), before any worker
        numba_cache.compile_into(_NUMBA_COMPILED)


def pytest_unconfigure(config):
    import shutil

    shutil.rmtree(_PRIVATE, ignore_errors=True)

# Each of n xdist workers gets its share of the cores for OpenMP/BLAS/numba/torch (read when they
# load, hence before torch): two workers with a 2-thread OpenMP pool each on 2 cores spin-wait for
# each other (scikit-learn's k-means took 7x as long). Processes the tests start inherit it; the app's
# worker pool sets its own (ui/compute/jobs.py).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_name, str(max(1, len(os.sched_getaffinity(0)) // _WORKERS)))

import pytest  # noqa: E402
import torch  # noqa: E402

from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"  # small copies of the sample files; see tests/data/README.md


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def ebsd_h5() -> Path:
    return DEMO_SCAN  # the demo scan is the sample h5ebsd scan, byte for byte


@pytest.fixture(scope="session")
def never_indexed_h5(tmp_path_factory) -> Path:
    """The demo scan as kikuchipy writes a scan never indexed: zero Euler angles, a phase without symmetry."""
    import shutil

    import h5py
    import numpy as np

    path = shutil.copy(DEMO_SCAN, tmp_path_factory.mktemp("never_indexed") / "never_indexed.h5")
    with h5py.File(path, "r+") as f:
        crystal_map = f["Scan 1/EBSD/CrystalMap/crystal_map"]
        for name in ("phi1", "Phi", "phi2"):
            crystal_map["data"][name][...] = 0
        for name in ("point_group", "space_group"):
            del crystal_map["header/phases/0"][name]
            crystal_map["header/phases/0"][name] = np.array([b"None"])
    return path


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


@pytest.fixture(scope="session")
def h5oina_small(tmp_path_factory, ebsd_h5, bandcontrast_csv) -> Path:
    """A small Oxford H5OINA scan written with h5py from the demo scan: its top-left 12 x 15 points
    (1.5 µm step), patterns centre-cropped to 40 x 40 (so a 60 x 60 model resizes them), the
    demo's band contrast as `Band Contrast`, a `Band Slope` and `Mean Angular Deviation`, and
    `X Step`/`Y Step` that carry a `Unit` attribute of "um" as Oxford's files do."""
    import h5py
    import numpy as np
    import pandas as pd

    n_rows, n_columns, side = 12, 15, 40
    with h5py.File(ebsd_h5, "r") as f:
        patterns = f["Scan 1/EBSD/Data/patterns"][()].reshape(40, 60, 60, 60)
    patterns = patterns[:n_rows, :n_columns, 10:10 + side, 10:10 + side].reshape(-1, side, side)
    table = pd.read_csv(bandcontrast_csv)
    grid = table["bandcontrast"].to_numpy().reshape(40, 60)[:n_rows, :n_columns].ravel()
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    path = tmp_path_factory.mktemp("h5oina") / "small_scan.h5oina"
    with h5py.File(path, "w") as f:
        f["Manufacturer"], f["Format Version"] = np.array([b"Oxford Instruments"]), np.array([b"5.0"])
        data, header = f.create_group("1/EBSD/Data"), f.create_group("1/EBSD/Header")
        data["Processed Patterns"] = patterns
        data["X"], data["Y"] = (1.5 * columns).astype(np.float32), (1.5 * rows).astype(np.float32)
        data["Band Contrast"] = grid.astype(np.uint8)
        data["Band Slope"] = (255 - grid).astype(np.uint8)
        data["Mean Angular Deviation"] = np.full(len(grid), 0.5, np.float32)
        data["Phase"] = np.ones(len(grid), np.uint8)  # not a quality map: never offered as band contrast
        header["X Cells"], header["Y Cells"] = np.array([n_columns], np.int32), np.array([n_rows], np.int32)
        for name in ("X Step", "Y Step"):
            header[name] = np.array([1.5], np.float32)
            header[name].attrs["Unit"] = "um"
    return path


@pytest.fixture(scope="session")
def grains_h5oina(tmp_path_factory) -> Path:
    """A simulated Oxford H5OINA scan with orientations: 12 x 15 points, 40 x 40 patterns, 3 grains, one phase."""
    from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina

    scan = simulate_scan(ScanSettings(n_rows=12, n_columns=15, pattern_size=40, n_grains=3, seed=5))
    return write_h5oina(scan, tmp_path_factory.mktemp("grains") / "grains.h5oina")


@pytest.fixture(scope="session")
def ni_ti_h5ebsd(tmp_path_factory) -> Path:
    """A two-phase kikuchipy h5ebsd scan saved by kikuchipy and orix (tests/vendor_writers.py): 12 x 20 points at
    1.5 µm, nickel (phase 1, m-3m, a = 3.524 Å) split into two grains, titanium (phase 2, 6/mmm, a = 2.95 Å,
    c = 4.68 Å) with a gradient, points as random symmetry equivalents, three not indexed; 20 kV, 70° tilt, x500,
    15 mm (`vendor_writers.NI_TI_ACQUISITION`)."""
    from vendor_writers import NI_TI_ACQUISITION, NICKEL, TITANIUM, nickel_titanium_orientations, write_kikuchipy_h5ebsd

    euler, phase_id = nickel_titanium_orientations(12, 20)
    return write_kikuchipy_h5ebsd(tmp_path_factory.mktemp("ni_ti") / "ni_ti.h5", euler, phase_id,
                                  {1: NICKEL, 2: TITANIUM}, (12, 20), acquisition=NI_TI_ACQUISITION)


@pytest.fixture(scope="session")
def references_npz(tmp_path_factory) -> Path:
    """The demo scan's references.npz (VBSE, IQ, ADP: it holds no orientations), as the CLI writes it."""
    from latentcore.cli import main

    out = tmp_path_factory.mktemp("references")
    assert main(["references", str(DEMO_SCAN), "--no-figures", "--out", str(out)]) == 0
    return out / "references.npz"


TEST_PROCESS_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def main_module_restored():
    """Streamlit's AppTest runs a page as `__main__` and leaves it there, in a test or in a module's fixture:
    every process spawned later in this process (a reader, a pool worker, Dask's nanny) would run that page
    again first, seconds of CPU each, or fail to start. Each test starts and ends with the process's own."""
    sys.modules["__main__"] = TEST_PROCESS_MAIN
    yield
    sys.modules["__main__"] = TEST_PROCESS_MAIN


@pytest.fixture(scope="module")
def moto_s3(tmp_path_factory):
    """A real S3-compatible server (moto) on 127.0.0.1 for a test module, with AWS settings that reach only it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        from s3_helpers import MotoS3, S3Settings, isolated_aws_env, start_server

        server = start_server()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        isolated_aws_env(monkeypatch, endpoint, tmp_path_factory.mktemp("s3-cache"))
        try:
            yield MotoS3(server, endpoint, S3Settings(endpoint_url=endpoint, max_attempts=2, connect_timeout=2,
                                                      read_timeout=10))
        finally:
            server.stop()


@pytest.fixture(scope="module")
def visitor_keys(moto_s3):
    """An IAM user of the S3 server with its own keys (not the environment's): (key id, secret)."""
    import json
    import uuid

    import boto3

    iam = boto3.client("iam", endpoint_url=moto_s3.endpoint, region_name="us-east-1")
    name = f"visitor-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


# Tests that run on one xdist worker, one after another, in file order (`--dist loadgroup` in
# pyproject.toml): each starts servers or process pools that would crowd the 2 cores if two of them ran
# at once.
#   browser:   each module in tests/browser/ is a group of its own: its tests are one story in order (the ROI set
#              on the maps page holds on the clusters page) in one tab; the modules spread over the workers,
#              each worker with one `streamlit run app.py` and one Chromium (tests/browser/conftest.py).
#   processes: a Dask LocalCluster and a `dask scheduler`/`dask worker` pair (test_batch, test_study), the spawn
#              worker pool and its timings (cancel within 2 s: test_jobs, test_pages_jobs), concurrent
#              writers, kill -9 and a full tmpfs (test_output_integrity).
# Other servers (moto S3, the flaky proxy) bind port 0 per module and work per worker; moto's in-process
# state is per worker, and every test makes its own bucket.
#   shared:    a module whose tests share an expensive module-scoped fixture, made once on one worker.
PROCESSES = {"test_batch.py", "test_study.py", "test_jobs.py", "test_jobs_dask.py", "test_pages_jobs.py",
             "test_output_integrity.py"}
SHARED = {"test_pages_shown.py"}


def xdist_group(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/browser/") or path.rsplit("/", 1)[-1] in SHARED:
        return path
    return "processes" if path.rsplit("/", 1)[-1] in PROCESSES else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's loadgroup scheduler, grouping by `xdist_group`. Not with `xdist_group` marks: xdist
    3.8 groups marked tests by appending `@group` to `item._nodeid`, which pytest 9.2 no longer
    reads (node ids live in `item._id`), so marks alone leave the tests spread over the workers."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            group = xdist_group(nodeid)
            return f"group:{group}" if group else super()._split_scope(nodeid)

    return ModuleGroups(config, log)
