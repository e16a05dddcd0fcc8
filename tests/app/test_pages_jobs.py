"""The pages' heavy work in the app's worker pool, with the real app under AppTest and real worker
processes: the engine call is made to fail in this (the server's) process, so a page that still
gets its result got it from another process. Extraction shows its rows, can be cancelled from the
page and resumed; ranking at scale goes to a worker too."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from driving import new_app, point_panels, steps_from_row, texts

from latentcore.demo import DEMO_SCAN
from latentcore.outputs import latents_path_for

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


@pytest.fixture
def not_here(monkeypatch):
    """The engine's heavy calls fail in this process: they must run in a worker."""
    import latentcore.analysis.rank
    import latentcore.analysis.references
    import latentcore.extract

    def refuse(*args, **kwargs):
        raise AssertionError("ran in the server process")

    for module, name in ((latentcore.extract, "extract_file"), (latentcore.analysis.rank, "rank_dimensions"),
                         (latentcore.analysis.references, "pattern_components")):
        monkeypatch.setattr(module, name, refuse)


def wait_until(condition, timeout=120.0):
    end = time.time() + timeout
    while not condition() and time.time() < end:
        time.sleep(0.2)


def rerun_until(at: AppTest, condition, job=None, timeout=120.0) -> AppTest:
    """Rerun the page until `condition(at)`, which the action's own run may already meet (a cancel that lands
    before that run ends is said in it, once); while `job` runs, wait for it first (a rerun takes a core the
    niced worker needs)."""
    end = time.time() + timeout
    while not condition(at):
        if time.time() > end:
            raise AssertionError("the page did not get there in time: " + texts(at.get("progress")))
        if job is not None:
            wait_until(job.done, timeout=end - time.time())
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception
    return at


def test_an_extraction_runs_in_a_worker_shows_its_rows_can_be_cancelled_and_resumes(monkeypatch, not_here):
    import ui.compute.jobs
    import ui.compute.latent_space

    monkeypatch.setattr(ui.compute.jobs, "INLINE_PATTERNS", 0)  # the demo's 2,400 patterns go to the pool
    at = new_app("extract")
    at.number_input(key="extract_batch").set_value(1)  # 2,400 batches: time to cancel
    at.button(key="extract_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state["extract_job"]
    assert job.folder is not None and not job.done()  # a pool job, not one run here
    rerun_until(at.run(), lambda at: at.get("progress"))  # drawn while the worker starts: the job cannot end first
    assert at.button(key="extract_run").disabled  # one extraction at a time per session
    assert "in a worker process" in at.get("progress")[0].proto.text
    # cancelled once the task has reported (loading the model, or its first rows): the cancel lands at its next
    # report, well before 2,400 batches could end by themselves
    wait_until(lambda: job.progress()[1] == "loading the model" or job.progress()[1].endswith("items"))
    at.button(key=f"_cancel_{job.key}").click().run()
    rerun_until(at, lambda at: "Extraction cancelled" in texts(at.info), job)
    assert at.session_state["latents"] is None and not at.button(key="extract_run").disabled

    at.number_input(key="extract_batch").set_value(256)
    at.button(key="extract_run").click().run()
    resumed = at.session_state["extract_job"]
    rerun_until(at, lambda at: at.success, resumed)
    assert f"Wrote {latents_path_for(DEMO_SCAN, model='demo-vae').name}: all 2,400 rows" in texts(at.success)
    assert resumed.progress()[1].endswith("2,400 / 2,400 items"), resumed.progress()  # it reported its rows
    path = Path(at.session_state["latents"])
    assert path.is_file() and path.is_relative_to(at.session_state["workdir"])
    assert at.session_state["latents_model"]["pool"] == "mean"
    assert not list(path.parent.glob("*.partial*"))


def extracting_with(module, name: str) -> AppTest:
    """The Extract page run on the demo with the TorchScript `module`, saved as `name` among the workspace's
    models (as an upload puts it there) and picked."""
    import torch

    at = new_app("extract")
    model = Path(at.session_state["workdir"]) / "models" / name
    model.parent.mkdir(exist_ok=True)
    torch.jit.save(torch.jit.script(module), str(model))
    at.session_state["models"] = {name: {"path": str(model), "arch": "torchscript", "options": None}}
    at.run()
    at.selectbox(key="extract_model").select(name).run()
    return at.button(key="extract_run").click().run()


def new_image_of_row(at: AppTest, row: int):
    """The demo's pattern of `row`, given to the UMAP page's new-image panel as a user's NPY file."""
    import io

    import numpy as np

    from latentcore.data import open_source

    with open_source(DEMO_SCAN) as reader:
        pattern = reader.read("all", row, row + 1)[0, 0]
    buffer = io.BytesIO()
    np.save(buffer, pattern)
    at.file_uploader(key="umap_new_image").set_value(("pattern.npy", buffer.getvalue(), "application/octet-stream"))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # the encoder is made here
def test_a_torchscript_model_runs_only_in_a_process_of_its_own_which_cancel_ends(monkeypatch):
    """An uploaded TorchScript encoder is a program: the demo's 2,400 patterns, which a checkpoint's model encodes in
    the server, go to a process of its own. This one's forward never returns, so the job never reports again; Cancel
    ends its process CANCEL_END_S later (here 1 s) and the page says the extraction was cancelled."""
    import psutil
    import torch

    import ui.compute.dispatch
    import ui.compute.jobs

    class NeverReturns(torch.nn.Module):
        def forward(self, x):
            total = x.mean()
            while bool(total > -1.0):  # patterns are finite: for ever
                total = total * 1.0
            return x.flatten(1)

    monkeypatch.setattr(ui.compute.jobs, "CANCEL_END_S", 1.0)
    at = extracting_with(NeverReturns(), "never.pt")
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state["extract_job"]
    assert job.folder is not None and not job.done()  # not run here
    worker = psutil.Process(ui.compute.jobs._workers(ui.compute.dispatch.app_pool().dedicated[job.key])[0].pid)
    wait_until(lambda: job.progress()[1] == "loading the model")  # reported: the next report never comes
    rerun_until(at, lambda at: at.get("progress"))
    at.button(key=f"_cancel_{job.key}").click().run()
    rerun_until(at, lambda at: "Extraction cancelled" in texts(at.info), job, timeout=30)
    assert "ended 1 s after its cancel" in str(job.error())
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE


def silent_job_page():
    """A page whose job (`pool_tasks.silent`, in a process of its own) starts a child that only SIGKILL ends."""
    from pool_tasks import silent

    from ui.compute import dispatch
    from ui.widgets import waiting

    dispatch.show_waits_with(waiting)
    dispatch.pooled(silent, "Silent", rows=10**9, dedicated=True, seconds=605, children=1, deaf=True)


def test_a_cancelled_job_says_cancelling_until_every_process_it_started_has_ended(monkeypatch):
    """After Cancel, the page shows the job cancelling (its progress, no restart) until the job and what it started
    have ended (here CANCEL_END_S = 1 s, then a child that ignores SIGTERM): only then "cancelled" and "Start it
    again", which would otherwise start a run beside a child of the old one still running."""
    import ui.compute.dispatch
    import ui.compute.jobs

    monkeypatch.setattr(ui.compute.jobs, "CANCEL_END_S", 1.0)
    at = AppTest.from_function(silent_job_page, default_timeout=60).run()
    job = next(j for j in ui.compute.dispatch.app_pool().jobs.values() if j.label == "Silent" and not j.done())
    wait_until(lambda: job.progress()[1][:1].isdigit())  # reported: the next report never comes
    at.button(key=f"_cancel_{job.key}").click().run()
    restart = f"_restart_{job.key}"
    assert not job.done() and "Silent: cancelled." not in texts(at.info) and restart not in [b.key for b in at.button]
    assert [p.proto.text for p in at.get("progress")][0].startswith("Silent: cancelling")
    rerun_until(at, lambda at: "Silent: cancelled." in texts(at.info), job, timeout=30)
    assert job.done() and [b.label for b in at.button if b.key == restart] == ["Start it again"]


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # the encoder is made here
def test_a_torchscript_models_new_image_is_projected_in_a_process_of_its_own(monkeypatch):
    """Where a new image lands, through a TorchScript encoder: in a process of its own, though the demo's 2,400 rows
    are few enough for a checkpoint's model to project it in the server."""
    import torch

    import latentcore.analysis.embedding.projection

    class Corners(torch.nn.Module):
        def forward(self, x):
            return x[:, :, ::12, ::12].flatten(1)

    at = extracting_with(Corners(), "corners.pt")
    rerun_until(at, lambda at: at.success)
    at.switch_page("pages/umap.py").run()
    assert not at.exception and "umap_scatter" in point_panels(at)

    def refuse(*args, **kwargs):
        raise AssertionError("ran in the server process")
    monkeypatch.setattr(latentcore.analysis.embedding.projection, "project_image", refuse)
    new_image_of_row(at, 123)
    rerun_until(at, lambda at: "Lands at" in texts(at.markdown), timeout=120)
    assert not at.error, [e.value for e in at.error]
    assert steps_from_row(at, "new image: pattern.npy", 123) <= 1


def test_several_files_are_extracted_in_a_worker_and_made_one_study_in_one_step(not_here, tmp_path):
    """The Extract page's "several files into one study": each picked file extracted with the chosen model in one
    worker job, the progress counting the files extracted; then their study is written in the workspace and becomes the
    session's latents, as the Data page's study maker would make it."""
    at, job = extract_a_study_of_two_uploads(tmp_path)
    assert job.progress() == (1.0, "extracted 2 of 2 sources")
    at.run()  # the study's form starts afresh on the new data
    at.multiselect(key="extract_study_files").set_value(["s2.h5"])  # one alone: its latents, no study
    at.button(key="extract_study_run").click().run()
    rerun_until(at, lambda at: "Reused s2__demo-vae_latents.h5: all 80 rows" in texts(at.success))
    assert Path(at.session_state["latents"]).name == "s2__demo-vae_latents.h5"


@pytest.fixture
def on_dask(monkeypatch, tmp_path):
    """The app's pool on a real Dask LocalCluster of 2 workers, as LATENT_EXPLORER_SCHEDULER=local makes it."""
    import ui.compute.dispatch
    from ui.compute.jobs import JobPool

    pool = JobPool(tmp_path / "jobs", workers=2, scheduler="local")
    monkeypatch.setattr(ui.compute.dispatch, "app_pool", lambda: pool)
    yield pool
    pool.shutdown()


def test_on_a_dask_cluster_several_files_are_a_task_each_and_the_page_says_where_work_runs(not_here, on_dask,
                                                                                          tmp_path):
    from distributed import get_task_stream

    with get_task_stream(on_dask.dask.client) as stream:
        at, job = extract_a_study_of_two_uploads(tmp_path)
    assert sorted(task["key"].rsplit("-", 2)[0] for task in stream.data if task["key"].startswith("extract-")) == [
        "extract", "extract"]
    assert job.worker() is not None  # the last report came from a Dask worker
    assert "Heavy work runs on a Dask LocalCluster of 2 workers started by this server." in texts(at.sidebar.caption)


def test_s3_objects_kept_on_the_data_page_are_extracted_on_the_dask_workers_with_the_visitor_s_keys(
        not_here, on_dask, moto_s3, visitor_keys, tmp_path):
    """Data page: the visitor's own keys, two objects listed and kept to extract from S3; Extract page: the two made
    one study by a Dask task each, which downloads its object where it runs with those keys (the server's own are
    refused); only the latents join the workspace."""
    from distributed import get_task_stream

    from latentcore.storage import s3

    bucket = moto_s3.new_bucket()
    for scan in two_scans(tmp_path):
        s3.upload(scan, f"s3://{bucket}/scans/{scan.name}", moto_s3.settings)
    key_id, secret = visitor_keys
    at = new_app()
    moto_s3.require_auth(True)  # the environment's keys, which the server and its workers have, are refused
    try:
        at.text_input(key="s3_key_id").input(key_id)
        at.text_input(key="s3_secret").input(secret)
        at.text_input(key="s3_endpoint").input(moto_s3.endpoint)
        at.button(key="s3_use_credentials").click().run()
        at.text_input(key="s3_bucket").input(bucket)
        at.text_input(key="s3_prefix").input("scans/").run()
        at.button(key="s3_list").click().run()
        at.multiselect(key="s3_pick").select("scans/s1.h5").select("scans/s2.h5").run()
        at.button(key="s3_extract_there").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert "2 S3 object(s)" in texts(at.caption)
        at.switch_page("pages/extract.py").run()
        offered = [label for label in at.multiselect(key="extract_study_files").options if label.startswith("s3://")]
        assert offered == [f"s3://{bucket}/scans/s{n}.h5 (S3: read where the job runs)" for n in (1, 2)]
        at.multiselect(key="extract_study_files").set_value(offered)
        at.text_input(key="extract_study_name").set_value("remote")
        with get_task_stream(on_dask.dask.client) as stream:
            at.button(key="extract_study_run").click().run()
            assert not at.exception and not at.error, [e.value for e in at.error]
            rerun_until(at, lambda at: at.success, at.session_state["extract_job"])
    finally:
        moto_s3.require_auth(False)
    assert "Wrote remote.study.json: s1 48 rows, s2 80 rows" in texts(at.success)
    assert sum(task["key"].startswith("extract-") for task in stream.data) == 2
    workdir = Path(at.session_state["workdir"])
    assert not [path for path in workdir.rglob("s?.h5")]  # the scans never landed in the workspace
    at.switch_page("pages/data.py").run()
    at.button(key="s3_extract_forget").click().run()  # let them go: the Extract page no longer offers them
    assert "S3 object(s)" not in texts(at.caption)
    at.switch_page("pages/extract.py").run()
    offered = [label for widget in at.multiselect if widget.key == "extract_study_files" for label in widget.options]
    assert not [label for label in offered if label.startswith("s3://")] and not at.exception


def two_scans(folder: Path) -> list[Path]:
    """Two small simulated h5ebsd scans of 6 x 8 and 8 x 10 points, s1.h5 and s2.h5."""
    from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd

    return [write_h5ebsd(simulate_scan(ScanSettings(n_rows=rows, n_columns=columns, pattern_size=16, n_grains=2,
                                                    seed=seed, orientation_seed=3)), folder / f"s{seed}.h5")
            for seed, (rows, columns) in enumerate([(6, 8), (8, 10)], 1)]


def extract_a_study_of_two_uploads(tmp_path):
    """Two simulated scans uploaded, extracted as the study "pair" from the Extract page in one pool job: the page
    and that job once the study is the session's latents."""
    from driving import with_upload

    from latentcore.study import read_study

    at = with_upload(*two_scans(tmp_path))
    at.switch_page("pages/extract.py").run()
    at.button(key="extract_study_run").click().run()
    assert "Choose the files, and name the study of two or more" in texts(at.error)
    at.multiselect(key="extract_study_files").set_value(["s1.h5", "s2.h5"])
    at.button(key="extract_study_run").click().run()
    assert "Choose the files, and name the study of two or more" in texts(at.error)
    at.text_input(key="extract_study_name").set_value("../pair")
    at.button(key="extract_study_run").click().run()
    assert "a study's name is letters, digits and ._+-" in texts(at.error)
    at.text_input(key="extract_study_name").set_value("pair")
    at.button(key="extract_study_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state["extract_job"]
    assert job.folder is not None  # a pool job: extract_file fails in this process
    rerun_until(at, lambda at: at.success, job)
    assert "Wrote pair.study.json: s1 48 rows, s2 80 rows" in texts(at.success)
    path = Path(at.session_state["latents"])
    assert path == Path(at.session_state["workdir"]) / "pair.study.json"
    study = read_study(path, root=path.parent)
    assert [(m.name, m.rows) for m in study.members] == [("s1", 48), ("s2", 80)]
    assert at.session_state["latents_model"]["study"] == "pair"
    return at, job


def test_an_extraction_in_the_server_starts_no_reader_process(monkeypatch):
    """The server runs app.py as `__main__`: a reader process it spawned would run the whole app again first. Small
    data is read in the server's own thread, also where a command-line run would get several reader processes."""
    import latentcore.data.parallel
    import latentcore.extract

    monkeypatch.setattr(latentcore.extract, "default_readers", lambda cores=None: 3)  # a machine of 4 cores

    def refuse(*args, **kwargs):
        raise AssertionError("reader processes started by the server")
    monkeypatch.setattr(latentcore.data.parallel, "_ReaderPool", refuse)
    at = new_app("extract")
    at.button(key="extract_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert f"Wrote {latents_path_for(DEMO_SCAN, model='demo-vae').name}: all 2,400 rows" in texts(at.success)


def test_ranking_at_scale_runs_in_a_worker(monkeypatch):
    import ui.compute.jobs
    import ui.compute.latent_space

    at = new_app("extract")
    at.button(key="extract_run").click().run()  # the demo's latents, extracted here (small)
    assert at.success
    monkeypatch.setattr(ui.compute.jobs, "INLINE_ROWS", 0)
    monkeypatch.setattr(ui.compute.latent_space, "NEAREST_HERE_ROWS", 0)  # more rows than the server searches
    import latentcore.analysis.rank
    import latentcore.analysis.references

    def refuse(*args, **kwargs):
        raise AssertionError("ran in the server process")
    monkeypatch.setattr(latentcore.analysis.rank, "rank_dimensions", refuse)
    monkeypatch.setattr(latentcore.analysis.references, "pattern_components", refuse)
    at.switch_page("pages/rank.py").run()
    rerun_until(at, lambda at: at.dataframe, timeout=120)
    assert not at.error, [e.value for e in at.error]
    assert at.multiselect(key="rank_references").value == ["band contrast"]  # band contrast first, by default
    at.multiselect(key="rank_references").set_value(["band contrast", "pattern PC1"]).run()
    rerun_until(at, lambda at: at.dataframe and "pattern PC1" in set(at.dataframe[0].value["reference"]), timeout=120)
    assert not at.error, [e.value for e in at.error]
    best = at.dataframe[0].value
    assert set(best["reference"]) == {"band contrast", "pattern PC1"}
    assert (best.groupby("reference")["rank"].max() == 4).all()


@pytest.mark.usefixtures("empty_embedding_cache")  # a first fit: none cached
def test_a_first_umap_fits_in_a_worker_while_the_page_shows_the_pca_and_says_so(monkeypatch):
    import numpy as np

    import latentcore.analysis.embedding.study
    import ui.compute.jobs

    at = new_app("extract")
    at.button(key="extract_run").click().run()  # the demo's latents, extracted here (small)
    assert at.success
    monkeypatch.setattr(ui.compute.jobs, "INLINE_FIT_ROWS", 0)  # the server's default
    fit = latentcore.analysis.embedding.study.fit_embedding  # every fit's, a file's as a study of one's

    def pca_only(latents, method="umap", *args, **kwargs):
        assert method == "pca", "a UMAP fitted in the server process"
        return fit(latents, method, *args, **kwargs)
    monkeypatch.setattr(latentcore.analysis.embedding.study, "fit_embedding", pca_only)
    at.switch_page("pages/umap.py").run()
    assert not at.exception, at.exception
    scatter, points = point_panels(at)["umap_scatter"]  # at once: the PCA, said above it
    assert (scatter["x_title"], scatter["title"]) == ("PCA 1", "PCA of 2,400 latents (12 dimensions), UMAP still fitting")
    assert "PCA of 2,400 latents" in texts(at.caption)
    assert "The PCA is shown while the UMAP fits (expected: about" in texts(at.info)  # said how long
    assert "in a worker process" in at.get("progress")[0].proto.text  # the fit's progress meanwhile
    at.session_state["selection"] = np.array([7, 42])
    rerun_until(at, lambda at: point_panels(at)["umap_scatter"][0]["x_title"] == "UMAP 1", timeout=180)
    assert not at.error, [e.value for e in at.error]
    assert "UMAP of 2,400 latents: 15 neighbours" in texts(at.caption)
    assert "The PCA is shown" not in texts(at.info) and not at.get("progress")  # replaced, and no longer said
    assert not np.array_equal(point_panels(at)["umap_scatter"][1]["qx"], points["qx"])
    assert any(h.value == "Selected: 2 points" for h in at.subheader)  # the selection made meanwhile stays


@pytest.mark.usefixtures("empty_embedding_cache")
def test_above_the_servers_share_the_pca_shown_meanwhile_is_made_in_a_worker_too(monkeypatch):
    """Issue 51 item 5: at ten million rows the page waited for the UMAP (134 s) with no scatter; the PCA it shows
    meanwhile is now made in a worker beside the fit."""
    import ui.compute.jobs
    import ui.compute.latent_space

    at = new_app("extract")
    at.button(key="extract_run").click().run()
    monkeypatch.setattr(ui.compute.jobs, "INLINE_FIT_ROWS", 0)
    monkeypatch.setattr(ui.compute.latent_space, "INTERIM_HERE_ROWS", 0)  # these 2,400 rows count as 10M do
    at.switch_page("pages/umap.py").run()
    assert not at.exception, at.exception
    said = " ".join(bar.proto.text for bar in at.get("progress"))
    assert "PCA of 2,400 latents" in said and "in a worker process" in said, said  # not made in the server
    rerun_until(at, lambda at: "umap_scatter" in point_panels(at), timeout=180)
    scatter, _ = point_panels(at)["umap_scatter"]
    if scatter["x_title"] == "PCA 1":  # the PCA first (unless the fit ended before it)
        assert scatter["title"] == "PCA of 2,400 latents (12 dimensions), UMAP still fitting"
        rerun_until(at, lambda at: point_panels(at)["umap_scatter"][0]["x_title"] == "UMAP 1", timeout=180)
    assert "UMAP of 2,400 latents: 15 neighbours" in texts(at.caption)


def test_nearest_neighbours_and_a_new_image_at_scale_run_in_a_worker(monkeypatch, tmp_path):
    import numpy as np

    import latentcore.analysis.embedding.projection
    import latentcore.analysis.embedding.search
    import ui.compute.jobs
    import ui.compute.latent_space
    from latentcore.latents import read_latents

    at = new_app("extract")
    at.button(key="extract_run").click().run()  # the demo's latents, extracted here (small)
    assert at.success
    at.switch_page("pages/umap.py").run()  # the fit (inline in tests, see conftest) is cached on disk
    assert not at.exception and "umap_scatter" in point_panels(at)
    expected, _ = latentcore.analysis.embedding.search.nearest_neighbours(
        read_latents(at.session_state["latents"]).partitions["all"], 42, k=5)
    monkeypatch.setattr(ui.compute.jobs, "INLINE_ROWS", 0)
    monkeypatch.setattr(ui.compute.latent_space, "NEAREST_HERE_ROWS", 0)  # more rows than the server searches

    def refuse(*args, **kwargs):
        raise AssertionError("ran in the server process")
    monkeypatch.setattr(latentcore.analysis.embedding.search, "nearest_neighbours", refuse)
    monkeypatch.setattr(latentcore.analysis.embedding.projection, "project_image", refuse)

    at.session_state["selection"] = np.array([42])
    at.number_input(key="umap_k").set_value(5).run()
    assert not at.exception, at.exception
    rerun_until(at, lambda at: len(at.dataframe) > 1, timeout=120)
    assert list(at.dataframe[1].value["row"]) == list(expected)

    new_image_of_row(at, 123)
    rerun_until(at, lambda at: "Lands at" in texts(at.markdown), timeout=120)
    assert not at.error, [e.value for e in at.error]
    # the worker's fit is the page's (read back from the disk cache): row 123's point
    assert steps_from_row(at, "new image: pattern.npy", 123) <= 1


def test_reference_maps_at_scale_wait_for_their_worker_with_their_progress(monkeypatch):
    """The reference maps were waited for inside a cached function: the wait's progress drew widgets there, which
    Streamlit refused with a warning and a traceback naming the server's files."""
    import ui.compute.jobs

    at = new_app("extract")
    at.button(key="extract_run").click().run()  # the demo's latents, extracted here (small)
    monkeypatch.setattr(ui.compute.jobs, "INLINE_ROWS", 0)
    at.switch_page("pages/maps.py").run()
    assert not at.exception, at.exception
    rerun_until(at, lambda at: any(s.value == "Reference maps" for s in at.subheader) and not at.get("progress"))
    assert not at.error, [e.value for e in at.error]
