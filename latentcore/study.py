"""A study: a named set of latents files of one model (one model SHA-256, one dimension), explored as one latent
space whose rows keep their identity: the study's row i is (member, row within the member), and every table of a
study starts `source, row, x_um, y_um` (`identity_table`; `x_um`, `y_um` NaN for a member without coordinates).

- `study_locations(items, settings)`: latents files, folders (their `*_latents.h5`), globs and `s3://` prefixes
  (the `*_latents.h5` directly under them), expanded to the files, in order;
- `make_study(name, locations, settings=None) -> Study`: every member read once (`describe_member`: its SHA-256,
  rows, model, coordinates) and checked (`assemble`): one model, one dimension, no source twice, one coordinate unit
  (`batch.describe_members` reads the members as Dask tasks, for `assemble`);
- `write_study(study, folder, root=None) -> Path`: `NAME.study.json`, written atomically; member paths relative to
  the file's folder, each inside `root` (default: that folder), so that `read_study` takes it back;
- `read_study(path, root=None, settings=None, verify=True) -> Study`: the file checked (JSON without NaN or
  Infinity, format version, every member path inside `root`, default the study file's folder: the app passes its
  workspace; its rows the sum of its members'), and with `verify` each member opened and checked against its record:
  the SHA-256, the rows, the dimension and the model (a changed member is named, never silently mixed).

A `Study` is a plain value (it travels to Dask workers): `rows`, `offsets`, `locate(rows)` and `global_rows(member,
rows)` (the identity both ways), `identity_table()`, `stacked()` (every row, one (N, D) float32 array: one copy of
the members' memory maps; a study of one member returns its map, no copy), `take(rows)` (some rows, read from their
members), `latents(member)` (the member's `Latents`: its grid, x/y, point maps; its SHA-256 checked), `notes` (what
a user should know: members without coordinates have no maps; sources whose data the model was not trained on, where
its checkpoint records what it was: `Member.model_saw`). A study of one file behaves as the file does.
For the app's pages: `study_latents(study, members, path)` is the study as one `Latents` (`StudyLatents`: every row
stacked, x/y per row, the identity table, each member's own `Latents`; a study of one member is that member's
`Latents`), and `open_latents(path)` reads a latents file or a study file alike.
Per member, for work done a source at a time (a Dask task each): `member_identity` (its rows of the identity table;
`written_identity`: without `source` for a study of one),
`member_rows` (rows of a latents file by row id).

Members in S3 are read through the S3 download cache (`storage.resolve_path`); a member's SHA-256 is computed once
per process for a given file state (size, mtime, inode), so reading a member again costs no second hash.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import glob
import json
import os
import re
from pathlib import Path

import numpy as np

from .columns import ROW, SOURCE, beside, coordinate_names
from .data.latents_h5 import EXTRACT_FIRST
from .errors import InputError
from .latents import Latents, Source, latents_summary, model_record, model_saw_source, read_latents
from .outputs import SUFFIX, source_name
from .storage import atomic_path, is_s3_uri, is_sha256, resolve_path, sha256_once

STUDY_SUFFIX = ".study.json"
FORMAT = "latent-explorer-study"
FORMAT_VERSION = 1
MAX_STUDY_BYTES = 32 << 20  # a study file of 100,000 members is about 20 MB; larger is not one of ours
MAX_ROWS = 1 << 40
MAX_DIM = 1 << 20  # no encoder's latent vector is longer: a larger 'dim' was edited in
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
REMAKE = "make the study again (python -m latentcore study ...)"


@dataclasses.dataclass(frozen=True)
class Member:
    """One latents file of a study. `location`: an absolute local path or an `s3://` URI."""

    name: str  # the source, as the latents file names it: `<name>__<model>_latents.h5`
    location: str
    sha256: str
    rows: int
    coordinates: bool  # the file holds x, y (a scan)
    units: str | None = None  # of x, y; None without coordinates
    model_saw: bool | None = None  # its source among the model's training data (`latents.model_saw_source`)


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    model: dict | None  # {"name", "sha256"} as the latents record it (`latents.model_record`)
    dim: int
    members: tuple[Member, ...]

    @property
    def rows(self) -> int:
        return int(self.offsets[-1])

    @functools.cached_property
    def offsets(self) -> np.ndarray:
        """(members + 1,) int64: member m holds the study's rows offsets[m] to offsets[m + 1] - 1."""
        return np.concatenate([[0], np.cumsum([m.rows for m in self.members])]).astype(np.int64)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def member(self, which: int | str) -> Member:
        """A member by its position or its name."""
        if isinstance(which, str):
            if which not in self.names:
                raise InputError(f"the study {self.name} has no source {which!r}: choose one of its sources "
                                 f"{', '.join(self.names)}")
            return self.members[self.names.index(which)]
        return self.members[which]

    @property
    def units(self) -> str | None:
        """The unit of the scans' x, y (one for the whole study); None when no member has coordinates."""
        return next((m.units for m in self.members if m.coordinates), None)

    @property
    def coordinate_columns(self) -> tuple[str, str] | None:
        """`x_um`, `y_um` when any member is a scan, else None (a study of cutouts has no coordinates)."""
        return coordinate_names(self.units) if self.units is not None else None

    @property
    def notes(self) -> list[str]:
        """What a user should know of this study, one line each."""
        notes, n = [], len(self.members)
        without = [m.name for m in self.members if not m.coordinates]
        if without and len(without) < n:
            notes.append(f"{len(without)} of {n} sources have no coordinates ({', '.join(without)}): their maps are "
                         "absent and their x, y are empty")
        unseen = [m.name for m in self.members if m.model_saw is False]
        if unseen and n > 1:
            named = ", ".join(unseen[:5]) + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else "")
            notes.append(f"the model was not trained on the data of {len(unseen)} of these {n} sources ({named}): "
                         "what the sources share can fall into other clusters in each. For clusters that "
                         "match across them, train one model on every source's data (`train-vae` with their files, "
                         "or the Train page) and extract each with it (`batch --study`)")
        return notes

    def locate(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """(member index, row within the member) of each of the study's rows."""
        rows = np.asarray(rows, np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.rows):
            raise InputError(f"row ids in the study {self.name} must be between 0 and {self.rows - 1}")
        member = np.searchsorted(self.offsets, rows, side="right") - 1
        return member, rows - self.offsets[member]

    def global_rows(self, member: int | str, rows) -> np.ndarray:
        """The study's row ids of rows of one member."""
        index = self.names.index(self.member(member).name)
        rows = np.asarray(rows, np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.members[index].rows):
            raise InputError(f"row ids of {self.members[index].name} must be between 0 and "
                             f"{self.members[index].rows - 1}")
        return rows + self.offsets[index]

    def latents(self, member: int | str, settings=None, verify: bool = True) -> Latents:
        """The member's latents file (memory-mapped rows, x/y, grid, point maps), checked against its record (the
        SHA-256 with `verify`; the rows, dimension and model always)."""
        return open_member(self.member(member), self, settings, verify)

    def stacked(self, settings=None) -> np.ndarray:
        """Every row of the study, (N, D) float32, in member order: each member's partitions copied once into one
        array; a study of one member with one partition returns its memory map as it is (no copy)."""
        parts = [list(self.latents(i, settings).partitions.values()) for i in range(len(self.members))]
        if len(parts) == 1 and len(parts[0]) == 1:
            return parts[0][0]
        out = np.empty((self.rows, self.dim), np.float32)
        start = 0
        for arrays in parts:
            for array in arrays:
                out[start:start + len(array)] = array
                start += len(array)
        return out

    def take(self, rows, settings=None) -> np.ndarray:
        """The latents of some of the study's rows, (len(rows), D) float32 in the order given, read from their
        members (only those rows are touched)."""
        member, local = self.locate(rows)
        out = np.empty((len(local), self.dim), np.float32)
        for index in np.unique(member):
            chosen = np.flatnonzero(member == index)
            out[chosen] = member_rows(self.latents(int(index), settings), local[chosen])
        return out

    def identity_table(self, settings=None):
        """`source` (categorical), `row`, then `x_um`, `y_um` where any member is a scan (NaN for members without
        coordinates): one row per study row, in order."""
        import pandas as pd

        return pd.concat([member_identity(self, i, self.latents(i, settings)) for i in range(len(self.members))],
                         ignore_index=True)


def member_identity(study: Study, index: int, latents: Latents):
    """The identity table's rows of one member (its `source` categorical over every source of the study)."""
    import pandas as pd

    member = study.members[index]
    table = pd.DataFrame({SOURCE: pd.Categorical.from_codes(np.full(member.rows, index), categories=study.names),
                          ROW: np.arange(member.rows, dtype=np.int64)})
    if study.coordinate_columns:
        x, y = (latents.x, latents.y) if member.coordinates else (np.full(member.rows, np.nan),) * 2
        for name, values in zip(study.coordinate_columns, (x, y)):
            table[name] = np.asarray(values, np.float64)
    return table


def written_identity(study: Study, index: int, latents: Latents):
    """How a run's table names one member's rows: `member_identity`, and for a study of one its file's own
    (without `source`)."""
    table = member_identity(study, index, latents)
    return table if len(study.members) > 1 else table.drop(columns=SOURCE)


def member_rows(latents: Latents, rows) -> np.ndarray:
    """Rows of a latents file by their row id (the position in its partitions, stacked in order)."""
    rows = np.asarray(rows, np.int64)
    out = np.empty((len(rows), latents.dim), np.float32)
    start = 0
    for array in latents.partitions.values():
        inside = (rows >= start) & (rows < start + len(array))
        if inside.any():
            local = rows[inside] - start
            order = np.argsort(local, kind="stable")  # a memory map reads forward
            picked = np.empty((len(local), latents.dim), np.float32)
            picked[order] = array[local[order]]
            out[inside] = picked
        start += len(array)
    return out


# -- the study as one Latents (what the app's pages read) -----------------------------------------

# Attributes of the first member that describe its source, not the study's rows.
SOURCE_ATTRS = ("source", "source_sha256", "source_format", "step", "grid_shape", "created", "fingerprint")


@dataclasses.dataclass
class StudyLatents(Latents):
    """A study of several members as one `Latents` (`study_latents`): the row-level interface a page reads of a
    latents file, over the study's global rows. `partitions` {"all": every row, (N, D)}; `x`, `y` every row's
    position (NaN for a member without coordinates; None when no member is a scan); `grid_shape` None (each
    member has its own grid: `members[m]`); `point_maps` the maps every member carries, concatenated;
    `orientations` None; `stacked()` the matrix and the identity table (`source`, `row`, `x_um`, `y_um`)."""

    study: Study | None = None
    members: tuple = ()  # each member's own Latents (its grid, x/y, point maps), in order
    identity: object = None  # pandas DataFrame: `Study.identity_table()`

    @property
    def names(self) -> list[str]:
        return self.study.names

    @property
    def offsets(self) -> np.ndarray:
        return self.study.offsets

    def rows_of(self, member: int) -> np.ndarray:
        """The study's row ids of one member's rows, in order."""
        return np.arange(self.offsets[member], self.offsets[member + 1], dtype=np.int64)

    def stacked(self, partitions=None):
        return self.partitions["all"], self.identity

    def row_table(self, rows):
        table = self.identity.iloc[np.asarray(rows, np.int64)].reset_index(drop=True)
        return table.assign(**{SOURCE: table[SOURCE].astype(str)})

    def rows_frame(self, rows, columns: dict, table):
        """`Latents.rows_frame`, each row's own columns read from its source (`Latents.origins`: `partition`,
        `index`, its metadata), as the `umap` command's study table has them (`table`, the identity, is the head)."""
        import pandas as pd

        rows = np.asarray(rows, np.int64)
        head = super().rows_frame(rows, columns, table.iloc[:, :0])
        member = np.searchsorted(self.offsets, rows, side="right") - 1
        own = [self.members[m].origins().iloc[rows[member == m] - self.offsets[m]] for m in np.unique(member)]
        grouped = np.argsort(member, kind="stable")  # the rows in `own`'s order: by source, then as given
        return beside(head, pd.concat(own).iloc[np.argsort(grouped)]) if own else head

    def source_latents(self, index: int) -> Latents:
        return self.members[index]

    def sources(self) -> list[Source]:
        return [member.sources()[0]._replace(name=name, start=int(start))
                for name, member, start in zip(self.names, self.members, self.offsets)]


def study_latents(study: Study, members: list[Latents], path) -> Latents:
    """The study file at `path` as one `Latents` (`StudyLatents`), from its members' `Latents` (in order); a study
    of one member is that member's `Latents` itself, so that it behaves exactly as the file does."""
    import pandas as pd

    if len(members) == 1:
        return members[0]
    matrix = np.concatenate([array for member in members for array in member.partitions.values()])
    identity = pd.concat([member_identity(study, i, member) for i, member in enumerate(members)],
                         ignore_index=True)
    x = y = None
    if study.coordinate_columns:
        x, y = (identity[name].to_numpy() for name in study.coordinate_columns)
    shared = set.intersection(*(set(member.point_maps) for member in members))
    point_maps = {name: np.concatenate([np.asarray(member.point_maps[name], np.float64) for member in members])
                  for name in members[0].point_maps if name in shared}
    attrs = {key: value for key, value in members[0].attrs.items() if key not in SOURCE_ATTRS}
    if study.units is not None:
        attrs["units"] = study.units
    return StudyLatents(Path(path), {"all": matrix}, attrs, x, y, None, {}, point_maps, None,
                        study=study, members=_views_of_stacked(members, matrix, x, y, point_maps), identity=identity)


def _views_of_stacked(members: list[Latents], matrix, x, y, point_maps: dict) -> tuple:
    """Each member with its rows, coordinates and shared point maps as views of the study's stacked arrays: a study
    holds each value once (at 10M rows its members' own copies and memory maps were 0.9 GB more of the server)."""
    views, start = [], 0
    for member in members:
        parts, stop = {}, start
        for name, rows in member.partitions.items():
            parts[name], stop = matrix[stop:stop + len(rows)], stop + len(rows)
        maps = {**member.point_maps, **{name: values[start:stop] for name, values in point_maps.items()}}
        coordinates = {"x": x[start:stop], "y": y[start:stop]} if member.x is not None and x is not None else {}
        views.append(dataclasses.replace(member, partitions=parts, point_maps=maps, **coordinates))
        start = stop
    return tuple(views)


def is_study_file(path) -> bool:
    return str(path).endswith(STUDY_SUFFIX)


def open_latents(path, settings=None) -> Latents:
    """A latents file (`read_latents`), or a study file as one `Latents` (`study_latents`; its members checked,
    member paths inside the study file's folder)."""
    if not is_study_file(path):
        return read_latents(path)
    study = read_study(path, settings=settings)
    members = [study.latents(i, settings, verify=False) for i in range(len(study.members))]  # checked by read_study
    return study_latents(study, members, path)


def row_sources(path) -> list[tuple]:
    """Each source of the latents at `path` with its rows, in order, as recorded (a study's members not opened; a
    file's: its data file's SHA-256 and partitions too): latents with the same list have the same rows (one scan's
    latents by two models; not a study and one of its files, nor another scan or partition of the same name and
    size)."""
    if is_study_file(path):
        members = read_study(path, verify=False).members
        if len(members) == 1 and not is_s3_uri(members[0].location):  # a study of one is its file
            return row_sources(members[0].location)
        return [(member.name, member.rows) for member in members]
    summary = latents_summary(path)
    return [(source_name(path), summary["rows"], summary["source_sha256"], tuple(summary["partitions"].items()))]


# -- members ----------------------------------------------------------------------------------

def describe_member(location: str, settings=None) -> tuple[Member, dict | None, int]:
    """A latents file as a member (read once: its SHA-256, rows, coordinates), with its model and dimension."""
    location = location if is_s3_uri(location) else str(Path(location).absolute())
    name = source_name(location)
    if not name:
        raise InputError("names no source: give a latents file named <source>__<model>_latents.h5", location)
    path = resolve_path(location, settings=settings)
    latents = read_latents(path)
    rows = sum(len(array) for array in latents.partitions.values())
    member = Member(name, location, sha256_once(path), rows, latents.x is not None,
                    latents.units if latents.x is not None else None, model_saw_source(latents.attrs))
    return member, model_record(latents.attrs), latents.dim


def open_member(member: Member, study: Study, settings=None, verify: bool = True) -> Latents:
    """A member's latents, checked to be the file `study` recorded (its SHA-256 with `verify`; its rows, dimension
    and model: a study file whose record was edited is refused, not believed), else one line naming it."""
    path = local_member_path(member, settings)
    if verify:
        found = sha256_once(path)
        if found != member.sha256:
            raise InputError(f"member {member.name} changed since the study was made (its SHA-256 is {found[:12]}, "
                             f"the study recorded {member.sha256[:12]}): restore the file, or {REMAKE}",
                             member.location)
    latents = read_latents(path)
    rows = sum(len(array) for array in latents.partitions.values())
    if rows != member.rows or latents.dim != study.dim:
        raise InputError(f"member {member.name} holds {rows} rows of {latents.dim} dimensions, the study recorded "
                         f"{member.rows} of {study.dim}: {REMAKE}", member.location)
    if model_record(latents.attrs) != study.model:
        raise InputError(f"member {member.name} was made by {_model_words(model_record(latents.attrs))}, the study "
                         f"records {_model_words(study.model)}: {REMAKE}", member.location)
    return latents


def local_member_path(member: Member, settings=None) -> Path:
    """The member's file on this machine (one in S3 downloaded into the S3 cache); one line when it is missing."""
    if not is_s3_uri(member.location) and not Path(member.location).is_file():
        raise InputError(f"member {member.name} is missing: restore the file, or {REMAKE} without it",
                         member.location)
    return resolve_path(member.location, settings=settings)


# -- making a study -----------------------------------------------------------------------------

def study_locations(items, settings=None) -> list[str]:
    """Latents files, each in order: a file as it is; a folder: its `*_latents.h5` (not below), sorted; a glob: the
    files it matches, sorted; `s3://bucket/prefix/`: the `*_latents.h5` objects directly under it."""
    found = []
    for item in map(str, items):
        if is_s3_uri(item) and not item.endswith(SUFFIX):
            found += _s3_latents(item, settings)
        elif is_s3_uri(item) or Path(item).is_file():
            found.append(item)
        elif Path(item).is_dir():
            files = sorted(str(p) for p in Path(item).glob(f"*{SUFFIX}") if p.is_file())
            if not files:
                raise InputError(f"holds no *{SUFFIX} files: extract latents into it first, or name the files; "
                                 f"{EXTRACT_FIRST}", item)
            found += files
        elif glob.has_magic(item):
            files = sorted(p for p in glob.glob(item) if Path(p).is_file())
            if not files:
                raise InputError("matches no file: check the pattern (quote it so that the shell leaves it alone)",
                                 item)
            found += files
        else:
            raise InputError("no such latents file or folder: give latents files, folders of them, globs or an "
                             "s3:// prefix", item)
    return found


def _s3_latents(prefix: str, settings) -> list[str]:
    from .storage.s3 import list_objects
    from .storage.uri import parse_s3_uri

    prefix = prefix if prefix.endswith("/") else prefix + "/"
    bucket, key = parse_s3_uri(prefix)
    found = sorted(o.uri for o in list_objects(bucket, key, settings, recursive=False) if o.key.endswith(SUFFIX))
    if not found:
        raise InputError(f"no *{SUFFIX} objects directly under this prefix: give the prefix that holds them", prefix)
    return found


def files_study(items, settings=None) -> Study:
    """A study, in memory, of latents files (`study_locations`: files, folders, globs, prefixes), named after its
    first source (`a`, or `a+2` with two more); one file is a study of one, which behaves as the file does."""
    locations = study_locations(items, settings)
    name = re.sub(r"[^A-Za-z0-9._+-]+", "-", source_name(locations[0])).strip("._+-")[:90] or "study"
    return make_study(name if len(locations) == 1 else f"{name}+{len(locations) - 1}", locations, settings)


def as_study(latents, settings=None, verify: bool = True) -> Study:
    """A `Study` as it is; a latents file's path (or a study file's) as its study (a file: a study of one).
    `verify=False`: a study file's members are not hashed again (`read_study`)."""
    if isinstance(latents, Study):
        return latents
    if is_study_file(latents):
        return read_study(latents, settings=settings, verify=verify)
    return files_study([latents], settings)


def make_study(name: str, locations, settings=None) -> Study:
    """The study of these latents files (`study_locations` expands folders, globs and prefixes), checked: one
    model, one dimension, each source once, one coordinate unit. Each member is read once here."""
    return assemble(check_name(name), [describe_member(location, settings) for location in locations])


def assemble(name: str, described) -> Study:
    """A study of members already described (`describe_member`: member, model, dimension), checked."""
    if not described:
        raise InputError(f"the study {check_name(name)} has no members: name latents files, a folder or a prefix")
    first, model, dim = described[0]
    seen: dict[str, Member] = {}
    for member, member_model, member_dim in described:
        if member_model != model:
            raise InputError(f"member {member.name} was made by {_model_words(member_model)}, the study's first "
                             f"member {first.name} by {_model_words(model)}: a study holds one model's latents; "
                             f"leave it out or extract its source with the study's model", member.location)
        if member_dim != dim:
            raise InputError(f"member {member.name} has {member_dim} dimensions, {first.name} has {dim}: a study "
                             f"holds one model's latents (the same pooling); leave it out", member.location)
        other = seen.get(member.name) or next((m for m in seen.values() if m.sha256 == member.sha256), None)
        if other is not None:
            what = "is named twice" if other.location == member.location else (
                f"is a second file of the source {member.name} (the first: {other.location})"
                if other.name == member.name else f"holds the same latents as {other.name} (one SHA-256)")
            raise InputError(f"member {member.name} {what}: each source is in a study once; leave one out",
                             member.location)
        seen[member.name] = member
    scans = [m for m in seen.values() if m.coordinates]
    odd = next((m for m in scans if m.units != scans[0].units), None)
    if odd is not None:
        raise InputError(f"member {odd.name} has coordinates in {odd.units}, {scans[0].name} in {scans[0].units}: "
                         f"a study's scans share one unit; make a study of each unit", odd.location)
    return Study(check_name(name), model, int(dim), tuple(seen.values()))


def _model_words(model: dict | None) -> str:
    if model is None:
        return "no recorded model"
    return f"model {model['name'] or 'unnamed'} (SHA-256 {model['sha256'][:12] or 'not recorded'})"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InputError(f"a study's name is letters, digits and ._+- (at most 100, not starting with one of ._+-), "
                         f"got {name!r}: choose such a name")
    return name


def study_path(folder, name: str) -> Path:
    return Path(folder) / f"{check_name(name)}{STUDY_SUFFIX}"


# -- the study file -------------------------------------------------------------------------------

def write_study(study: Study, folder, root=None) -> Path:
    """`<folder>/<name>.study.json`, atomically: member paths relative to the folder (S3 URIs as they are), each
    inside `root` (default: the folder), so that `read_study(path, root)` takes the file back."""
    path = study_path(folder, study.name)
    base, allowed = Path(folder).absolute(), Path(root or folder).resolve()
    members = []
    for member in study.members:
        entry = {"name": member.name, "path": member.location, "sha256": member.sha256, "rows": member.rows,
                 "coordinates": member.coordinates, "units": member.units, "model_saw": member.model_saw}
        if not is_s3_uri(member.location):
            if not Path(member.location).resolve().is_relative_to(allowed):
                raise InputError(f"member {member.name} lies outside {allowed}, the folder a study file there may "
                                 f"name files in: write the study in a folder that holds its members",
                                 member.location)
            entry["path"] = Path(os.path.relpath(member.location, base)).as_posix()
        members.append(entry)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": study.name, "model": study.model,
                "dim": study.dim, "rows": study.rows,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "members": members}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=1) + "\n")
    return path


def read_study(path, root=None, settings=None, verify: bool = True) -> Study:
    """A study file, checked (see the module docstring); `root`: the folder member paths must lie in (default:
    the study file's folder). `verify`: compare each member's SHA-256 now (members in S3 are downloaded)."""
    path = Path(path)
    document = _read_document(path)
    allowed = Path(root or path.parent).resolve()
    name = _field(document, "name", str, path)
    members = []
    entries = _field(document, "members", list, path)
    if not entries:
        raise InputError(f"the study has no members: {REMAKE}", path)
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(f"member {number + 1} is not an object: {REMAKE}", path)
        members.append(_member_of(entry, number, path.parent, allowed, path))
    model = document.get("model")
    if model is not None and not (isinstance(model, dict)
                                  and all(isinstance(model.get(k), str) for k in ("name", "sha256"))):
        raise InputError(f"not a study file: 'model' is not a model record; {REMAKE}", path)
    study = Study(check_name(name), model, _field(document, "dim", int, path), tuple(members))
    if not 0 < study.dim <= MAX_DIM:
        raise InputError(f"not a study file: 'dim' is {_short(study.dim)}, not a latent dimension; {REMAKE}", path)
    recorded = _field(document, "rows", int, path)
    if recorded != study.rows:
        raise InputError(f"not a study file: 'rows' is {_short(recorded)}, its members hold {study.rows:,}; {REMAKE}",
                         path)
    assemble(study.name, [(m, study.model, study.dim) for m in members])  # no source twice, one unit
    for member in members:
        local_member_path(member, settings)
    if verify:
        for index in range(len(members)):
            study.latents(index, settings)
    return study


def _read_document(path: Path) -> dict:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError("no such study file: give a NAME.study.json the study command wrote", path) from None
    if size > MAX_STUDY_BYTES:
        raise InputError(f"is {size:,} bytes, more than a study file holds ({MAX_STUDY_BYTES:,}): give a "
                         "NAME.study.json the study command wrote", path)
    def not_a_number(constant: str):  # NaN and Infinity: Python's json reads them, JSON has none
        raise InputError(f"not a study file ({constant} is not a JSON number): {REMAKE}", path)

    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_constant=not_a_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a study file (not JSON: {exc}): {REMAKE}", path) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"not a study file (no \"format\": \"{FORMAT}\"): {REMAKE}", path)
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise InputError(f"study file format version {version!r}, this version reads {FORMAT_VERSION}: update "
                         f"Latent Explorer or {REMAKE}", path)
    return document


def _short(number: int) -> str:
    """A recorded number as a line shows it: a 400-digit one by its length."""
    text = str(number)
    return text if len(text) <= 20 else f"a number of {len(text)} digits"


_KINDS = {str: "text", int: "a whole number", list: "a list", bool: "true or false"}


def _field(document: dict, key: str, kind, path, where: str = ""):
    value = document.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(f"not a study file: {where}{key!r} is missing or not {_KINDS[kind]}; {REMAKE}", path)
    return value


def _member_of(entry: dict, number: int, base: Path, allowed: Path, path: Path) -> Member:
    where = f"member {number + 1}'s "
    name, location = _field(entry, "name", str, path, where), _field(entry, "path", str, path, where)
    sha256, rows = _field(entry, "sha256", str, path, where), _field(entry, "rows", int, path, where)
    coordinates = _field(entry, "coordinates", bool, path, where)
    if not is_s3_uri(location):
        full = base / location
        if not full.resolve().is_relative_to(allowed):
            raise InputError(f"member {name} names {location}, outside {allowed}: a study names files inside its "
                             f"folder (or the workspace) only; move the files there and {REMAKE}", path)
        location = os.path.normpath(full.absolute())
    if name != source_name(location) or not is_sha256(sha256) or not 0 <= rows < MAX_ROWS:
        raise InputError(f"member {name!r} is not a study's record (its name, SHA-256 or rows): {REMAKE}", path)
    units, saw = entry.get("units") if coordinates else None, entry.get("model_saw")  # absent in older files
    return Member(name, location, sha256, rows, coordinates, units if isinstance(units, str) else None,
                  saw if isinstance(saw, bool) else None)
