"""Uploaded files: each is saved once into the session's working directory (under a name no other
upload has) and sorted into data sources, band-contrast tables, model checkpoints and model options.
The endings accepted (`UPLOAD_TYPES`) are every registered reader's (`latentcore.data`) and its
companions' (a file read beside the data file, which is saved with it in a folder of their own:
NORDIF's Setting.txt beside its Pattern.dat), and those of the other kinds below.

The deployment's limits (ui.session.deployment: `max_file_bytes` per file, `max_files` uploaded
files per workspace, `max_user_bytes` over a user's workspaces, `min_free_bytes` left on the disk) refuse an
upload with an `UploadRefused` line naming the file and the limit; a refused or failed upload leaves nothing
behind. The last two hold for S3 downloads too (`check_room`)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
from pathlib import Path

import streamlit as st

from latentcore.data import readable_extensions, registered_readers
from latentcore.data.images import PICTURES
from latentcore.demo import DEMO_SCAN
from latentcore.errors import InputError, LatentError
from latentcore.storage import short_name

from . import access, deployment, lifecycle, state, store, visitor, workspace

# The kinds of upload beside the data files
BANDCONTRAST = (".csv",)  # x,y,bandcontrast tables (another CSV is data: latents as a table)
CHECKPOINTS = (".pth", ".pt", ".ckpt", ".tar", ".bin")
OPTIONS = (".json",)  # a model's options
IMAGES = PICTURES  # saved together into the image folder `uploads/images`, one data source

COMPANIONS = {e: cls for cls in registered_readers() if cls.companions for e in cls.extensions}  # ".dat" -> NORDIF
# the endings read only beside a data file, and as what: ".txt" -> "NORDIF's Setting.txt beside its .dat"
ONLY_BESIDE = {Path(name).suffix.lower(): f"{cls.title}'s {name} beside its {'/'.join(cls.extensions)}"
               for cls in registered_readers() for name in cls.companions
               if Path(name).suffix.lower() not in readable_extensions()}
UPLOAD_TYPES = sorted({*readable_extensions(), *ONLY_BESIDE, *BANDCONTRAST, *CHECKPOINTS, *OPTIONS})


def upload_help() -> str:
    """What the Data page's uploader takes, one line per reader (its title, endings and companions) and per other
    kind, from the registry."""
    def endings(names):
        return ", ".join(f"`{name}`" for name in names if name)

    readers = [f"- {cls.title}: {endings(cls.extensions)}" + (f", with its {endings(cls.companions)}" if cls.companions
                                                              else "") for cls in registered_readers()]
    return "\n".join([*readers, f"- band-contrast tables: {endings(BANDCONTRAST)}",
                      f"- model checkpoints: {endings(CHECKPOINTS)}; their options: {endings(OPTIONS)}"])


UPLOAD_FOLDERS = ("uploads", "projected")  # every file below these came from an upload
UPLOAD_FILES_IN = ("models",)  # uploads directly in it (trained models are in sub-folders)


class UploadRefused(InputError):
    """An upload over the deployment's limits, or without the files it is read with: the message names the file
    and why."""


def ingest(uploads) -> tuple[list[str], list[str]]:
    """Save new uploads (once each) and sort them; returns (one message per new file, one line
    per refused file). A refused file is checked again on the next run while it stays in the widget."""
    seen = uploaded_ids()
    new = [uploaded for uploaded in uploads or [] if uploaded.file_id not in seen]
    taken = {name.lower() for uploaded in new if (cls := COMPANIONS.get(Path(uploaded.name).suffix.lower()))
             for name in cls.companions}
    messages, refused = [], []
    for uploaded in new:
        name, suffix = Path(uploaded.name).name, Path(uploaded.name).suffix.lower()
        if name.lower() in taken:
            continue  # saved with the data file that reads it
        try:
            if suffix in ONLY_BESIDE:
                raise UploadRefused(f"a {suffix} is read only as {ONLY_BESIDE[suffix]}: upload the two together", name)
            if suffix in IMAGES:
                path = save_upload(uploaded, "uploads/images")
                messages.append(f"{path.name}: added to the image folder `images`")
                _register(path.parent, "data")
            elif suffix in COMPANIONS:
                messages.append(add_file(save_with_companions(uploaded, new, seen)))
            else:
                folder = "models" if suffix in CHECKPOINTS + OPTIONS else "uploads"
                messages.append(add_file(save_upload(uploaded, folder)))
        except InputError as exc:  # over a limit (UploadRefused), a companion missing, or the deployment file is broken
            refused.append(str(exc))
            continue
        seen.add(uploaded.file_id)
    return messages, refused


def save_with_companions(uploaded, new: list, seen: set) -> Path:
    """A data file and the files its reader reads beside it (`COMPANIONS`), taken from this run's new uploads and
    saved together in a folder of their own under the names the reader looks for. Refused, naming them, when one
    is missing or given twice: each stays in the uploader, to be taken with the next upload."""
    name = Path(uploaded.name).name
    reader = COMPANIONS[Path(name).suffix.lower()]
    found = {wanted: [u for u in new if Path(u.name).name.lower() == wanted.lower() and u.file_id not in seen]
             for wanted in reader.companions}
    missing = [wanted for wanted, given in found.items() if not given]
    if missing or any(len(given) > 1 for given in found.values()):
        raise UploadRefused(f"a {reader.title} file is read with its {' and '.join(reader.companions)} from the same "
                            "folder: upload " + (f"{' and '.join(missing)} with it" if missing else "one at a time"),
                            name)
    folder = claim_name(lifecycle.workdir("uploads"), safe_name(Path(name).stem), directory=True)
    sub = str(folder.relative_to(lifecycle.workdir()))
    try:
        path = save_upload(uploaded, sub)
        for wanted, (companion,) in found.items():
            save_upload(companion, sub, wanted)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    seen.update(companion.file_id for (companion,) in found.values())
    return path


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def uploaded_count() -> int:
    """How many uploaded files the session's workspace holds."""
    root = Path(lifecycle.workdir())
    found = [p for sub in UPLOAD_FOLDERS for p in (root / sub).rglob("*")]
    found += [p for sub in UPLOAD_FILES_IN if (root / sub).is_dir() for p in (root / sub).iterdir()]
    return sum(1 for p in found if p.is_file() and not p.name.endswith(".partial"))


def folder_bytes(folder) -> int:
    """The bytes of the files below `folder` (links not followed)."""
    total = 0
    for top, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(top, name)).st_size
    return total


def visitor_bytes() -> int:
    """What this visitor's files take on the server: the workspaces they own, and the folder this session writes
    into when it is none of them (a read-only visitor's scratch folder)."""
    folders = {path.resolve() for path in access.owned(workspace.WORKDIR_ROOT, visitor.user_id())}
    folders.add(lifecycle.workdir().resolve())
    return sum(folder_bytes(folder) for folder in folders)


@dataclasses.dataclass(frozen=True)
class Room:
    bytes: int  # what this visitor may still bring
    why: str  # what bounds it, said when a file does not fit

    def refuse(self, name: str, size: int | None = None):
        """Refuse `name` (of `size` bytes, when known) that does not fit."""
        what = f"{human_size(size)} does not fit" if size is not None else "more than fits"
        raise UploadRefused(f"{what}: {self.why}; not saved: ask the server's administrator for room "
                            f"(workspaces unused for {workspace.MAX_AGE_DAYS:g} days are removed)", name)


def room_left(limits: deployment.Policy) -> Room:
    """The bytes this visitor may still bring into the server: their share (`max_user_bytes`) less what their files
    take, or the disk's free space less the `min_free_bytes` it keeps, whichever is smaller."""
    used = visitor_bytes()
    free = shutil.disk_usage(lifecycle.workdir()).free
    share = Room(limits.max_user_bytes - used, f"your files here take {human_size(used)} of this server's "
                                               f"{human_size(limits.max_user_bytes)} per user")
    disk = Room(free - limits.min_free_bytes, f"this server's disk has {human_size(free)} free and keeps "
                                               f"{human_size(limits.min_free_bytes)} of it for everyone's results")
    return min(share, disk, key=lambda room: room.bytes)


def room_line() -> str | None:
    """What this visitor may still bring, for the uploader: "Up to 4.0 GB a file, 98.3 GB more in all: your files
    here take 1.7 GB of this server's 100.0 GB per user."; None while the deployment file is broken (the S3 panel
    says so)."""
    try:
        limits = deployment.policy(visitor.user_id())
    except LatentError:
        return None
    room = room_left(limits)
    return f"Up to {human_size(limits.max_file_bytes)} a file, {human_size(max(room.bytes, 0))} more in all: {room.why}."


def check_room(name: str, size: int, limits: deployment.Policy) -> Room:
    """Refuse a file this visitor brings (an upload, an S3 download) that does not fit (`room_left`), naming it; the
    room it may take."""
    room = room_left(limits)
    if size > room.bytes:
        room.refuse(name, size)
    return room


def check_upload(name: str, size: int | None, limits: deployment.Policy | None = None) -> Room:
    """Refuse an upload over the deployment's limits (per file, files per workspace, `check_room`), naming it; the
    room it may take."""
    limits = limits or deployment.policy(visitor.user_id())
    if size is not None and size > limits.max_file_bytes:
        raise UploadRefused(f"{human_size(size)} is over this server's limit of {human_size(limits.max_file_bytes)} "
                            f"({limits.max_file_bytes:,} bytes) per file; not saved: upload a smaller file", name)
    count = uploaded_count()
    if count >= limits.max_files:
        raise UploadRefused(f"this workspace holds {count} uploaded files, the most this server allows "
                            f"({limits.max_files} per workspace); not saved: start a new workspace for more", name)
    return check_room(name, size or 0, limits)


def safe_name(name: str) -> str:
    """An uploaded file's name, reduced to its last part with only harmless characters, short
    enough for any file system."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".")
    return short_name(name) or "upload"


def save_upload(uploaded, sub: str = "uploads", name: str | None = None) -> Path:
    """Write an `st.file_uploader` file into the session's working directory (temporary name first)
    under a name no other upload has (`a b.h5` and `a_b.h5` both become `a_b.h5`: the second is
    `a_b-2.h5`), so that no upload replaces another; or under `name`, in a folder of its own. Over the
    deployment's limits it is refused (`UploadRefused`) before anything is written, or, if it grows while
    read, with nothing left."""
    limits = deployment.policy(visitor.user_id())
    shown = Path(str(uploaded.name).replace("\\", "/")).name or "upload"
    room = check_upload(shown, getattr(uploaded, "size", None), limits)
    target = claim_name(lifecycle.workdir(sub), name or safe_name(uploaded.name))
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
                if written > room.bytes:
                    room.refuse(shown)
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
    saved = saved_uploads()
    path = saved.get(uploaded.file_id)
    if path is None or not Path(path).exists():
        path = saved[uploaded.file_id] = str(save_upload(uploaded, sub))
    return Path(path)


def claim_name(folder: Path, name: str, directory: bool = False) -> Path:
    """`folder/name`, or `stem-2.ext`, `stem-3.ext`...: the first that does not exist, created empty
    (O_EXCL; a folder with `directory`) so that two uploads at the same moment cannot claim it both."""
    stem, suffix = name[:len(name) - len(Path(name).suffix)], Path(name).suffix
    for number in range(1, 10_000):
        path = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        try:
            if directory:
                path.mkdir()
            else:
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


def workspace_latents() -> list[Path]:
    """The latents files in the workspace (extracted, or features turned into latents), sorted."""
    return sorted(lifecycle.workdir().rglob("*_latents.h5"))


def workspace_studies() -> list[Path]:
    """The studies saved in the workspace (`NAME.study.json`, in its top folder), sorted."""
    return sorted(lifecycle.workdir().glob("*.study.json"))


def data_sources() -> dict[str, Path]:
    """label -> path: the demo scan first, then the uploads."""
    return {"Built-in demo scan (simulated nickel, 40 x 60 patterns)": DEMO_SCAN, **labelled(files("data"))}


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


# -- what this session uploaded and downloaded ---------------------------------------------------------------

def uploaded_ids() -> set:
    return store.setdefault(store.UPLOADED_IDS, set())


def saved_uploads() -> dict:
    """file id -> path of uploads saved for one use (the live dict)."""
    return store.setdefault(store.SAVED_UPLOADS, {})


def s3_listing() -> dict | None:
    return store.get(store.S3_LISTING)


def set_s3_listing(endpoint: str, objects: list):
    store.put(store.S3_LISTING, {"endpoint": endpoint, "objects": objects})


def s3_origins() -> dict:
    """local path -> {"uri", "endpoint"} of the files downloaded from S3 in this session (the live dict)."""
    return store.setdefault(store.S3_ORIGINS, {})


def s3_sources() -> dict:
    """s3 URI -> {"object": S3Object, "endpoint"}: the objects this session chose to extract where the job runs,
    never downloaded into the workspace (the live dict)."""
    return store.setdefault(store.S3_SOURCES, {})


def endpoint_moved(origin: dict, settings) -> str | None:
    """Where an S3 object of this session (`s3_origins`' or `s3_sources`' record: its "endpoint") was listed, and
    where `settings` (the session's S3Settings) now call, in words, when they differ (its keys may not reach it);
    None when they are the same."""
    if (origin["endpoint"] or "") == (settings.endpoint_url or ""):
        return None
    now = settings.endpoint_url or "AWS"
    return f"listed at {origin['endpoint'] or 'AWS'}, while this session's S3 calls now go to {now}"


def s3_credentials() -> dict | None:
    """{"credentials": S3Credentials, "endpoint"}: the S3 keys this session's user entered, or None.
    Held in this session's memory only: never in the workspace's state.json, never on disk."""
    return store.get(store.S3_CREDENTIALS)


def set_s3_credentials(credentials, endpoint: str | None):
    store.put(store.S3_CREDENTIALS, {"credentials": credentials, "endpoint": endpoint or None})
    store.pop(store.S3_LISTING)  # a listing made with other credentials


def forget_s3_credentials():
    store.pop(store.S3_CREDENTIALS)
    store.pop(store.S3_LISTING)
