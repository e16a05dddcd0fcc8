"""Reading and decompression in worker processes, blocks handed back through shared memory, in order.

h5py holds one lock for the whole library, so threads cannot read an HDF5 file in parallel: processes
can. `iter_blocks(reader, partition, block_rows, preprocessing, allowed_indices, readers, stored)` yields
what `preprocess.iter_preprocessed` yields (float32 blocks, or the reader's `stored_dtype` when `stored`
and nothing is preprocessed; int64 row indices; in source order) and is that very function when
`readers` is 1; with more, each of `readers` spawned processes opens its own copy
of the reader (readers pickle without their open handles) and reads blocks of whole chunks
(`Reader.chunk_rows`): block i goes to process i % readers, which writes it into one of its two
shared-memory slots, so each process reads two blocks ahead and the blocks come back in order.
The background steps (`PatternSteps.backgrounds`) run in the processes too; neighbour averaging,
which reads overlapping blocks, stays on the in-process reader.

A process that dies (killed, out of memory) is reported in one line naming the file, the process and
the rows it was reading (`ReaderDied`, an InputError); so is one that hands back nothing for
`reader_timeout` seconds (READER_TIMEOUT, 300, by default: stopped, stuck on a hung disk: `ReaderStalled`),
which is killed first. The blocks before it have already been handed over, so an extraction keeps its
`.partial` file and resumes.
An error inside a process (a corrupt chunk) is raised again here as it was raised there.

The processes leave nothing behind, however the run ends. They talk through pipes, not
`multiprocessing.Queue`s, whose named semaphores (/dev/shm/sem.*) outlive a killed run; their shared
memory loses its name as soon as they have mapped it, so it goes with the last process that maps it.
They ignore Ctrl-C (a terminal sends it to every process of the group; the run stops them), and one
whose parent ended, even killed, finds its task pipe closed and ends too.

Fewer processes are started when their slots would not fit in half the free shared memory (/dev/shm).
`default_readers()`: one (the in-process reader) on a machine with 2 cores or fewer, where processes
only share the cores the model needs; otherwise one per core but one, left to the model's process.
"""
from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import time
from collections.abc import Iterator
from multiprocessing import shared_memory

import numpy as np

from ..arrays import unique
from ..errors import InputError
from .base import Reader
from .preprocess import PatternSteps, Preprocessing, iter_preprocessed

SLOTS = 2  # shared-memory blocks per process: it reads the next block while the last is copied out
POLL_SECONDS = 0.2  # how often a wait for a block checks that its process is alive
# Seconds a reader process may hand back nothing before the run ends (--reader-timeout). A block is about 16 MB as
# float32 (`Extractor.read_size`) read from a local disk or a network file system (an s3:// input is downloaded
# first): seconds even under load, but an NFS mount retries a lost request after 60 s and again 120 s later
# (the Linux NFS client's TCP defaults: timeo=600, linear backoff), so a brief server failover stalls a read for 3
# minutes, and it then goes on. 5 minutes lets that run on, and a stopped reader still ends a run of hours in minutes
# (its rows kept to resume).
READER_TIMEOUT = 300.0


class ReaderDied(InputError):
    """A reader process ended without handing its block back."""


class ReaderStalled(ReaderDied):
    """A reader process handed nothing back for `reader_timeout` seconds; it was killed."""


def check_reader_timeout(seconds: float | None) -> float:
    """`seconds` as a float, READER_TIMEOUT when None; an InputError unless positive."""
    seconds = READER_TIMEOUT if seconds is None else float(seconds)
    if not seconds > 0:  # also refuses NaN
        raise InputError(f"reader timeout must be a positive number of seconds, got {seconds}")
    return seconds


def default_readers(cores: int | None = None) -> int:
    cores = cores or len(os.sched_getaffinity(0))
    return 1 if cores <= 2 else cores - 1


def block_rows_for(reader: Reader, partition: str, rows: int, multiple: int = 1) -> int:
    """`rows` rounded down to whole chunks of the file and to a `multiple` (the batch size), or up to one
    such step when `rows` is smaller and the step within twice `rows`; else `rows` as it was. Down, not up:
    a block stays within its memory budget, and a small file still comes in several blocks (progress)."""
    step = math.lcm(max(1, reader.chunk_rows(partition)), max(1, multiple))
    if step > 2 * rows:
        return rows
    return max(step, rows // step * step)


def iter_blocks(reader: Reader, partition: str, block_rows: int, preprocessing=None, allowed_indices=None,
                readers: int | None = None, stored: bool = False, reader_timeout: float | None = None,
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(block, int64 row indices) in source order, `block_rows` rows per block (the last shorter), read
    by `readers` processes (None: `default_readers()`; 1: this process). Blocks are float32, or as
    `Reader.read_stored` gives them when `stored` and no preprocessing runs. A process that hands back
    nothing for `reader_timeout` seconds (None: READER_TIMEOUT) ends the run (`ReaderStalled`)."""
    readers = default_readers() if readers is None else int(readers)
    reader_timeout = check_reader_timeout(reader_timeout)
    if readers < 1:
        raise InputError(f"readers must be at least 1, got {readers}")
    preprocessing = Preprocessing.from_dict(preprocessing) if not isinstance(preprocessing, Preprocessing) \
        else preprocessing
    stored = stored and not preprocessing.active
    dtype = reader.stored_dtype(partition) if stored else np.dtype(np.float32)
    readers = min(readers, _fit_in_shared_memory(block_rows * dtype.itemsize * math.prod(reader.info().item_shape)))
    if readers < 2 or preprocessing.neighbour_window:
        yield from iter_preprocessed(reader, partition, preprocessing, block_rows, allowed_indices, stored)
        return
    tasks = _tasks(reader, partition, block_rows, allowed_indices)
    steps = PatternSteps(reader, partition, preprocessing) if preprocessing.active else None
    with _ReaderPool(reader, partition, steps, min(readers, max(1, len(tasks))), block_rows, dtype,
                     reader_timeout) as pool:
        yield from pool.run(tasks)


def _fit_in_shared_memory(block_bytes: int) -> int:
    """Reader processes whose slots fit in half the free shared memory (a container's /dev/shm is often
    64 MB: a slot written past it would kill its process)."""
    try:
        free = shutil.disk_usage("/dev/shm").free
    except OSError:
        return 1
    return int(free // 2 // max(1, SLOTS * block_bytes))


def _tasks(reader: Reader, partition: str, block_rows: int, allowed_indices) -> list[np.ndarray]:
    """The row indices of each block, checked as `Reader.iter_batches` checks them."""
    n = reader.count(partition)
    if allowed_indices is None:
        return [np.arange(s, min(s + block_rows, n), dtype=np.int64) for s in range(0, n, block_rows)]
    indices = unique(np.asarray(allowed_indices, dtype=np.int64))
    if indices.size and (indices[0] < 0 or indices[-1] >= n):
        raise InputError(f"allowed_indices must lie in [0, {n}) for partition {partition!r}, "
                         f"got range [{indices[0]}, {indices[-1]}]", reader.path)
    return [indices[s:s + block_rows] for s in range(0, indices.size, block_rows)]


def _as_message(rows: np.ndarray) -> np.ndarray | range:
    """A block's rows as sent to its process: a range when contiguous (a few bytes, which the pipe
    takes at once), else the indices (a large block's may wait for the process to read them)."""
    if rows[-1] - rows[0] == rows.size - 1:
        return range(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _read_block(reader: Reader, partition: str, rows: np.ndarray | range, steps) -> np.ndarray:
    """Rows as stored (`Reader.read_stored`), or float32 with the background steps when there are some."""
    if isinstance(rows, range):
        block = reader.read_stored(partition, rows.start, rows.stop)
    else:
        block = reader.read_rows(partition, rows, stored=True)
    return steps.backgrounds(block) if steps is not None else block


def _work(reader, partition, steps, slot_names, item_shape, dtype, tasks, results):
    """A reader process: maps its slots and removes their names, then for each (slot, rows) from the
    `tasks` pipe writes the block into that slot and sends ("ok", slot), or ("error", exception), on
    the `results` pipe. None, or the pipe closing (the parent ended), ends it. Ctrl-C, blocked while
    it started (`_sigint_blocked`), is ignored: one sent meanwhile is dropped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    slots = [shared_memory.SharedMemory(name=name) for name in slot_names]
    for memory in slots:
        memory.unlink()  # mapped here and in the parent: the memory now ends with them
    try:
        while (task := tasks.recv()) is not None:
            slot, rows = task
            try:
                block = _read_block(reader, partition, rows, steps)
                np.ndarray((len(rows), *item_shape), dtype, buffer=slots[slot].buf)[...] = block
                results.send(("ok", slot))
            except Exception as exc:  # noqa: BLE001 - handed to the parent, raised there
                results.send(("error", _picklable(exc)))
    except (EOFError, BrokenPipeError):
        pass  # the parent ended: nobody waits for the blocks
    finally:
        for memory in slots:
            memory.close()
        reader.close()


@contextlib.contextmanager
def _sigint_blocked():
    """Ctrl-C held back in this thread while it starts processes, which inherit the mask; one sent
    meanwhile reaches this process when unblocked (or at once, in another of its threads)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception that cannot cross processes: its words do
        return InputError(f"{type(exc).__name__}: {exc}")


class _ReaderPool:
    """`count` reader processes with `SLOTS` shared-memory blocks each; `run` hands out blocks
    round-robin and yields them in order; a wait for a block gives up after `timeout` seconds."""

    def __init__(self, reader: Reader, partition: str, steps, count: int, block_rows: int, dtype: np.dtype,
                 timeout: float = READER_TIMEOUT):
        self.reader, self.partition, self.dtype, self.timeout = reader, partition, dtype, timeout
        self.item_shape = tuple(reader.info().item_shape)
        nbytes = max(1, block_rows * dtype.itemsize * math.prod(self.item_shape))
        context = multiprocessing.get_context("spawn")  # no fork of a process with torch and HDF5 threads
        self.memory, self.processes, self.tasks, self.results = [], [], [], []
        try:
            for _ in range(count):
                slots = [shared_memory.SharedMemory(create=True, size=nbytes) for _ in range(SLOTS)]
                self.memory.append(slots)
                their_tasks, our_tasks = context.Pipe(duplex=False)  # (receiving end, sending end)
                our_results, their_results = context.Pipe(duplex=False)
                self.tasks.append(our_tasks)
                self.results.append(our_results)
                process = context.Process(target=_work, daemon=True, name="latentcore-reader", args=(
                    reader, partition, steps, [m.name for m in slots], self.item_shape, dtype, their_tasks,
                    their_results))
                with _sigint_blocked():
                    process.start()
                self.processes.append(process)
                their_tasks.close()  # only the process holds its ends now: they close when it ends
                their_results.close()
        except BaseException:
            self.close()
            raise

    def run(self, tasks: list[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        count = len(self.processes)
        for i in range(min(len(tasks), count * SLOTS)):
            self._send(i, tasks)
        for i, rows in enumerate(tasks):
            worker, slot = i % count, (i // count) % SLOTS
            self._wait(worker, i, rows)
            view = np.ndarray((len(rows), *self.item_shape), self.dtype, buffer=self.memory[worker][slot].buf)
            block = view.copy()  # the slot is refilled at once
            del view
            if i + count * SLOTS < len(tasks):
                self._send(i + count * SLOTS, tasks)
            yield block, rows

    def _send(self, i: int, tasks):
        count = len(self.processes)
        try:
            self.tasks[i % count].send(((i // count) % SLOTS, _as_message(tasks[i])))
        except BrokenPipeError:
            pass  # the process ended: the wait for its block says so

    def _wait(self, worker: int, i: int, rows: np.ndarray):
        process, deadline = self.processes[worker], time.monotonic() + self.timeout
        while (message := self._receive(worker)) is None:
            if not process.is_alive():
                raise ReaderDied(f"reader process {worker + 1} of {len(self.processes)} died (exit code "
                                 f"{process.exitcode}) while reading {self._block(i, rows)}; the blocks "
                                 "before it were kept: run the same command again to resume", self.reader.path)
            if time.monotonic() > deadline:
                self._kill(process)
                raise ReaderStalled(f"reader process {worker + 1} of {len(self.processes)} handed nothing back "
                                    f"for {self.timeout:g} s while reading {self._block(i, rows)} and was "
                                    "killed; the blocks before it were kept: run the same command again to "
                                    "resume, with a longer --reader-timeout if the storage is slow",
                                    self.reader.path)
        status, value = message
        if status == "error":
            raise value

    def _receive(self, worker: int) -> tuple | None:
        """The process's next message; None when it sent none for POLL_SECONDS, or ended."""
        results = self.results[worker]
        try:
            return results.recv() if results.poll(POLL_SECONDS) else None
        except EOFError:  # its end of the pipe closed
            self.processes[worker].join(timeout=POLL_SECONDS)  # then its exit code is known
            return None

    def _block(self, i: int, rows: np.ndarray) -> str:
        return f"block {i + 1} (rows {rows[0]}-{rows[-1]} of {self.partition!r})"

    @staticmethod
    def _kill(process):
        """SIGKILL, which also ends a stopped process (SIGTERM would wait for it to be continued)."""
        process.kill()
        process.join(timeout=2)

    def close(self):
        for tasks in self.tasks:
            try:
                tasks.send(None)
            except OSError:  # ended already (a broken pipe)
                pass
        for process in self.processes:
            process.join(timeout=2)
            if process.is_alive():
                process.terminate()  # still reading a block nobody will take
                process.join(timeout=2)
            if process.is_alive():
                self._kill(process)  # stopped or stuck: it would hang the interpreter's exit (joins its children)
        for connection in self.tasks + self.results:
            connection.close()
        for slots in self.memory:
            for memory in slots:
                memory.close()
                with contextlib.suppress(FileNotFoundError):  # its process removed the name (see _work)
                    memory.unlink()
        self.memory, self.processes, self.tasks, self.results = [], [], [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
