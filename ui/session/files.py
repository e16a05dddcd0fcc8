"""Uploaded files: each is saved once into the session's working directory (under a name no other
upload has) and sorted into data sources, band-contrast tables, model checkpoints and model options.

The deployment's limits (ui.session.deployment: `max_file_bytes` per file, `max_files` uploaded
files per workspace) refuse an upload with an `UploadRefused` line naming the file and the limit;
a refused or failed upload leaves nothing behind."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import streamlit as st

from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN
from latentcore.errors import InputError, LatentError
from latentcore.storage import short_name

from . import deployment, state

CHECKPOINTS = (".pth", ".pt", ".ckpt", ".tar", ".bin")
IMAGES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
UPLOAD_TYPES = ["h5", "hdf5", "h5ebsd", "h5oina", "csv", "npz", "npy", "parquet", "json", "mp4", "avi", "mov",
                *(e[1:] for e in CHECKPOINTS + IMAGES)]


UPLOAD_FOLDERS = ("uploads", "projected")  # every file below these came from an upload
UPLOAD_FILES_IN = ("models",)  # uploads directly in it (trained models are in sub-folders)


class UploadRefused(InputError):
    """An upload over the deployment's limits: the message names the file and the limit."""


def ingest(uploads) -> tuple[list[str], list[str]]:
    """Save new uploads (once each) and sort them; returns (one message per new file, one line
    per refused file). A refused file is checked again on the next run while it stays in the widget."""
    seen = state.uploaded_ids()
    messages, refused = [], []
    for uploaded in uploads or []:
        if uploaded.file_id in seen:
            continue
        suffix = Path(uploaded.name).suffix.lower()
        try:
            if suffix in IMAGES:
                path = save_upload(uploaded, "uploads/images")
                messages.append(f"{path.name}: added to the image folder `images`")
                _register(path.parent, "data")
            else:
                folder = "models" if suffix in CHECKPOINTS or suffix == ".json" else "uploads"
                messages.append(add_file(save_upload(uploaded, folder)))
        except InputError as exc:  # over a limit (UploadRefused), or the deployment file is broken
            refused.append(str(exc))
            continue
        seen.add(uploaded.file_id)
    return messages, refused


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def uploaded_count() -> int:
    """How many uploaded files the session's workspace holds."""
    root = Path(state.workdir())
    found = [p for sub in UPLOAD_FOLDERS for p in (root / sub).rglob("*")]
    found += [p for sub in UPLOAD_FILES_IN if (root / sub).is_dir() for p in (root / sub).iterdir()]
    return sum(1 for p in found if p.is_file() and not p.name.endswith(".partial"))


def check_upload(name: str, size: int | None, limits: deployment.Policy | None = None):
    """Refuse an upload over the deployment's limits (per file, files per workspace), naming it."""
    limits = limits or deployment.policy(state.user_id())
    if size is not None and size > limits.max_file_bytes:
        raise UploadRefused(f"{human_size(size)} is over this server's limit of {human_size(limits.max_file_bytes)} "
                            f"({limits.max_file_bytes:,} bytes) per file; not saved: upload a smaller file", name)
    count = uploaded_count()
    if count >= limits.max_files:
        raise UploadRefused(f"this workspace holds {count} uploaded files, the most this server allows "
                            f"({limits.max_files} per workspace); not saved: start a new workspace for more", name)


def safe_name(name: str) -> str:
    """An uploaded file's name, reduced to its last part with only harmless characters, short
    enough for any file system."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".")
    return short_name(name) or "upload"


def save_upload(uploaded, sub: str = "uploads") -> Path:
    """Write an `st.file_uploader` file into the session's working directory (temporary name first)
    under a name no other upload has (`a b.h5` and `a_b.h5` both become `a_b.h5`: the second is
    `a_b-2.h5`), so that no upload replaces another. Over the deployment's limits it is refused
    (`UploadRefused`) before anything is written, or, if it grows while read, with nothing left."""
    limits = deployment.policy(state.user_id())
    shown = Path(str(uploaded.name).replace("\\", "/")).name or "upload"
    check_upload(shown, getattr(uploaded, "size", None), limits)
    target = claim_name(state.workdir(sub), safe_name(uploaded.name))
    tmp = target.with_name(target.name + ".partial")
    try:
        written = 0
        with open(tmp, "wb") as f:
            for chunk in iter(lambda: uploaded.read(1 << 22), b""):
                written += len(chunk)
                if written > limits.max_file_bytes:
                    raise UploadRefused(f"more than this server's limit of {human_size(limits.max_file_bytes)} "
                                        f"({limits.max_file_bytes:,} bytes) per file; not saved: upload a smaller "
                                        "file", shown)
                f.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        target.unlink(missing_ok=True)  # the claimed (empty) name
        raise
    return target


def save_upload_once(uploaded, sub: str = "uploads") -> Path:
    """`save_upload`, once per uploaded file: the reruns while it stays in its widget get the same
    file (so a job on it keeps its key)."""
    saved = state.saved_uploads()
    path = saved.get(uploaded.file_id)
    if path is None or not Path(path).exists():
        path = saved[uploaded.file_id] = str(save_upload(uploaded, sub))
    return Path(path)


def claim_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `stem-2.ext`, `stem-3.ext`...: the first that does not exist, created empty
    (O_EXCL) so that two uploads at the same moment cannot claim it both."""
    stem, suffix = name[:len(name) - len(Path(name).suffix)], Path(name).suffix
    for number in range(1, 10_000):
        path = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return path
        except FileExistsError:
            continue
    raise OSError(f"no free name for {name} in {folder}")


def add_file(path: Path) -> str:
    """Sort a saved upload or a download into the session: a model, model options, band contrast or
    data; returns what it became."""
    suffix = path.suffix.lower()
    if suffix in CHECKPOINTS:
        state.add_model(path.name, {"path": str(path), "arch": None, "options": None})
        return f"{path.name}: a model checkpoint, offered on the Extract page"
    if suffix == ".json":
        _register(path, "options")
        return f"{path.name}: model options, offered on the Extract page"
    kind = "bandcontrast" if suffix == ".csv" and _is_bandcontrast(path) else "data"
    _register(path, kind)
    return f"{path.name}: {'a band-contrast table' if kind == 'bandcontrast' else 'a data file'}"


def add_references(path: Path) -> bool:
    """Keep an uploaded NPZ of reference maps (the Rank page's) with the workspace's files; False when it already was."""
    known = str(path) in state.registered_files().get("references", [])
    _register(path, "references")
    return not known


def _register(path: Path, kind: str):
    files = state.registered_files()
    files.setdefault(kind, [])
    if str(path) not in files[kind]:
        files[kind].append(str(path))


def _is_bandcontrast(path: Path) -> bool:
    from latentcore.data.bandcontrast import read_bandcontrast

    try:
        read_bandcontrast(path)
        return True
    except LatentError:
        return False


def files(kind: str) -> list[Path]:
    return [Path(p) for p in state.registered_files().get(kind, []) if Path(p).exists()]


def data_sources() -> dict[str, Path]:
    """label -> path: the demo scan first, then the uploads."""
    return {"Built-in demo scan (simulated nickel, 40 x 60 patterns)": DEMO_SCAN, **labelled(files("data"))}


def bandcontrast_tables() -> dict[str, Path | None]:
    return {"none": None, f"{DEMO_BANDCONTRAST.name} (demo)": DEMO_BANDCONTRAST, **labelled(files("bandcontrast"))}


def options_files() -> dict[str, Path | None]:
    return {"none (use the checkpoint's own)": None, **labelled(files("options"))}


def labelled(paths: list[Path]) -> dict[str, Path]:
    """label -> path, the file name as label; files of the same name (S3 `p/x.h5` and `q/x.h5`)
    get `x.h5 (2)`, ... so that none hides another."""
    labels: dict[str, Path] = {}
    for path in paths:
        label, number = path.name, 1
        while label in labels:
            number += 1
            label = f"{path.name} ({number})"
        labels[label] = path
    return labels


def read_options(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        st.error(f"{path.name}: cannot read the options JSON: {exc}")
        st.stop()


def is_latents_file(path: Path, info: dict | None) -> bool:
    """A file to explore directly (a latents file or an (N, D) array), not to extract from."""
    return path.name.endswith("_latents.h5") or bool(info and info.get("is_features"))
