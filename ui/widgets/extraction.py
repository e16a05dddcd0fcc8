"""Running an extraction from the browser (the Extract page and the analysis pages' one-click
demo extraction), through the pool's door (`dispatch.start_extraction`): small data at once in the
server, larger data in a worker process of its own (ui.compute.tasks.extract, the CLI's
extract_file), with rows done and a cancel button; and the guard the analysis pages start with."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import streamlit as st

from latentcore.demo import DEMO_MODEL
from latentcore.errors import InputError, LatentError
from latentcore.storage import is_s3_uri
from latentcore.study import STUDY_SUFFIX, check_name

from ..compute import dispatch, jobs, sources
from ..session import deployment, files, lifecycle, state, visitor
from . import common, waiting

DEMO_MODEL_LABEL = "Built-in demo VAE"


def model_choices() -> dict[str, dict]:
    """label -> {"path", "arch", "options"}: the demo VAE (when shipped), then the session's models."""
    choices = {}
    if DEMO_MODEL.exists():
        choices[DEMO_MODEL_LABEL] = {"path": str(DEMO_MODEL), "arch": "vae", "options": None}
    choices.update(state.models())
    return choices


def latents_folder(source: Path | str, model, pool: str, partitions) -> Path:
    """One folder per (source, model, pooling, partitions): an existing latents file is reused only
    when it was made from the same inputs (extract_file skips by path). An S3 object, read where its job runs
    with its default partitions, has one per version (its ETag)."""
    if is_s3_uri(str(source)):
        partitions = ["default partitions", files.s3_sources()[str(source)]["object"].etag]
    else:
        partitions = sorted(partitions or sources.source_info(sources.stamp(source))["partitions"])
    key = json.dumps([str(source), model.sha256, pool, partitions])
    return lifecycle.workdir(f"latents/{hashlib.sha256(key.encode()).hexdigest()[:12]}")


def run_extraction(source: Path, spec: dict, *, device="auto", batch_size=64, pool="mean",
                   partitions=None, clobber=False):
    """Start an extraction into the session's working directory: small data here at once, larger data in a process
    of the worker pool; `extraction_outcome` shows its progress and applies its result once it ends."""
    with common.user_errors():
        model, _ = sources.get_model(spec)
        counts = sources.source_info(sources.stamp(source))["partitions"]
    kwargs = dict(source=str(source), out_dir=str(latents_folder(source, model, pool, partitions)), pool=pool,
                  batch_size=int(batch_size), device=device, partitions=list(partitions) if partitions else None,
                  clobber=bool(clobber))
    items = sum(n for name, n in counts.items() if not partitions or name in partitions)
    inline = dispatch.extracts_here(items, spec)
    bar = st.progress(0.0, text="Extracting...") if inline else None
    job = dispatch.start_extraction(items, spec, progress=lambda fraction, message="", **_: bar.progress(
        min(fraction, 1.0), text=message), **kwargs)
    if inline and job.error() is None:
        bar.progress(1.0, text="Reused the existing latents file" if job.result().skipped else "Done")
    state.set_extract_job(job, {**spec, "pool": pool})  # the spec: to project new images later


def run_extractions(paths: list, spec: dict, study: str | None, *, device="auto", batch_size=64, pool="mean",
                    clobber=False):
    """Several files (workspace paths, or `s3://` objects of `files.s3_sources`) extracted in a worker process or
    a Dask task each (each into its `latents_folder`, as one file is), then made into the study `study` (None: one
    file, as it is) by `extraction_outcome`, which makes it the session's latents."""
    remote = [str(path) for path in paths if is_s3_uri(str(path))]
    with common.user_errors():
        model, _ = sources.get_model(spec)
        items = sum(sum(sources.source_info(sources.stamp(path))["partitions"].values()) for path in paths
                    if str(path) not in remote)
        reading = s3_reading(remote)
    job = dispatch.start_extractions(items, spec, sources=[str(path) for path in paths],
                                     out_dirs=[str(latents_folder(path, model, pool, None)) for path in paths],
                                     pool=pool, batch_size=int(batch_size), device=device, clobber=bool(clobber),
                                     **reading)
    state.set_extract_job(job, {**spec, "pool": pool, "study": study})


def s3_reading(uris: list) -> dict:
    """The arguments with which a job reads `uris` where it runs: the session's S3 settings for tasks (its
    allow-list, and its user's keys in memory) and the room its policy keeps free on a disk; {} for none."""
    if not uris:
        return {}
    policy = deployment.policy(visitor.user_id())
    settings = deployment.s3_settings(policy, files.s3_credentials())
    if settings is None:
        raise InputError("reading these objects needs your S3 credentials: enter them in the Data page's S3 panel",
                         uris[0])
    for uri in uris:
        moved = files.endpoint_moved(files.s3_sources()[uri], settings)
        if moved:
            raise InputError(f"{moved}: enter the credentials for its endpoint on the Data page", uri)
    return {"s3": settings.for_tasks(), "keep_free": policy.min_free_bytes}


def study_form(spec: dict, **settings):
    """Extract several of the workspace's data files (or S3 objects the Data page chose to extract there) with this
    model and make them one study, in one step; one chosen alone is extracted as it is (an S3 object where the job
    runs)."""
    offered = {**pattern_files(), **{f"{uri} (S3: read where the job runs)": uri for uri in files.s3_sources()}}
    if len(offered) < 2 and not files.s3_sources():
        return
    with st.expander("Several files into one study", icon=":material/stacks:"):
        st.caption("Each file is extracted with this model, device, batch size and pooling (and its own default "
                   "partitions) in a worker process, or a task each on the Dask cluster; then the files become one "
                   "study: one latent space, each row named by its file (one file alone needs no name: a file is a "
                   "study of one). An S3 object is downloaded where its extraction runs and removed there once "
                   "extracted.")
        cols = st.columns([3, 1])
        chosen = cols[0].multiselect("Data files", list(offered), key="extract_study_files")
        name = cols[1].text_input("Study name", key="extract_study_name", placeholder="letters, digits, ._+-")
        start = "Extract it" if len(chosen) == 1 else "Extract them and make the study"
        if not st.button(start, key="extract_study_run", disabled=running(), icon=":material/play_arrow:"):
            return
        study = name.strip() if len(chosen) > 1 else None  # one file alone: its latents, no study
        if not chosen or study == "":
            st.error("Choose the files, and name the study of two or more, then start.", icon=":material/block:")
            return
        if study:
            with common.user_errors():
                check_name(study)
        run_extractions([offered[label] for label in chosen], spec, study, **settings)


def pattern_files() -> dict:
    """label -> path of the workspace's data files an encoder reads (images or patterns, not latents, features or
    videos); a file that cannot be read is left out (the Data page says what is wrong with it)."""
    found = {}
    for label, path in files.data_sources().items():
        try:
            info = sources.source_info(sources.stamp(path))
        except (InputError, OSError):  # said on the Data page
            continue
        if not files.is_latents_file(path, info) and len(info["item_shape"]) == 3:
            found[label] = path
    return found


def study_pattern_files(patterns: dict) -> dict:
    """study name -> the data files of its sources, for each saved study of the workspace whose every source's file
    (the one its latents record) is among `patterns` (`pattern_files`): what one model for the study trains on."""
    from latentcore.latents import latents_summary

    by_name = {path.name: path for path in patterns.values()}
    found = {}
    for saved in files.workspace_studies():
        try:
            members = sources.study(sources.stamp(saved)).members
            # each member's attributes alone: a study of 100 scans is not read (nor evicts the pages' latents)
            names = [latents_summary(member.location)["source_file"] for member in members]
        except (LatentError, OSError):  # said on the Data page
            continue
        if all(name in by_name for name in names):
            found[saved.name.removesuffix(STUDY_SUFFIX)] = tuple(by_name[name] for name in names)
    return found


def running() -> bool:
    """Whether this session's extraction runs (in a worker) now."""
    job = state.extract_job()
    return job is not None and not job.done()


def extraction_outcome():
    """The session's latest extraction: its progress and a cancel button while it runs (the page
    reruns when it ends); its error in one line; once it succeeded, its file becomes the session's
    latents (once) and its ExtractResult is returned (None otherwise)."""
    job = state.extract_job()
    if job is None:
        return None
    if not job.done():
        waiting.watch(job)
        return None
    state.take_extract_job()
    if job.future.cancelled() or isinstance(job.error(), jobs.JobCancelled):
        st.info("Extraction cancelled: run it again to go on from the rows already written.",
                icon=":material/cancel:")
        return None
    if job.error() is not None:
        st.error(common.error_line(job.error()), icon=":material/error:")
        return None
    result = job.result()
    if isinstance(result, list):  # several files: their study, made here (a few small reads); one: its latents
        result = _study_of(result, state.extract_spec()["study"]) if len(result) > 1 else result[0]
    state.extracted_latents(result.path)
    return result


def _study_of(results: list, name: str):
    """The study of several extractions' files, as an ExtractResult (the rows of each file, by its stem)."""
    from latentcore.extract import ExtractResult  # torch: loaded once an extraction ended, not for the page

    with common.user_errors():
        path = sources.write_study(name, [result.path for result in results], lifecycle.workdir())
    return ExtractResult(path, all(result.skipped for result in results),
                         {result.path.name.split("__")[0]: sum(result.rows.values()) for result in results})


def require_latents() -> tuple:
    """The session's latents cache key, or stop the page with a way forward."""
    job = state.extract_job()
    if job is not None and (job.done() or state.latents() is None):
        extraction_outcome()  # an extraction that ended meanwhile becomes the latents (or its progress)
    path = state.latents()
    if path is not None:
        found = common.latents_stamp(path)
        stamps = sources.member_stamps(found)  # a latents file: itself
        return stamps[0] if len(stamps) == 1 else found  # a study of one member: the pages read its file
    if state.extract_job() is not None:
        st.stop()  # an extraction runs: its progress is drawn above
    st.info("No latents yet: extract them on the Extract page (or load a latents file on the Data page).",
            icon=":material/info:")
    demo = model_choices().get(DEMO_MODEL_LABEL)
    if state.is_demo() and demo and st.button("Extract the demo latents now", type="primary",
                                              key="require_latents_demo"):
        run_extraction(state.source(), demo)
        st.rerun()
    st.stop()


def require_scan(key: tuple):
    """Latents with x, y (a scan), or stop the page saying why."""
    lat = sources.latents(key)
    if lat.x is None or lat.y is None:
        st.warning("These latents have no x, y coordinates: maps and clusters need a scan "
                   "(EBSD patterns), not cutouts or images.", icon=":material/warning:")
        st.stop()
    return lat


def features_as_latents(source: Path) -> Path:
    """A features file as a latents file the analysis pages read (see latentcore.latents.features_to_latents)."""
    from latentcore.latents import features_to_latents

    with common.user_errors():
        return features_to_latents(source, lifecycle.workdir("latents/features"))
