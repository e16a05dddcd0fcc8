"""Streamed, batched, deterministic latent extraction.

source file -> data.parallel.iter_blocks (blocks of whole chunks as stored, e.g. uint8, read in `readers`
processes or in a background thread) -> prepare_batch on the model's device (the one place where inputs
are shaped for a model and become float32; on CUDA after a copy through reusable pinned buffers on a
copy stream) -> model forward under inference_mode (fp32, or bf16 autocast: `precision`; channels-last on
CPU and for bf16) -> pool_latents, brought back once per block -> LatentsWriter (`<stem>_latents.h5.partial`,
renamed when complete, resumable).

`extract_file(source, model, out_dir)` writes one file's latents file; `Extractor` runs a model over
batches or a reader (in memory: `extract_array`); `model_latents_extract` is Nenya's entry point;
`prepare_batch`, `pool_latents` and `resolve_device` are the steps, usable on their own.
The torch work runs on one intra-op thread per batch (`one_intra_op_thread`), with batches in parallel
on CPU: the same bits whatever the thread count (sequential, Dask worker, the app's job).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import itertools
import json
import multiprocessing
import queue
import threading
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .arrays import unique
from .data import open_source
from .data._checks import memory_budget
from .data._hdf5 import h5py_read_only
from .data.base import Reader
from .data.parallel import block_rows_for, check_reader_timeout, default_readers, iter_blocks
from .domain import extraction_attrs
from .errors import CheckpointError, InputError
from .latents import LatentsWriter, incomplete_reason
from .models.base import InputSpec, LoadedModel
from .outputs import latents_path_for, model_tag
from .storage import sha256_path
from .storage.uri import safe_file_name
from .versions import package_versions

POOLING = ("mean", "max", "flatten")
PRECISIONS = ("fp32", "bf16")
# bf16 latents (autocast) against the fp32 CPU latents: max |difference| / std of the fp32 latents
# stays below this (the demo VAE on its scan: 0.026 max, 0.005 root-mean-square; see
# tests/engine/test_extract_feed.py and docs/extraction.md)
BF16_TOLERANCE = 0.05
PRECISION_TOLERANCE = {"fp32": 0.0, "bf16": BF16_TOLERANCE}
Progress = Callable[[int, int, str], None]  # (rows done, rows in total, message)


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available (use --device auto or cpu)")
    if device not in ("cpu", "cuda"):
        raise InputError(f"device must be one of auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def prepare_batch(batch: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Shape a reader's batch (B, C, H, W) or (B, C, T, H, W), float32 or small integers as stored,
    for a model: channels, size, per-item normalisation; float32 out, the same values whichever type
    came in. Every model's input convention lives here and nowhere else."""
    if batch.dtype not in (torch.uint8, torch.int8, torch.int16, torch.float32):
        batch = batch.float()  # e.g. uint16, which torch's reductions do not take
    if spec.crop:
        batch = center_crop(batch, spec.crop)
    channels = batch.shape[1]
    if channels != spec.channels:
        if channels == 1:
            batch = batch.expand(-1, spec.channels, *batch.shape[2:])
        elif spec.channels == 1:
            batch = batch.float().mean(dim=1, keepdim=True)  # RGB into a grey-scale model
        else:
            raise InputError(f"the model takes {spec.channels} channels but the data has {channels}: give data of 1 or "
                             f"{spec.channels} channels")
    if spec.size is not None and tuple(batch.shape[-2:]) != tuple(spec.size):
        lead = batch.shape[:-2]
        batch = F.interpolate(batch.float().reshape(-1, 1, *batch.shape[-2:]), size=tuple(spec.size),
                              mode="bilinear", align_corners=False).reshape(*lead, *spec.size)
    if spec.normalize == "minmax":  # each item to [-1, 1], as the VAE was trained
        # min and max in the stored type (uint8: a quarter of float32's work), then one pass that
        # converts and scales: exact integers in float32, so the same bits as from float32 input
        flat = batch.reshape(len(batch), -1)
        low, high = (bound.float() for bound in torch.aminmax(flat, dim=1, keepdim=True))
        scale = 2 / (high - low).clamp_min(1e-12)
        batch = torch.addcmul(-1 - low * scale, flat, scale).clamp_(-1, 1).reshape(batch.shape)
    elif spec.normalize == "standard":
        flat = batch.float().reshape(len(batch), -1)
        flat = (flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True).clamp_min(1e-12)
        batch = flat.reshape(batch.shape)
    elif spec.normalize != "none":
        raise InputError(f"unknown normalisation {spec.normalize!r}: choose none, minmax or standard")
    return batch.float().contiguous()


def center_crop(batch: torch.Tensor, side: int) -> torch.Tensor:
    height, width = batch.shape[-2:]
    if side > min(height, width):
        raise InputError(f"crop {side} is larger than the {height} x {width} images")
    top, left = (height - side) // 2, (width - side) // 2
    return batch[..., top:top + side, left:left + side]


def pool_latents(latents: torch.Tensor, pool: str = "mean") -> torch.Tensor:
    """(B, C, ...) spatial or spatio-temporal latents -> (B, D): mean or max over the positions, or
    everything flattened. Vectors (B, D) pass through."""
    if pool not in POOLING:
        raise InputError(f"pooling must be one of {POOLING}, got {pool!r}")
    if latents.ndim == 2:
        return latents
    if pool == "flatten":
        return latents.flatten(1)
    positions = latents.flatten(2)
    return positions.mean(-1) if pool == "mean" else positions.amax(-1)


_THREADS_LOCK = threading.Lock()
_THREADS = {"inside": 0, "saved": 1}  # threads inside one_intra_op_thread; the thread count to restore
_IN_ONE_THREAD = threading.local()


@contextlib.contextmanager
def one_intra_op_thread():
    """Torch ops in this block run on this thread alone; the thread count is restored after.

    Why: oneDNN/MKL split a convolution's or matmul's sums by the thread count, so the latents'
    last bits followed it (up to ~1e-6 between 1 and 2 threads), and Dask's nanny starts workers
    with OMP_NUM_THREADS=1 while the app's workers use every core. On one thread a batch
    gives the same bits in every process; `Extractor.iter_latents` recovers the throughput by
    running batches in parallel. torch.set_num_threads sets this thread's count and the process's
    default: the default is restored to the value found when no thread was inside."""
    if getattr(_IN_ONE_THREAD, "on", False):  # nested: the outer block restores
        yield
        return
    with _THREADS_LOCK:
        # get_num_threads first: torch sets a new thread's count to the default on its first call
        # (then 1 set before it would not hold), and the first thread inside finds the count to restore
        threads = torch.get_num_threads()
        if _THREADS["inside"] == 0:
            _THREADS["saved"] = threads
        _THREADS["inside"] += 1
        torch.set_num_threads(1)
    _IN_ONE_THREAD.on = True
    try:
        yield
    finally:
        _IN_ONE_THREAD.on = False
        with _THREADS_LOCK:
            _THREADS["inside"] -= 1
            torch.set_num_threads(_THREADS["saved"])  # a thread still inside keeps its own count of 1


class Extractor:
    """Runs one loaded model over batches: `extract_batch`, `extract_pooled`, `get_latent_shape`
    (the method names of Cosmos's extractor)."""

    def __init__(self, model: LoadedModel, device: str = "auto", pool: str = "mean", batch_size: int = 64,
                 precision: str = "fp32", readers: int | None = None, reader_timeout: float | None = None):
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        if precision not in PRECISIONS:
            raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        pool_latents(torch.zeros(1, 1), pool)  # validates the name early
        self.model, self.pool, self.batch_size, self.precision = model, pool, batch_size, precision
        self.readers = reader_processes(readers)
        self.reader_timeout = check_reader_timeout(reader_timeout)
        self.device = resolve_device(device)
        # 2-D convolutions run fastest on channels-last tensors on CPU (fp32 and bf16) and with bf16 on
        # the GPU (benchmarks/extract_throughput.py); fp32 on the GPU keeps the default layout, also for
        # a module an earlier bf16 run converted, and so do 3-D convolutions (5-D weights), which
        # channels-last cannot hold
        self._channels_last_ok = all(p.dim() <= 4 for p in model.module.parameters())
        self.module = model.module.to(self.device).eval().to(memory_format=self._memory_format)
        # batches at once on CPU, one thread each: as many as the threads torch was given here
        self.parallel = torch.get_num_threads() if self.device.type == "cpu" else 1

    @property
    def _memory_format(self):
        fastest = self._channels_last_ok and (self.precision == "bf16" or self.device.type == "cpu")
        return torch.channels_last if fastest else torch.contiguous_format

    def _prepare(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), one_intra_op_thread():
            return prepare_batch(torch.as_tensor(batch), self.model.input_spec)

    def _forward(self, batch: np.ndarray | torch.Tensor, prepared: bool = False) -> torch.Tensor:
        tensor = batch if prepared else self._prepare(batch)
        if tensor.device != self.device:
            tensor = tensor.to(self.device)
        if tensor.ndim == 4:
            tensor = tensor.contiguous(memory_format=self._memory_format)
        try:
            with torch.inference_mode(), one_intra_op_thread(), torch.autocast(
                    self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                out = self.module(tensor)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # torch's words for a wrong input
            raise CheckpointError(f"the model cannot encode a batch of shape {tuple(tensor.shape)}: give its "
                                  f"input_size and input_channels in --options ({_first_line(exc)})",
                                  self.model.path or self.model.name) from None
        if isinstance(out, (tuple, list)) and out:  # e.g. (mu, logvar): the first output is the latent
            out = out[0]
        if not isinstance(out, torch.Tensor) or out.ndim < 2 or out.shape[0] != tensor.shape[0]:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise CheckpointError(f"the model's output for a batch of {tensor.shape[0]} is {shape}; an encoder must "
                                  "give (batch, features) or (batch, channels, ...): give an encoder",
                                  self.model.path or self.model.name)
        return out.float()

    def extract_batch(self, batch, prepared: bool = False) -> np.ndarray:
        """(B, *item_shape) float32 -> pooled latents (B, D) float32."""
        with one_intra_op_thread():
            return pool_latents(self._forward(batch, prepared), self.pool).cpu().numpy()

    def extract_pooled(self, item) -> np.ndarray:
        """One item (*item_shape) -> its pooled latent (D,)."""
        return self.extract_batch(np.asarray(item, np.float32)[None])[0]

    def get_latent_shape(self, item_shape) -> tuple[int, ...]:
        """The model's raw output shape for one item, before pooling (e.g. (C, T, H, W))."""
        return tuple(self._forward(np.zeros((1, *item_shape), np.float32)).shape[1:])

    def latent_dim(self, item_shape) -> int:
        return int(pool_latents(torch.zeros(1, *self.get_latent_shape(item_shape)), self.pool).shape[1])

    def iter_latents(self, reader: Reader, partition: str, indices=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(latents, row indices) per block of rows. Blocks are read (one contiguous read each) and
        prepared a block ahead in a background thread, then go through the model in slices of
        `batch_size`: few large reads and writes, while the forward keeps its fastest batch size.
        On CPU the slices run `self.parallel` at a time, each on one thread."""
        item_shape = reader.info().item_shape
        block_rows = block_rows_for(reader, partition, self.read_size(item_shape), self.batch_size)
        check_blocks_fit(block_rows, item_shape, self.batch_size, reader.path)
        blocks = iter_blocks(reader, partition, block_rows, self.model.preprocessing,  # as the model was trained
                             indices, self.readers, stored=True,  # converted to float32 in prepare_batch
                             reader_timeout=self.reader_timeout)
        if self.device.type == "cuda":
            ahead, encode = prefetch(blocks), self._iter_on_gpu
        else:  # prepared in the reading thread too
            ahead, encode = prefetch((self._prepare(block), rows) for block, rows in blocks), self._encode_blocks
        # the reading thread stops as soon as this ends (an error, Ctrl-C), not once a traceback lets go of
        # a frame: a daemon thread still inside h5py at exit can hold its lock and hang the shutdown
        with contextlib.closing(ahead):
            yield from encode(ahead)

    def _encode_blocks(self, prepared) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(latents, rows) of prepared (block, rows), block by block: a block's slices of `batch_size`
        run `self.parallel` at a time, each on one thread. (Queuing the next block's slices before
        handing a block back gained 2 %, within the noise, and left a cancel less time to land.)"""
        for block, rows in prepared:
            slices = [block[i:i + self.batch_size] for i in range(0, len(block), self.batch_size)]
            yield np.concatenate(self._extract_slices(slices)), rows

    def _extract_slices(self, slices: list[torch.Tensor]) -> list[np.ndarray]:
        workers = min(self.parallel, len(slices))
        if workers <= 1:
            return [self.extract_batch(s, prepared=True) for s in slices]
        pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="latentcore-batch")
        try:
            return list(pool.map(lambda s: self.extract_batch(s, prepared=True), slices))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # an error or Ctrl-C: the batches running finish

    def _iter_on_gpu(self, blocks) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Blocks copied into two reusable pinned buffers, sent to the GPU on a copy stream one block
        ahead (the copy of block k+1 overlaps the compute of block k), prepared there (the same
        `prepare_batch` as on CPU), encoded in slices of `batch_size`, and brought back once per block."""
        copy_stream, compute = torch.cuda.Stream(self.device), torch.cuda.current_stream(self.device)
        buffers: list[torch.Tensor | None] = [None, None]
        ahead = None
        for k, (block, rows) in enumerate(itertools.chain(blocks, [(None, None)])):
            sent = None
            if block is not None:
                block = torch.from_numpy(block)  # as stored (uint8: a quarter of float32's bytes to copy)
                host = buffers[k % 2] = pinned_buffer(buffers[k % 2], block.shape, block.dtype)
                host.copy_(block)  # this buffer's last copy ended with block k-2's compute
                with torch.cuda.stream(copy_stream):
                    sent = host.to(self.device, non_blocking=True)
                sent.record_stream(compute)
            if ahead is not None:
                yield self._encode_on_gpu(*ahead, copy_stream), ahead[1]
            ahead = None if sent is None else (sent, rows)

    def _encode_on_gpu(self, sent: torch.Tensor, rows, copy_stream) -> np.ndarray:
        torch.cuda.current_stream(self.device).wait_stream(copy_stream)
        with torch.inference_mode():
            block = prepare_batch(sent, self.model.input_spec)
            latents = [pool_latents(self._forward(block[i:i + self.batch_size], prepared=True), self.pool)
                       for i in range(0, len(block), self.batch_size)]
            return torch.cat(latents).cpu().numpy()  # one copy back per block; it waits for the compute

    def read_size(self, item_shape, block_bytes: int = 16 << 20) -> int:
        """Rows per read: a multiple of batch_size near `block_bytes` of float32 items."""
        per_item = 4 * int(np.prod(item_shape))
        return self.batch_size * max(1, block_bytes // (per_item * self.batch_size))


def pinned_buffer(buffer: torch.Tensor | None, shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A page-locked host tensor of `shape` and `dtype`, on `buffer`'s memory when it is large enough
    (pinning is slow: every block pinned afresh cost more than its copy)."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if buffer is None or buffer.untyped_storage().nbytes() < nbytes:
        buffer = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
    return torch.empty(0, dtype=dtype).set_(buffer.untyped_storage(), 0, tuple(shape))


def reader_processes(readers: int | None) -> int:
    """The reader processes to use: `readers`, or `default_readers()` when None; one inside a daemonic
    process (a Dask worker), which may not start processes of its own."""
    if readers is not None and readers < 1:
        raise InputError(f"readers must be at least 1, got {readers}")
    if multiprocessing.current_process().daemon:
        return 1
    return default_readers() if readers is None else int(readers)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def prefetch(iterator: Iterator, depth: int = 2, join_timeout: float = 10.0) -> Iterator:
    """Run `iterator` in a background thread, `depth` items ahead, so that file reads overlap the
    forward pass (torch releases the GIL). Exceptions are re-raised in the consumer.

    Every hand-over waits with a timeout and gives up once the consumer has stopped (an error, a
    full disk, Ctrl-C), so the thread never blocks forever on a queue nobody reads."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in iterator:
                if not hand_over(item):
                    return
            hand_over(done)
        except BaseException as exc:  # handed over to the consumer
            hand_over(exc)

    thread = threading.Thread(target=produce, daemon=True, name="latentcore-prefetch")
    thread.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(join_timeout)  # a read stuck in the kernel must not hold the error back for ever


@dataclasses.dataclass
class ExtractResult:
    path: Path
    skipped: bool  # the latents file existed and clobber was off
    rows: dict[str, int]  # partition -> rows in the file


def default_partitions(reader: Reader) -> list[str]:
    """Cutout files: every one of `valid`, `train` present; anything else: its single partition."""
    names = reader.partitions
    return [p for p in ("valid", "train") if p in names] or names[:1]


BLOCKS_HELD = 3  # blocks in memory at once: one read, one prepared ahead, one encoding


def check_blocks_fit(block_rows: int, item_shape, batch_size: int, path) -> None:
    """Items so large that the blocks held at once (of a batch at least) would not fit in the memory budget are
    refused before any is read, saying what would fit."""
    need = BLOCKS_HELD * block_rows * 4 * int(np.prod(item_shape))
    if need > memory_budget():
        raise InputError(f"items of {tuple(item_shape)} values take {need / 1e9:.1f} GB in {BLOCKS_HELD} blocks of "
                         f"{block_rows} (a batch of {batch_size} at least), more than the {memory_budget() / 1e9:.1f} "
                         "GB a run may hold (half this machine's memory): give a smaller batch size, or downscale "
                         "the items", path)


def extract_file(source, model: LoadedModel, out_dir=None, *, pool: str = "mean", batch_size: int = 64,
                 device: str = "auto", partitions=None, allowed_indices=None, clobber: bool = False,
                 progress: Progress | None = None, out_path=None, precision: str = "fp32",
                 readers: int | None = None, reader_timeout: float | None = None,
                 source_object: dict | None = None) -> ExtractResult:
    """Extract the latents of one file into `<stem>__<model>_latents.h5` (named by `outputs.latents_path_for`;
    layout: latentcore.latents).

    Skipped when the output exists and is complete for this very job (same source, model, pooling
    and rows: the fingerprint) unless `clobber`; any other existing file is refused, never taken
    for done. Written under `.partial`, locked against a second writer for the whole run, renamed
    when complete; after an interruption the same call resumes from the rows already written, and
    a run that fails before its first row leaves no `.partial` behind.

    Parameters
    ----------
    source : str or path-like
        A data file or folder, or an `s3://` URI (see `open_source`).
    model : LoadedModel
        The encoder, from `load_model`.
    out_dir : str or path-like, default=None
        The folder of the output; None writes beside the source (the current folder for an S3
        source). Ignored when `out_path` is given.
    pool : {"mean", "max", "flatten"}, default="mean"
        How spatial outputs become one vector per item.
    batch_size : int, default=64
        Items per forward pass.
    device : {"auto", "cpu", "cuda"}, default="auto"
        "auto" uses a CUDA GPU when there is one.
    partitions : list of str, default=None
        The partitions to extract; None takes `valid` and `train` of a cutout file, else the
        file's single partition.
    allowed_indices : array-like of int, default=None
        Extract only these rows of each partition (source order is kept), recorded as `<partition>_indices`: a
        row names its item through them (`latents.source_items`).
    clobber : bool, default=False
        Overwrite an existing output instead of skipping or refusing it.
    progress : callable, default=None
        Called as `progress(rows_done, rows_total, message)` while rows are written.
    out_path : str or path-like, default=None
        The output file itself, instead of `<stem>__<model>_latents.h5` in `out_dir`.
    precision : {"fp32", "bf16"}, default="fp32"
        The forward's numbers: "bf16" runs it under bf16 autocast (channels-last, as fp32 is on CPU),
        within `BF16_TOLERANCE` of the fp32 latents; recorded in the file's attributes.
    readers : int, default=None
        Processes reading and decompressing the source (`data.parallel`); None: one per core but
        one on machines of more than 2 cores, else the reader in this process. The latents are the
        same whatever the number.
    reader_timeout : float, default=None
        Seconds a reader process may hand back nothing (stopped, a hung disk) before the run ends with
        `data.parallel.ReaderStalled`, keeping the `.partial`; None: 300 (`data.parallel.READER_TIMEOUT`).
        Unused with the reader in this process.

    Returns
    -------
    result : ExtractResult
        The output `path`, whether it was `skipped` (already complete), and the `rows` of each
        partition.

    Raises
    ------
    InputError
        The source cannot be read, already holds latents or does not fit the model (channels,
        crop), `pool`, `device`, `batch_size` or `allowed_indices` are invalid, or an existing
        output is not this job's complete result, or a reader process died or stalled.
    OutputError
        The output cannot be written (no space, no permission, read-only), or another run is
        writing it now.
    """
    out = Path(out_path) if out_path else latents_path_for(source, out_dir, model=model_tag(model.recorded_name,
                                                                                          model.sha256))
    with open_source(source) as reader:
        info = reader.info()
        if info.is_features:
            raise InputError("this file already holds features or latents: explore it directly, "
                             "there is nothing to extract", source)
        parts = list(partitions or default_partitions(reader))
        rows = {p: _selected_rows(reader, p, allowed_indices) for p in parts}
        counts = {p: len(r) for p, r in rows.items()}
        extractor = Extractor(model, device, pool, batch_size, precision, readers, reader_timeout)
        dim = extractor.latent_dim(info.item_shape)
        source_sha = sha256_path(reader.path)
        fingerprint = {"source_sha256": source_sha, "model_sha256": model.sha256, "pool": pool,
                       "preprocessing": model.preprocessing,
                       "partitions": parts, "rows": {p: _digest(r) for p, r in rows.items()}, "dim": dim}
        if precision != "fp32":  # fp32 files written before precision existed keep their fingerprint
            fingerprint["precision"] = precision
        if not clobber and _finished(out, counts, fingerprint):
            return ExtractResult(out, True, counts)
        writer = LatentsWriter(out, {p: (n, dim) for p, n in counts.items()}, fingerprint)
        try:
            if not clobber and _finished(out, counts, fingerprint):  # another run finished it meanwhile
                if writer.wrote_nothing():
                    writer.discard()
                return ExtractResult(out, True, counts)
            # read (and so check) x/y and metadata before any row: a source whose context fails its
            # check after rows were written would leave a .partial that no rerun could complete
            context = _context(reader, rows, allowed_indices is not None)
            _write_partitions(extractor, reader, writer, rows, progress)
            _write_context(writer, context)
            writer.write_point_maps(reader.point_maps(), rows)  # vendor maps (band contrast) travel along
            writer.write_orientations(reader.orientations(), rows)  # so do Euler angles and phases
            attrs = {"model": model.name, "model_name": model.recorded_name, "model_arch": model.arch,
                     "model_sha256": model.sha256, "model_trained_on": list(model.trained_on),
                     "model_options": model.options, "source": Path(source).name,
                     "source_sha256": source_sha, "source_format": info.format, "pooling": pool,
                     "device": str(extractor.device), "batch_size": batch_size, "latent_dim": dim,
                     "precision": precision, "precision_tolerance": PRECISION_TOLERANCE[precision],
                     "input_spec": dataclasses.asdict(model.input_spec), "versions": package_versions(),
                     "source_warnings": info.extra.get("warnings", []),  # e.g. coordinates that did not fit
                     **({"source_object": source_object} if source_object else {}),  # `extracted_object` reads it
                     **extraction_attrs(info, model)}  # units, step, the resize, data and model domain
            writer.finish(attrs)
        except BaseException:
            if writer.wrote_nothing():
                writer.discard()  # nothing worth resuming: leave no .partial behind
            raise
        finally:
            writer.close()
    return ExtractResult(out, False, counts)


def object_record(obj) -> dict:
    """What the latents of an S3 object (`storage.s3.S3Object`) record of it, `extract_file`'s `source_object`: the
    URI, size and ETag that tell its bytes apart without reading them."""
    return {"uri": obj.uri, "size": int(obj.size), "etag": obj.etag}


def extracted_object(obj, model: LoadedModel, out_dir, pool: str) -> ExtractResult | None:
    """The finished latents in `out_dir` of this very S3 object (`object_record`: its URI, size and ETag unchanged)
    by this model, its preprocessing and `pool` (its default partitions, in fp32), found without downloading the
    object again; None when there are none."""
    out = latents_path_for(safe_file_name(obj.key), out_dir, model=model_tag(model.recorded_name, model.sha256))
    if not out.is_file() or incomplete_reason(out) is not None:
        return None
    with h5py_read_only(out) as f:
        recorded, stored = f.attrs.get("source_object"), json.loads(f.attrs.get("fingerprint", "{}"))
        counts = {name: f[name].shape[0] for name in stored.get("partitions", ())}
    wanted = json.loads(json.dumps({"model_sha256": model.sha256, "pool": pool, "preprocessing": model.preprocessing},
                                   default=str))
    if (recorded is None or json.loads(recorded) != object_record(obj) or "precision" in stored
            or any(stored.get(key) != value for key, value in wanted.items())):
        return None
    return ExtractResult(out, True, counts)


def _finished(out: Path, counts: dict, fingerprint: dict) -> bool:
    """True when `out` is this job's complete result; an existing file that is not is refused."""
    if not out.exists():
        return False
    reason = incomplete_reason(out, counts, fingerprint)
    if reason:
        raise InputError(f"exists but {reason}: not overwritten (use --clobber to replace it)", out)
    return True


def _selected_rows(reader: Reader, partition: str, allowed_indices) -> np.ndarray:
    n = reader.count(partition)
    if allowed_indices is None:
        return np.arange(n, dtype=np.int64)
    chosen = unique(np.asarray(allowed_indices, dtype=np.int64))
    if chosen.size and (chosen[0] < 0 or chosen[-1] >= n):
        raise InputError(f"allowed_indices must lie in [0, {n}) for partition {partition!r}", reader.path)
    return chosen


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha256(rows.tobytes()).hexdigest()[:16]


def _write_partitions(extractor, reader, writer, rows, progress):
    total = sum(len(r) for r in rows.values())
    done = sum(writer.rows_done(p) for p in rows)
    if progress and done:  # a resumed run starts where the last one stopped (maybe at its end)
        progress(done, total, f"{reader.path.name}: {done:,} rows already written")
    for partition, chosen in rows.items():
        start = writer.rows_done(partition)
        if start == len(chosen):
            continue
        whole = start == 0 and len(chosen) == reader.count(partition)
        for latents, _ in extractor.iter_latents(reader, partition, None if whole else chosen[start:]):
            writer.write_rows(partition, start, latents)
            start += len(latents)
            done += len(latents)
            if progress:
                progress(done, total, f"{reader.path.name} [{partition}]")


def _context(reader, rows, restricted: bool) -> dict:
    """What goes beside the latents, read before them: the metadata table of cutouts, the source row
    indices if restricted, x, y and the grid of scans. {name: array or table}."""
    context = {}
    for partition, chosen in rows.items():
        if restricted:
            context[f"{partition}_indices"] = chosen
        table = reader.metadata(partition)
        if table is not None:
            context[f"{partition}_metadata"] = table.iloc[chosen].reset_index(drop=True)
    coords = reader.coordinates(next(iter(rows)))
    if coords is not None and len(rows) == 1:
        chosen = next(iter(rows.values()))
        context["x"] = np.asarray(coords[0], np.float64)[chosen]
        context["y"] = np.asarray(coords[1], np.float64)[chosen]
        grid = reader.info().grid_shape
        if grid is not None:
            context["grid_shape"] = np.asarray(grid, np.int64)
    return context


def _write_context(writer, context: dict):
    for name, value in context.items():
        if name.endswith("_metadata"):
            writer.write_metadata(name.removesuffix("_metadata"), value)
        else:
            writer.write_array(name, value)


def extract_array(extractor: Extractor, reader: Reader, partition: str, allowed_indices=None) -> np.ndarray:
    """All latents of one partition in memory, (N, D) float32, rows in source order."""
    chunks = [latents for latents, _ in extractor.iter_latents(reader, partition, allowed_indices)]
    return np.concatenate(chunks) if chunks else np.empty((0, 0), np.float32)


def model_latents_extract(opt, data_file, model_path, remove_module: bool = True,
                          partitions=("train", "valid"), allowed_indices=None, device: str = "auto",
                          pool: str = "mean") -> dict[str, np.ndarray]:
    """Nenya's entry point: `{partition: latents (N, feat_dim)}` for a preprocessed file.
    `opt` is an options dict, a path to Nenya's options JSON, or None to use the checkpoint's own."""
    from .models import load_model

    model = load_model(model_path, options=opt, remove_module=remove_module)
    batch_size = int(model.options.get("batch_size_valid", 64) or 64)
    extractor = Extractor(model, device=device, pool=pool, batch_size=batch_size)
    with open_source(data_file) as reader:
        return {p: extract_array(extractor, reader, p, allowed_indices)
                for p in partitions if p in reader.partitions}
