"""Two sessions (browser tabs) on one workspace: a write applies one session's changes to what the workspace holds
now (ui/session/workspace.py `sync`), so neither undoes the other; the lock serialises writers, threads of one
server or separate processes. Plain files, no Streamlit."""
from __future__ import annotations

import concurrent.futures
import fcntl
import multiprocessing
import threading

import numpy as np
import pytest

from latentcore.analysis.labels import labelled as lab
from ui.session import workspace


@pytest.fixture
def folder(tmp_path):
    return workspace.create(tmp_path)[1]


def edited(snapshot: workspace.Snapshot, folder, labels=None, selection=None, **changes) -> workspace.Snapshot:
    """A session's state: `snapshot` with some changes (record keys: a value, or a function of the old one)."""
    record = {key: (changes[key](value) if callable(changes.get(key)) else changes.get(key, value))
              for key, value in snapshot.record.items()}
    return workspace.normalised(workspace.Snapshot(
        record, snapshot.selection if selection is None else np.asarray(selection, np.int64),
        snapshot.labels if labels is None else labels, snapshot.revision), folder)


def with_model(name, folder):
    return lambda models: {**models, name: {"path": str(folder / "models" / f"{name}.pth"), "arch": "vae"}}


def saved_by(folder, base, mine) -> workspace.Snapshot:
    """A session's save: its changes from `base` to `mine` merged and written; what the workspace holds then."""
    merged, _ = workspace.sync(folder, base, mine)
    return merged


def test_interleaved_changes_of_two_sessions_both_survive(folder):
    start = workspace.read(folder)
    tab_a, tab_b = start, start  # both opened the empty workspace
    tab_a = saved_by(folder, tab_a, edited(tab_a, folder, labels=lab.with_label(tab_a.labels, range(0, 10), "grain"),
                                           models=with_model("a", folder), settings={"umap_seed": 3}))
    tab_b = saved_by(folder, tab_b, edited(tab_b, folder, labels=lab.with_label(tab_b.labels, range(20, 25), "edge"),
                                           models=with_model("b", folder), selection=[20, 21]))
    tab_a = saved_by(folder, tab_a, edited(tab_a, folder, labels=lab.renamed(tab_a.labels, "grain", "grain 1"),
                                           settings=lambda s: {**s, "maps_columns": 3}))

    now = workspace.read(folder)
    assert now.revision == 3
    assert now.labels.counts() == {"edge": 5, "grain 1": 10}
    assert set(now.labels.rows.tolist()) == set(range(0, 10)) | set(range(20, 25))
    assert sorted(now.record["models"]) == ["a", "b"]
    assert now.record["settings"] == {"umap_seed": 3, "maps_columns": 3}
    assert now.selection.tolist() == [20, 21]
    assert tab_a.same_as(now)  # what the last writer holds is what the workspace holds


def test_a_stale_session_that_changed_nothing_drops_nothing(folder):
    """The reported bug: tab B, opened before tab A labelled, clicks a page; labels.npz must keep A's labels."""
    stale = workspace.read(folder)
    labelled = lab.from_clustering(np.arange(1480), np.arange(1480) % 2)
    saved_by(folder, stale, edited(stale, folder, labels=labelled, models=with_model("trained", folder),
                                   settings={"train_epochs": 5}, source=str(folder / "scan.h5")))
    revision = workspace.revision(folder)

    merged, theirs = workspace.sync(folder, stale, edited(stale, folder))
    assert workspace.revision(folder) == revision  # nothing of B's to write: nothing written
    assert merged.same_as(theirs) and merged.labels.digest() == labelled.digest()
    assert workspace.read(folder).labels.digest() == labelled.digest()
    assert list(merged.record["models"]) == ["trained"] and merged.record["settings"] == {"train_epochs": 5}
    assert merged.record["source"] == str((folder / "scan.h5").resolve())


def test_a_stale_sessions_own_changes_do_not_drop_the_others(folder):
    stale = workspace.read(folder)
    first = lab.from_clustering(np.arange(1480), np.arange(1480) % 2)
    newer = saved_by(folder, stale, edited(stale, folder, labels=first, models=with_model("a", folder),
                                           settings={"umap_seed": 1, "maps_columns": 2}))
    saved_by(folder, newer, edited(newer, folder, labels=lab.with_label(first, np.arange(1480, 1800), "third")))

    # B, still at `stale`, labels its own rows, removes a model it never had, changes one setting
    mine = edited(stale, folder, labels=lab.with_label(stale.labels, [5000, 5001], "mine"),
                  settings={"maps_columns": 4})
    merged, _ = workspace.sync(folder, stale, mine)
    now = workspace.read(folder)
    assert len(now.labels.rows) == 1802 and now.labels.counts()["third"] == 320 and now.labels.counts()["mine"] == 2
    assert list(now.record["models"]) == ["a"]
    assert now.record["settings"] == {"umap_seed": 1, "maps_columns": 4}  # B's one change, A's other setting
    assert merged.same_as(now)


def test_removals_and_relabelling_apply_only_to_the_rows_the_session_changed():
    base = lab.LabelledRows.from_names([1, 2, 3, 4], ["a", "a", "b", "b"])
    mine = lab.with_label(lab.without_class(base, "b"), [1], "c")  # 3, 4 unlabelled; 1 relabelled
    theirs = lab.with_label(base, [7, 8], "b")  # another tab added rows to "b"
    merged = lab.merged_changes(base, mine, theirs)
    assert dict(zip(merged.rows.tolist(), merged.names.tolist())) == {1: "c", 2: "a", 7: "b", 8: "b"}


def test_files_and_single_values_merge_by_what_each_session_changed(folder):
    uploads = folder / "uploads"
    start = workspace.read(folder)
    one = saved_by(folder, start, edited(start, folder, files={"data": [str(uploads / "1.h5"), str(uploads / "2.h5")]}))
    saved_by(folder, one, edited(one, folder, files={"data": [str(uploads / "2.h5")]}, latents=str(folder / "l.h5")))
    saved_by(folder, one, edited(one, folder, files=lambda f: {"data": [*f["data"], str(uploads / "3.h5")]},
                                 bandcontrast="scan:IQ"))
    now = workspace.read(folder).record
    assert now["files"] == {"data": [str(uploads / "2.h5"), str(uploads / "3.h5")]}
    assert now["latents"] == str((folder / "l.h5").resolve()) and now["bandcontrast"] == "scan:IQ"


def test_the_lock_is_held_by_one_writer_at_a_time(folder):
    with workspace.locked(folder), open(folder / workspace.LOCK_FILE) as other:
        with pytest.raises(BlockingIOError):  # another open file, as another thread or process has
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(folder / workspace.LOCK_FILE) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


def label_rows_one_save_at_a_time(folder, writer: int, saves: int = 8):
    """A session that reads the workspace, labels its own rows and adds a model, then saves: others write between
    its read and its save, so every save merges into a newer state."""
    for k in range(saves):
        base = workspace.read(folder)
        rows = [writer * 1000 + k]
        mine = edited(base, folder, labels=lab.with_label(base.labels, rows, f"writer {writer}"),
                      models=with_model(f"{writer}-{k}", folder))
        workspace.sync(folder, base, mine)


def check_nothing_lost(folder, writers: int, saves: int = 8):
    now = workspace.read(folder)
    assert now.revision == writers * saves
    assert now.labels.counts() == {f"writer {w}": saves for w in range(writers)}
    assert len(now.record["models"]) == writers * saves


def test_threads_writing_at_once_lose_nothing(folder):
    threads = [threading.Thread(target=label_rows_one_save_at_a_time, args=(folder, w)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check_nothing_lost(folder, 4)


def test_processes_writing_at_once_lose_nothing(folder):
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(3, mp_context=context) as pool:
        list(pool.map(label_rows_one_save_at_a_time, [folder] * 3, range(3)))
    check_nothing_lost(folder, 3)


def test_a_read_that_overlaps_the_first_write_is_read_again_whole(folder, monkeypatch):
    """A workspace never written has no lock file, so a reader reads without the lock; the first writer makes the
    file and writes state.json, then labels.npz. A read that saw the new state.json and no labels yet must not be
    returned (its session's next save would drop those labels): the reader reads again, under the lock."""
    base = workspace.read(folder)
    reading, state_written, first_read_done = threading.Event(), threading.Event(), threading.Event()
    load, load_labels, save_labels = workspace.load, workspace.load_labels, workspace.save_labels

    def load_after_the_state_is_written(*args):  # the reader's: it found no lock file, then the writer began
        reading.set()
        state_written.wait(10)
        return load(*args)

    def load_labels_then_let_the_writer_go_on(*args):
        try:
            return load_labels(*args)
        finally:
            first_read_done.set()

    def save_labels_after_the_read(*args):  # the writer's: state.json is written, labels.npz not yet
        state_written.set()
        first_read_done.wait(10)
        save_labels(*args)

    monkeypatch.setattr(workspace, "load", load_after_the_state_is_written)
    monkeypatch.setattr(workspace, "load_labels", load_labels_then_let_the_writer_go_on)
    monkeypatch.setattr(workspace, "save_labels", save_labels_after_the_read)
    read = []
    reader = threading.Thread(target=lambda: read.append(workspace.read(folder)))
    reader.start()
    reading.wait(10)
    mine = edited(base, folder, labels=lab.with_label(base.labels, [7], "grain"))
    writer = threading.Thread(target=workspace.sync, args=(folder, base, mine))
    writer.start()
    for thread in (reader, writer):
        thread.join(30)
    assert read[0].revision == 1 and read[0].labels.counts() == {"grain": 1}


def test_a_reader_writes_nothing_not_even_the_lock_file(folder):
    stale = workspace.read(folder)
    merged, _ = workspace.sync(folder, stale, edited(stale, folder, settings={"umap_seed": 4}), write=False)
    assert merged.record["settings"] == {"umap_seed": 4}  # held in the session, not saved
    assert list(folder.iterdir()) == []
