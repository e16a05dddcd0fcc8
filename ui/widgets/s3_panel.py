"""S3 in the browser.

Data page, `render()`: endpoint (optional), bucket, prefix; list the objects with their sizes; pick
several; download them with a progress bar into the session's working folder, where they join the
data sources (checkpoints and options JSON go to the Extract page's lists, as uploads do).

Extract page, `render_latents_upload(source, latents, overwrite)`: for data that came from S3, shows
which of the session's S3 files already have latents there and uploads the latents file beside
the source or under a chosen prefix (an existing one is kept unless "overwrite").

Credentials come from the server's standard AWS chain (environment, profile, role): the page never
asks for them and never shows them.
"""
from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from latentcore.errors import LatentError
from latentcore.outputs import latents_uri_for, s3_latents_exist, upload_latents
from latentcore.storage import s3

from ..session import files, state
from . import common


def render(cache_dir=None) -> list[Path]:
    """The Data page's S3 panel; returns the local paths downloaded in this run (else [])."""
    endpoint = st.text_input("Endpoint URL (optional: an S3-compatible server; empty for AWS)", key="s3_endpoint",
                             placeholder="https://s3.example.org").strip()
    cols = st.columns(2)
    bucket = cols[0].text_input("Bucket", key="s3_bucket").strip()
    prefix = cols[1].text_input("Prefix", key="s3_prefix", placeholder="folder/").strip()
    settings = s3.S3Settings.from_env(endpoint or None)
    if st.button("List objects", icon=":material/list:", disabled=not bucket, key="s3_list"):
        with common.user_errors():
            objects = s3.list_objects(bucket, prefix, settings)
        state.set_s3_listing(endpoint, objects)
    listing = state.s3_listing()
    if not listing:
        return []
    objects = [o for o in listing["objects"] if not o.key.endswith("/")]
    if not objects:
        st.info("No objects under this prefix.")
        return []
    st.dataframe(pd.DataFrame({"key": [o.key for o in objects], "size": [human_size(o.size) for o in objects],
                               "bytes": [o.size for o in objects], "modified": [o.last_modified for o in objects]}),
                 hide_index=True, width="stretch")
    by_key = {o.key: o for o in objects}
    picked = st.multiselect("Objects to download", list(by_key), key="s3_pick",
                            format_func=lambda key: f"{key} ({human_size(by_key[key].size)})")
    if not st.button("Download", type="primary", icon=":material/download:", disabled=not picked,
                     key="s3_download"):
        return []
    chosen = [by_key[k] for k in picked]
    settings = s3.S3Settings.from_env(listing["endpoint"] or None)

    def keep(obj, path):  # each file joins the session as soon as it is here: a later failure loses none
        state.s3_origins()[str(path)] = {"uri": obj.uri, "endpoint": listing["endpoint"]}
        files.add_file(path)

    paths = download_with_progress(chosen, Path(cache_dir) if cache_dir else state.workdir("s3"), settings, keep)
    if paths:
        st.success(f"Downloaded {len(paths)} file(s): " + ", ".join(p.name for p in paths))
    return paths


def download_with_progress(objects: list, cache_dir: Path, settings, on_file=None) -> list[Path]:
    """Download one after another with one progress bar over all bytes. boto3 reports progress from
    its own threads, where Streamlit cannot draw: the transfer runs in a worker thread and this
    (script) thread redraws the bar from the shared byte count."""
    total = sum(o.size for o in objects) or 1
    bar = st.progress(0.0, text="Starting the download...")
    paths, finished = [], 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        for obj in objects:
            done = [0]
            future = pool.submit(s3.download, obj.uri, cache_dir, settings,
                                 lambda now, _total, done=done: done.__setitem__(0, now))
            while not future.done():
                _draw(bar, finished + done[0], total, obj)
                time.sleep(0.1)
            try:
                paths.append(future.result())
            except (LatentError, OSError) as exc:  # one line for this object; the others go on
                st.error(common.error_line(exc), icon=":material/error:")
            else:
                if on_file:
                    on_file(obj, paths[-1])
            finished += obj.size
            _draw(bar, finished, total, obj)
    bar.progress(1.0, text=f"Downloaded {human_size(finished)}")
    return paths


def _draw(bar, done: int, total: int, obj):
    bar.progress(min(done / total, 1.0), text=f"{obj.name}: {human_size(done)} of {human_size(total)}")


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def origin(path) -> dict | None:
    """{"uri", "endpoint"} when `path` was downloaded from S3 in this session."""
    return state.s3_origins().get(str(path)) if path else None


def render_latents_upload(source, latents, overwrite: bool = False):
    """Extract page: which S3 files of this session have latents in S3; upload this latents file."""
    came_from = origin(source)
    if came_from is None:
        return
    st.subheader("Latents in S3")
    settings = s3.S3Settings.from_env(came_from["endpoint"] or None)
    where = st.radio("Upload the latents file", ["beside the source", "to a prefix"], horizontal=True,
                     key="s3_latents_where")
    prefix = None
    if where == "to a prefix":
        prefix = st.text_input("S3 prefix (s3://bucket/folder)", key="s3_latents_prefix").strip() or None
        if prefix and not s3.is_s3_uri(prefix):
            st.error("The prefix must look like s3://bucket/folder")
            return
    sources = sorted({o["uri"] for o in state.s3_origins().values()
                      if o["endpoint"] == came_from["endpoint"]})
    with common.user_errors():
        present = s3_latents_exist(sources, prefix, settings)
    st.dataframe(pd.DataFrame({"source": list(present), "latents in S3": [latents_uri_for(u, prefix) for u in present],
                               "exists": ["yes, skipped unless overwrite" if v else "no" for v in present.values()]}),
                 hide_index=True, width="stretch")
    if latents is None:
        return
    if st.button("Upload the latents file", icon=":material/cloud_upload:", key="s3_latents_upload"):
        with common.user_errors():
            target, uploaded = upload_latents(latents, came_from["uri"], prefix, settings, clobber=overwrite)
        if uploaded:
            st.success(f"Uploaded {Path(latents).name} to {target}")
        else:
            st.info(f"{target} exists: kept (tick overwrite to replace it)")
