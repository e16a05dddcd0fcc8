"""S3 in the browser.

Data page, `render()`: whose credentials (below), bucket, prefix; list the objects with their sizes;
pick several; download them with a progress bar into the session's working folder, where they join
the data sources (checkpoints and options JSON go to the Extract page's lists, as uploads do), or
keep them as sources the Extract page's study form reads where its job runs (`files.s3_sources`).

Extract page, `render_latents_upload(source, latents, overwrite)`: for data that came from S3, shows
which of the session's S3 files already have latents there and uploads the latents file beside
the source or under a chosen prefix (an existing one is kept unless "overwrite").

What a visitor may reach is the deployment's (ui.session.deployment): the allow-list of buckets and
prefixes (the engine refuses anything else before any request; a restricted deployment offers its
buckets to pick from), and whose credentials: the server's own AWS chain only where the deployment
lends it, otherwise the visitor's own keys (and endpoint), asked for here and kept in the session's
memory only. The page never shows a secret.
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

from ..session import defaults, deployment, files, lifecycle, visitor
from . import common

human_size = files.human_size


def credentials_part(policy: deployment.Policy) -> s3.S3Settings | None:
    """Whose credentials this session's S3 calls use, and a way to give one's own; returns the
    engine settings, or None while the session has to enter credentials first."""
    given = files.s3_credentials()
    if given is not None:
        cols = st.columns([3, 1], vertical_alignment="center")
        cols[0].caption(f"Using your S3 credentials (key id {given['credentials'].masked_key_id}"
                        + (f", endpoint {given['endpoint']}" if given["endpoint"] else "")
                        + "): held in this session's memory only, never saved.")
        cols[1].button("Forget my credentials", icon=":material/key_off:", key="s3_forget",
                       on_click=files.forget_s3_credentials)
    elif policy.server_credentials:
        settings = deployment.s3_settings(policy, None)
        st.caption("Using this server's S3 access" + (f" at {settings.endpoint_url}" if settings.endpoint_url else "")
                   + ".")
        with st.expander("Use my own S3 credentials instead", icon=":material/key:"):
            credentials_form()
    else:
        st.info("This server does not lend its S3 access: enter your own credentials. They stay in this "
                "browser session's memory only, are never written to disk, and are gone when the session ends.",
                icon=":material/key:")
        credentials_form()
        return None
    return deployment.s3_settings(policy, given)


CREDENTIAL_WIDGETS = ("s3_key_id", "s3_secret", "s3_token", "s3_endpoint")


def credentials_form():
    with st.form("s3_credentials", clear_on_submit=True, border=False):
        cols = st.columns(2)
        key_id = cols[0].text_input("Access key id", key="s3_key_id")
        secret = cols[1].text_input("Secret access key", type="password", key="s3_secret")
        token = cols[0].text_input("Session token (optional)", type="password", key="s3_token")
        endpoint = cols[1].text_input("Endpoint URL (optional: an S3-compatible server; empty for AWS)",
                                      key="s3_endpoint", placeholder="https://s3.example.org")
        if st.form_submit_button("Use these credentials", icon=":material/login:", key="s3_use_credentials"):
            for key in CREDENTIAL_WIDGETS:  # the typed keys live on only in the S3Credentials
                defaults.forget_widget(key)
            try:
                given = s3.S3Credentials(key_id, secret, token or None)
            except LatentError as exc:
                st.error(common.error_line(exc), icon=":material/error:")
                return
            files.set_s3_credentials(given, endpoint.strip() or None)
            st.rerun()


def render(cache_dir=None) -> list[Path]:
    """The Data page's S3 panel; returns the local paths downloaded in this run (else [])."""
    try:
        policy = deployment.policy(visitor.user_id())
    except LatentError as exc:  # a broken deployment file: this panel says so, the page goes on
        st.error(common.error_line(exc), icon=":material/error:")
        return []
    settings = credentials_part(policy)
    if settings is None:
        return []
    access = settings.access
    if access is not None:
        st.caption(f"Allowed here: {access.describe()}.")
    cols = st.columns(2)
    if access is not None and not access.everything:
        bucket = cols[0].selectbox("Bucket", access.buckets(), key="s3_bucket") or ""
        allowed = [p for p in access.prefixes(bucket) if p]
        prefix = cols[1].text_input("Prefix", key="s3_prefix", placeholder=allowed[0] if allowed else "folder/").strip()
    else:
        bucket = cols[0].text_input("Bucket", key="s3_bucket").strip()
        prefix = cols[1].text_input("Prefix", key="s3_prefix", placeholder="folder/").strip()
    if st.button("List objects", icon=":material/list:", disabled=not bucket, key="s3_list"):
        with common.user_errors():
            objects = s3.list_objects(bucket, prefix, settings)
        files.set_s3_listing(settings.endpoint_url or "", objects)
    listing = files.s3_listing()
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
    picked = st.multiselect("Objects", list(by_key), key="s3_pick",
                            format_func=lambda key: f"{key} ({human_size(by_key[key].size)})")
    cols = st.columns([1, 3], vertical_alignment="center")
    if cols[1].button("Extract them from S3, not downloaded here", icon=":material/cloud_sync:",
                      disabled=not picked, key="s3_extract_there",
                      help="Each object is read where its extraction runs (a worker of this server, or its Dask "
                           "cluster) and removed there once extracted: only the latents join this workspace."):
        add_extract_sources([by_key[k] for k in picked], listing["endpoint"])
    extract_sources_line()
    if not cols[0].button("Download", type="primary", icon=":material/download:", disabled=not picked,
                          key="s3_download"):
        return []
    chosen = [by_key[k] for k in picked]

    def keep(obj, path):  # each file joins the session as soon as it is here: a later failure loses none
        files.s3_origins()[str(path)] = {"uri": obj.uri, "endpoint": listing["endpoint"]}
        files.add_file(path)

    paths = download_with_progress(chosen, Path(cache_dir) if cache_dir else lifecycle.workdir("s3"), settings,
                                   policy, keep)
    if paths:
        st.success(f"Downloaded {len(paths)} file(s): " + ", ".join(p.name for p in paths))
    return paths


def add_extract_sources(objects: list, endpoint: str):
    """Keep `objects` as sources the Extract page's study form reads from S3 where its job runs."""
    files.s3_sources().update({o.uri: {"object": o, "endpoint": endpoint} for o in objects})


def extract_sources_line():
    """How many S3 objects wait for the Extract page, and a way to let them go."""
    chosen = files.s3_sources()
    if not chosen:
        return
    size = human_size(sum(entry["object"].size for entry in chosen.values()))
    cols = st.columns([3, 1, 1], vertical_alignment="center")
    cols[0].caption(f"{len(chosen)} S3 object(s), {size}, to extract where the job runs: choose them on the "
                    "Extract page, under \"Several files into one study\".")
    cols[1].page_link("pages/extract.py", label="Extract page", icon=":material/arrow_forward:")
    cols[2].button("Forget them", icon=":material/clear:", key="s3_extract_forget", on_click=chosen.clear)


def download_with_progress(objects: list, cache_dir: Path, settings, policy, on_file=None) -> list[Path]:
    """Download one after another with one progress bar over all bytes; an object that does not fit the room
    `policy` leaves this visitor (files.check_room) is refused in one line. boto3 reports progress from its own
    threads, where Streamlit cannot draw: the transfer runs in a worker thread and this (script) thread redraws
    the bar from the shared byte count."""
    total = sum(o.size for o in objects) or 1
    bar = st.progress(0.0, text="Starting the download...")
    paths, finished = [], 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        for obj in objects:
            done = [0]
            try:
                cached = s3.is_cached(obj, s3.cache_path(obj, cache_dir))
                room = files.room_left(policy) if cached else files.check_room(obj.uri, obj.size, policy)
                future = pool.submit(s3.download, obj.uri, cache_dir, settings,
                                     lambda now, _total, done=done: done.__setitem__(0, now), room.bytes)
                while not future.done():
                    _draw(bar, finished + done[0], total, obj)
                    time.sleep(0.1)
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


def origin(path) -> dict | None:
    """{"uri", "endpoint"} when `path` was downloaded from S3 in this session."""
    return files.s3_origins().get(str(path)) if path else None


def render_latents_upload(source, latents, overwrite: bool = False, *, model: str):
    """Extract page: which S3 files of this session have latents of `model` (a `model_tag`: the model that made
    `latents`) in S3; upload this latents file under the name it has there."""
    came_from = origin(source)
    if came_from is None:
        return
    st.subheader("Latents in S3")
    with common.user_errors():
        settings = deployment.s3_settings(deployment.policy(visitor.user_id()), files.s3_credentials())
    if settings is None:
        st.info("Uploading to S3 needs your S3 credentials: enter them in the Data page's S3 panel.",
                icon=":material/key:")
        return
    moved = files.endpoint_moved(came_from, settings)
    if moved:
        st.info(f"The source was {moved}: enter the credentials for the source's endpoint to upload.",
                icon=":material/key:")
        return
    where = st.radio("Upload the latents file", ["beside the source", "to a prefix"], horizontal=True,
                     key="s3_latents_where")
    prefix = None
    if where == "to a prefix":
        prefix = st.text_input("S3 prefix (s3://bucket/folder)", key="s3_latents_prefix").strip() or None
        if prefix and not s3.is_s3_uri(prefix):
            st.error("The prefix must look like s3://bucket/folder")
            return
    sources = sorted({o["uri"] for o in files.s3_origins().values()
                      if o["endpoint"] == came_from["endpoint"]})
    with common.user_errors():
        present = s3_latents_exist(sources, prefix, settings, model=model)
    st.dataframe(pd.DataFrame({"source": list(present),
                               "latents in S3": [latents_uri_for(u, prefix, model=model) for u in present],
                               "exists": ["yes, skipped unless overwrite" if v else "no" for v in present.values()]}),
                 hide_index=True, width="stretch")
    if latents is None:
        return
    if st.button("Upload the latents file", icon=":material/cloud_upload:", key="s3_latents_upload"):
        with common.user_errors():
            target, uploaded = upload_latents(latents, came_from["uri"], prefix, settings, clobber=overwrite,
                                              model=model)
        if uploaded:
            st.success(f"Uploaded {Path(latents).name} to {target}")
        else:
            st.info(f"{target} exists: kept (tick overwrite to replace it)")
