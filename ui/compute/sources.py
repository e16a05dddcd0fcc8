"""Files and latents for the pages: file stamps (`stamp`: path, mtime, size, the key every cache here is read
by), the data files' information, items and maps, the loaded models, the latents matrices and what every page
derives from them row by row (colours, ranges, band contrast), each read or made once per input.

`st.cache_resource` holds things shared read-only by every session (loaded models, latents matrices, and every
per-row or per-pixel array derived from them: one copy, no pickling per rerun, their arrays made read-only by
`read_only` so that no caller changes what others see); `st.cache_data` holds small results (file information,
a gallery's items)."""
from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.arrays import finite_range

from ..session import workspace


def read_only(value):
    """`value` with every numpy array in it (in tuples, lists, dicts, dataclasses) made read-only: a
    cache_resource result is the one object every session gets (ten million rows: no copy per rerun)."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (tuple, list)):
        for item in value:
            read_only(item)
    elif isinstance(value, dict):
        for item in value.values():
            read_only(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for found in dataclasses.fields(value):
            read_only(getattr(value, found.name))
    return value


def stamp(path) -> tuple:
    """(path, mtime_ns, size): a cache key that changes when the file does. A study file's has a fourth item, each
    member's stamp in order: a member rewritten changes the study's key, so it is read and checked again (`study`);
    a member gone raises the engine's one line naming it."""
    path = Path(path)
    stat = path.stat()
    found = (str(path), stat.st_mtime_ns, stat.st_size)
    record = study_record(found)
    if record is None:
        return found
    from latentcore.study import local_member_path

    return (*found, tuple(stamp(local_member_path(member)) for member in record.members))


@st.cache_data(show_spinner=False, max_entries=64)
def source_info(file_stamp: tuple) -> dict:
    from latentcore.data import open_source

    with open_source(file_stamp[0]) as reader:
        return reader.info().to_dict()


def _open_known(file_stamp: tuple):
    """The file's reader, its format known from `source_info` (sniffing every format costs a gallery ~50 ms)."""
    from latentcore.data import open_source

    return open_source(file_stamp[0], format=source_info(file_stamp)["format"])


@st.cache_data(show_spinner=False, max_entries=32)
def source_preview(file_stamp: tuple, partition: str, count: int = 6) -> np.ndarray:
    """The first `count` items of a partition, for a glance at the data."""
    with _open_known(file_stamp) as reader:
        return reader.read(partition, 0, min(count, reader.count(partition)))


@st.cache_data(show_spinner=False, max_entries=32)
def source_rows(file_stamp: tuple, partition: str, rows: tuple[int, ...]) -> np.ndarray:
    """Selected items (patterns, cutouts) for a gallery."""
    with _open_known(file_stamp) as reader:
        return reader.read_rows(partition, list(rows))


@st.cache_data(show_spinner=False, max_entries=32)
def source_items(file_stamp: tuple, partitions: tuple[str, ...], indices: tuple[int, ...]) -> np.ndarray:
    """The items of these rows (a gallery's page), in their order: only they are read."""
    from latentcore.analysis.items import read_items

    with _open_known(file_stamp) as reader:
        return read_items(reader, list(partitions), list(indices))


def mean_pattern_files(job, run, out_dir, figure=None, dpi: float = 300) -> dict[str, Path]:
    """Write a mean pattern's files as `mean-pattern` writes them (`artifacts.mean_pattern.write_mean_pattern`: the
    NPY, the JSON report, and the PNG of `figure`, the page's, when given at `dpi`) into `out_dir`: what a
    download asks for, when it asks; returns {kind: path}."""
    from latentcore.analysis.artifacts.mean_pattern import pattern_names, write_mean_pattern

    write_mean_pattern(job, run, out_dir, figure=figure, dpi=dpi, root=workspace.WORKDIR_ROOT)
    return {kind: Path(out_dir) / name for kind, name in pattern_names(job, run).items()}


@st.cache_data(show_spinner=False, max_entries=32)
def source_map_names(source_stamp: tuple) -> list[str]:
    """The names of the per-point maps a data file carries (scan's own first)."""
    from latentcore.data import open_source
    from latentcore.errors import LatentError

    try:
        with open_source(source_stamp[0]) as reader:
            return list(reader.point_maps())
    except LatentError:
        return []


@st.cache_data(show_spinner=False, max_entries=32)
def check_coverage(bandcontrast, source_stamp: tuple) -> None:
    """Raises LatentError when the band-contrast table (a BandContrast) cannot be paired with the scan's x, y."""
    from latentcore.data import align_to_coordinates, open_source, read_bandcontrast
    from latentcore.errors import LatentError

    with open_source(source_stamp[0]) as reader:
        xy = reader.coordinates() if reader.info().has_coordinates else None
    if xy is None:
        raise LatentError("the data has no x, y coordinates to pair a band-contrast table with: choose no table")
    align_to_coordinates(read_bandcontrast(bandcontrast.path), *xy)


@st.cache_resource(show_spinner=False, max_entries=8)
def scan_coordinates(file_stamp: tuple, partition: str):
    """A scan's x, y (the Train page's ROI sliders)."""
    from latentcore.data import open_source

    with open_source(file_stamp[0]) as reader:
        return read_only(reader.coordinates(partition))


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def loaded_model(file_stamp: tuple, arch: str | None, options_json: str | None):
    """A model shared by every session, with the lock that serialises its use: extraction moves the
    module to a device, so two sessions must not use it at the same time."""
    from latentcore.models import load_model

    options = json.loads(options_json) if options_json else None
    return load_model(file_stamp[0], arch=arch, options=options), threading.Lock()


def get_model(spec: dict):
    """(LoadedModel, lock) of a model spec {"path", "arch", "options"} from the shared cache."""
    options = json.dumps(spec["options"], sort_keys=True) if spec.get("options") else None
    return loaded_model(stamp(spec["path"]), spec.get("arch"), options)


_TORCH_LOADED = threading.Event()  # set by `devices`: torch imported in this server


def devices_if_loaded() -> dict[str, str] | None:
    """`devices()` once torch is loaded in this server, else None: the sidebar drawn before a page does not import
    it (about 1 s on a fresh server's first page), the one drawn after the page does. (Imported in a thread beside
    the page instead, it cost about 1 CPU second more.)"""
    return devices() if _TORCH_LOADED.is_set() else None


def devices() -> dict[str, str]:
    """Device choices with what is present: {"auto": "...", "cpu": "...", "cuda": "..."}."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    choices = {"auto": f"auto ({'GPU: ' + gpu if gpu else 'CPU: no GPU found'})",
               "cpu": "CPU"}
    if gpu:
        choices["cuda"] = f"GPU ({gpu})"
    _TORCH_LOADED.set()
    return choices


def latents(file_stamp: tuple):
    """The latents file, read once and shared read-only by every session; for a study file (`NAME.study.json`),
    the study as one `Latents` (`latentcore.study.study_latents`: a study of one member is that member's file;
    see "Studies in the app" in docs/architecture.md)."""
    return file_latents(file_stamp) if study_record(file_stamp) is None else study_latents(file_stamp)


@st.cache_resource(show_spinner="Reading the latents...", max_entries=8)
def study_latents(file_stamp: tuple):
    """A study file as one `Latents`, its rows stacked (what `latents` gives for a study), its members read for it
    (held by it: `members`)."""
    from latentcore.study import study_latents as stacked

    members = [read_only_latents(stamp[0]) for stamp in member_stamps(file_stamp)]
    return read_only(stacked(study(file_stamp), members, file_stamp[0]))


# Studies and files are cached apart: a page reading a study's members one by one through one shared cache
# evicted the study, stacked again on the next run (1.5 GB and 2 s at 10M rows).
@st.cache_resource(show_spinner="Reading the latents...", max_entries=8)
def file_latents(file_stamp: tuple):
    """One latents file, shared by every session."""
    return read_only_latents(file_stamp[0])


def read_only_latents(path):
    """A latents file's `Latents`, its rows memory-mapped and read-only."""
    from latentcore.latents import read_latents

    result = read_latents(path)
    for rows in result.partitions.values():
        rows.flags.writeable = False
    return result


@st.cache_resource(show_spinner=False, max_entries=64)
def study_record(file_stamp: tuple):
    """What a study file records (`read_study` with `verify=False`: its members named, not yet opened), read once per
    file state: the members `stamp` stats; None for a latents file. The one place here that tells the two apart."""
    from latentcore.study import is_study_file, read_study

    return read_study(file_stamp[0], verify=False) if is_study_file(file_stamp[0]) else None


@st.cache_resource(show_spinner="Checking the study's members...", max_entries=8)
def study(file_stamp: tuple):
    """The `latentcore.study.Study` a study file names, every member checked against its record (SHA-256, rows,
    dimension, model; member paths inside the file's folder, the workspace) once per state of the file and its
    members (`stamp`), or None for a latents file."""
    from latentcore.study import read_study

    return None if study_record(file_stamp) is None else read_study(file_stamp[0])


@dataclasses.dataclass(frozen=True)
class Source:
    """One source of a study of several members (`study_sources`)."""

    name: str
    stamp: tuple  # its latents file's stamp: what every per-file function here and in scan_maps takes
    start: int  # its first row among the study's (global) rows
    rows: int

    @property
    def row_ids(self) -> np.ndarray:
        """Its rows' global ids, in order."""
        return np.arange(self.start, self.start + self.rows, dtype=np.int64)


def study_sources(file_stamp: tuple) -> list[Source]:
    """The sources of a study of several members, in order; [] for a latents file or a study of one member
    (explored as that file is): nothing read for them."""
    return members(file_stamp) if len(member_stamps(file_stamp)) > 1 else []


def members(file_stamp: tuple) -> list[Source]:
    """Every source of the latents, in order: a study's members, or the file alone (a study of one)."""
    found = study(file_stamp)
    if found is None:
        rows = sum(len(part) for part in latents(file_stamp).partitions.values())
        return [Source(Path(file_stamp[0]).name, file_stamp, 0, rows)]
    return [Source(member.name, member_stamp, int(start), member.rows)
            for member, member_stamp, start in zip(found.members, member_stamps(file_stamp), found.offsets)]


def member_stamps(file_stamp: tuple) -> list[tuple]:
    """Each member's latents file stamp, in the study's order (a latents file: itself alone)."""
    return list(file_stamp[3]) if len(file_stamp) > 3 else [file_stamp]


@st.cache_data(show_spinner=False, max_entries=64)
def latents_model(file_stamp: tuple) -> str | None:
    """The model that made a latents file (a study: its first member), from its attributes: `name (SHA-256
    1a2b3c4d)`, or None."""
    from latentcore.latents import model_label, read_attrs

    return model_label(read_attrs(member_stamps(file_stamp)[0][0]))


@st.cache_data(show_spinner=False, max_entries=256)
def latents_summary(file_stamp: tuple) -> dict:
    """A latents file's source, model tag, rows and source SHA-256, from its attributes (pickers name files so); a
    study's: its name as the source, its first member's model, every row, its sources."""
    from latentcore.latents import latents_summary as summary

    found = study(file_stamp)
    if found is None:
        return summary(file_stamp[0])
    first = summary(found.members[0].location)
    return {**first, "source": f"{found.name} ({len(found.members)} sources)", "rows": found.rows,
            "source_sha256": "" if len(found.members) > 1 else first["source_sha256"]}


def latents_label(path) -> str:
    """`ni_holdout · demo-vae · 5,120 rows`: a latents file as every picker names it."""
    from latentcore.latents import summary_label

    return summary_label(latents_summary(stamp(path)))


@st.cache_resource(show_spinner=False, max_entries=8)
def stacked_latents(file_stamp: tuple):
    """All partitions as one (N, D) matrix and the table naming each row (global row id = position)."""
    matrix, table = latents(file_stamp).stacked()
    matrix.flags.writeable = False
    return matrix, table


@st.cache_resource(show_spinner=False, max_entries=4)
def latent_column(file_stamp: tuple, dim: int) -> np.ndarray:
    """One latent dimension of every row, contiguous and shared: the same array on every rerun, so that
    what is derived from it (its colours, range and histogram) is made once."""
    return read_only(np.ascontiguousarray(stacked_latents(file_stamp)[0][:, dim]))


@st.cache_resource(show_spinner=False, max_entries=16)
def value_range(values_key: tuple, _values) -> tuple[float, float]:
    """(min, max) of the finite values named by `values_key` ((0, 1) when none is finite)."""
    return finite_range(_values)


@st.cache_resource(show_spinner=False, max_entries=16)
def continuous_colour(values_key: tuple, name: str, colorscale: str, limits: tuple | None, _values):
    """`plots.continuous_colour` of the values named by `values_key`, made once: a rerun gets the same codes,
    so the density raster reuses their cell colours (at ten million rows each is a pass over every row)."""
    from ..figures.plots import continuous_colour as colour_of

    return read_only(colour_of(_values, name, colorscale, *(limits or (None, None))))


@st.cache_resource(show_spinner=False, max_entries=32)
def column_colour(lat_stamp: tuple, column: str):
    """Colour codes of a metadata column (categories are factorised once, not on every rerun)."""
    from ..figures.plots import column_colour as colour_of

    _, table = stacked_latents(lat_stamp)
    return read_only(colour_of(table[column], column))  # a categorical column as it is: no object per row


@st.cache_resource(show_spinner=False, max_entries=16)
def ipf_colours(lat_stamp: tuple, direction: tuple) -> np.ndarray:
    """(N, 3) IPF colours of the latents' rows for a sample direction (NaN: not indexed)."""
    from latentcore.analysis.ebsd.scan_references import ipf_rows

    return read_only(ipf_rows(latents(lat_stamp).orientations, direction))


@st.cache_resource(show_spinner="Aligning the band contrast...", max_entries=16)
def bandcontrast_for(bandcontrast, lat_stamp: tuple) -> np.ndarray:
    """Band contrast (a BandContrast) at each row of a scan's latents: the scan map they carry, or a table
    aligned by x,y value. A study's rows take their scans' own map (its scans share their x, y: a table, made for one
    scan, would pair with each of them alike)."""
    from latentcore.data.bandcontrast import BandContrast

    lat = latents(lat_stamp)
    if len(lat.sources()) > 1 and not bandcontrast.from_scan:
        bandcontrast = BandContrast.scan_map()
    values = bandcontrast.values(lat.point_maps, lat.x, lat.y, Path(lat_stamp[0]).name)[1]
    return read_only(values.astype(np.float32))


def write_study(name: str, paths: list[Path], folder: Path) -> Path:
    """A study of these latents files (`latentcore.study.make_study`: one model, one dimension, each source once;
    else one line naming the member refused) written as `folder/NAME.study.json`, members inside `folder`; a study
    of that name already there is kept (refused), unless it can no longer be opened (a member changed or gone):
    making it again is the way out its pages name."""
    from latentcore.errors import InputError
    from latentcore.study import make_study, read_study, study_path, write_study as write

    existing = study_path(folder, name)
    if existing.exists():
        try:
            read_study(existing)
        except InputError:
            pass  # broken: replaced below
        else:
            raise InputError(f"a study named {name} is in the workspace already: give the new one another name, or "
                             f"pick {name} below")
    return write(make_study(name, [str(p) for p in paths]), folder, root=folder)
