"""Extraction throughput: is the model fed as fast as it can encode? Ratios measured in one run.

For each model, on an input the benchmark writes (the conv VAE on a 60 x 60 h5ebsd scan, gzip, tiled
from the demo scan; Nenya's ResNet-18 on 1 x 64 x 64 float32 cutouts, contiguous):
  forward[fmt]   the model's forward alone as the pipeline runs it (Extractor; on CPU batches in parallel,
                 one thread each), items/s, best over batch sizes, on prepared items already on the device,
                 for each numeric format and memory layout tried (fp32, fp32 channels-last, bf16 autocast,
                 bf16 channels-last), with bf16's max |bf16 - fp32| / std(fp32) beside it;
  read[1]        the in-process reader alone (read + decompress + float32, the pipeline's blocks);
  read[all]      the reader processes on every core (latentcore.data.parallel), start-up included (and
                 after the first block, in the JSON);
  pipeline       extract_file (read, prepare on the device, forward, write) with its default readers,
                 at the precision of the best forward format within the stated tolerance: the median of
                 --pairs runs, each right after a run of that best forward (these machines drift);
  ratio          the median over the pairs of pipeline / min(best forward, read[all]) (goal >= 0.85);
  1M wall        extract_file's wall time on an input of --million-items items (default 1,000,000);
  vs main        (--baseline REPO) the pipeline of another checkout (main) and of this one, each in a
                 fresh process on the same file, alternated: new / old (goal: no slower, >= 1).
A table and the JSON are printed. Where the GPU is not the limit the page cache holds the input
(it was just written), as on a second pass over a file.

    python benchmarks/extract_throughput.py [--patterns 24000] [--cutouts 20000] [--device cpu|cuda]
        [--million-items 1000000] [--models vae,nenya_resnet18] [--formats "fp32,fp32 channels-last,..."]
        [--pairs 3] [--baseline /path/to/main] [--repeats 2] [--json out.json]

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from latentcore.data import open_source  # noqa: E402
from latentcore.data.parallel import block_rows_for, iter_blocks  # noqa: E402
from latentcore.demo import DEMO_SCAN  # noqa: E402
from latentcore.extract import BF16_TOLERANCE, Extractor, extract_file, prepare_batch  # noqa: E402
from latentcore.models.base import LoadedModel  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from extract_models import MODELS  # noqa: E402

CHUNK = 64  # patterns per gzip chunk of the scan
FORMATS = {"fp32": ("fp32", False), "fp32 channels-last": ("fp32", True),  # (precision, channels-last)
           "bf16": ("bf16", False), "bf16 channels-last": ("bf16", True)}

# -- inputs -------------------------------------------------------------------------------------------

def write_scan(path: Path, n: int):
    """An h5ebsd scan of n 60 x 60 uint8 patterns, gzip chunks of 64, tiled from the demo scan: the
    distinct chunks are compressed once and written as they are (a 1M-pattern scan in seconds)."""
    with h5py.File(DEMO_SCAN) as f:
        base = f["Scan 1/EBSD/Data/patterns"][()]
    tile = np.resize(base, (len(base) * CHUNK // np.gcd(len(base), CHUNK), *base.shape[1:]))  # whole chunks
    chunks = [zlib.compress(tile[i:i + CHUNK].tobytes(), 4) for i in range(0, len(tile), CHUNK)]
    cols = max(c for c in range(1, 1001) if n % c == 0)  # a whole grid: n_rows x cols
    with h5py.File(path, "w") as f:
        f["manufacturer"] = np.array([b"kikuchipy"])
        data = f.create_dataset("Scan 1/EBSD/Data/patterns", (n, 60, 60), np.uint8, chunks=(CHUNK, 60, 60),
                                compression="gzip", compression_opts=4)
        for k, start in enumerate(range(0, n, CHUNK)):
            if start + CHUNK <= n:
                data.id.write_direct_chunk((start, 0, 0), chunks[k % len(chunks)])
            else:  # a last partial chunk goes through the filter
                data[start:] = tile[(k % len(chunks)) * CHUNK:][:n - start]
        header = f.create_group("Scan 1/EBSD/Header")
        for key, value in {"n_rows": n // cols, "n_columns": cols, "step_x": 1.0, "step_y": 1.0,
                           "pattern_height": 60, "pattern_width": 60}.items():
            header[key] = np.array([value])
    return path


def write_cutouts(path: Path, n: int, block: int = 8192):
    """Nenya cutouts: `valid` (n, 1, 64, 64) float32, contiguous, tiled from `block` random ones."""
    tile = np.random.default_rng(0).normal(size=(min(block, n), 1, 64, 64)).astype(np.float32)
    with h5py.File(path, "w") as f:
        data = f.create_dataset("valid", (n, 1, 64, 64), np.float32)
        for start in range(0, n, len(tile)):
            data[start:start + len(tile)] = tile[:n - start]
    return path


# -- measurements -------------------------------------------------------------------------------------

class _Formatted(Extractor):
    """The extractor with a memory layout of the benchmark's choice (it picks channels-last for bf16)."""

    layout = torch.contiguous_format

    @property
    def _memory_format(self):
        return self.layout


def forward_ceilings(model: LoadedModel, prepared: torch.Tensor, device: str, batches, seconds: float,
                     formats=tuple(FORMATS)) -> dict:
    """{format: (items/s, best batch)} of the forward as the pipeline runs it (`Extractor`: on CPU,
    batches in parallel on one thread each), on prepared items already on the device, cycling through
    distinct items (one batch re-run from the cache would overstate any pass over a file)."""
    return {name: max((forward_rate(model, prepared, device, name, batch_size, seconds), batch_size)
                      for batch_size in batches if batch_size <= len(prepared)) for name in formats}


def forward_rate(model: LoadedModel, prepared: torch.Tensor, device: str, fmt: str, batch_size: int,
                 seconds: float) -> float:
    """items/s of the forward in one format (FORMATS) and batch size, for `seconds`, on `prepared` items."""
    precision, channels_last = FORMATS[fmt]
    extractor = _Formatted(model, device, batch_size=batch_size, precision=precision, readers=1)
    extractor.layout = torch.channels_last if channels_last else torch.contiguous_format
    extractor.module.to(memory_format=extractor.layout)
    slices = list(prepared.split(batch_size)[:len(prepared) // batch_size])
    extractor._extract_slices(slices[:1])  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += sum(len(latents) for latents in extractor._extract_slices(slices))
    rate = done / (time.perf_counter() - start)
    model.module.to(memory_format=torch.contiguous_format)
    return rate


def bf16_deviation(model: LoadedModel, items: np.ndarray, device: str) -> float:
    """max |bf16 - fp32 CPU| / std(fp32 CPU) of the pooled latents of `items`."""
    fp32 = Extractor(model, "cpu", batch_size=64).extract_batch(items)
    bf16 = Extractor(model, device, batch_size=64, precision="bf16").extract_batch(items)
    return float(np.abs(bf16 - fp32).max() / fp32.std())


def read_ceiling(path: Path, readers: int, block_rows: int) -> tuple[float, float]:
    """items/s of reading the whole file in the pipeline's blocks with `readers` processes (1: this
    one): (start-up included, after the first block)."""
    start, done, first = time.perf_counter(), 0, None
    with open_source(path) as reader:
        partition = reader.partitions[0]
        rows = block_rows_for(reader, partition, block_rows)
        for block, _ in iter_blocks(reader, partition, rows, None, None, readers):
            if first is None:
                first = (time.perf_counter(), len(block))
            done += len(block)
    end = time.perf_counter()
    return done / (end - start), (done - first[1]) / max(end - first[0], 1e-9)


def pipeline(model, path: Path, out: Path, batch_size: int, device: str, precision: str, readers=None) -> float:
    start = time.perf_counter()
    result = extract_file(path, model, out_path=out, batch_size=batch_size, device=device, clobber=True,
                          precision=precision, readers=readers)
    return sum(result.rows.values()) / (time.perf_counter() - start)


CHILD = """
import sys, time
sys.path[:0] = [{repo!r}, {bench!r}]
from extract_models import MODELS
from latentcore.extract import extract_file
if __name__ == "__main__":
    model = MODELS[{model!r}]()
    start = time.perf_counter()
    result = extract_file({path!r}, model, out_path={out!r}, batch_size={batch}, device={device!r}, clobber=True)
    print(sum(result.rows.values()) / (time.perf_counter() - start))
"""


def checkout_pipeline(repo: Path, model: str, path: Path, out: Path, batch_size: int, device: str) -> float:
    """items/s of extract_file from the checkout `repo` (its defaults), in a fresh process."""
    code = CHILD.format(repo=str(repo), bench=str(REPO / "benchmarks"), model=model, path=str(path),
                        out=str(out), batch=batch_size, device=device)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(repo),
                         check=False)
    if run.returncode:
        raise RuntimeError(f"{repo}: {run.stderr.strip().splitlines()[-1]}")
    return float(run.stdout.split()[-1])


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- one model ----------------------------------------------------------------------------------------

def measure(name: str, model: LoadedModel, path: Path, million: Path, tmp: Path, args, cores: int) -> dict:
    cuda = args.device == "cuda"
    batches = (256, 512, 1024, 2048) if cuda else ((16, 64) if name == "nenya_resnet18" else (64, 256))
    with open_source(path) as reader:
        items = reader.read(reader.partitions[0], 0, min(args.forward_items, reader.count(reader.partitions[0])))
    prepared = prepare_batch(torch.from_numpy(items).to(args.device), model.input_spec)  # once, for every forward
    forward = forward_ceilings(model, prepared, args.device, batches, args.seconds, args.formats.split(","))
    tried_bf16 = any(f.startswith("bf16") for f in forward)
    deviation = bf16_deviation(model, items[:256], args.device) if tried_bf16 else None
    allowed = [f for f in forward if f.startswith("fp32") or deviation <= BF16_TOLERANCE]
    best_format = max(allowed, key=lambda f: forward[f][0])
    batch_size = forward[best_format][1]
    precision = best_format.split()[0]
    block_rows = Extractor(model, "cpu", batch_size=batch_size).read_size(items.shape[1:])
    read_one, _ = read_ceiling(path, 1, block_rows)
    read_all, read_all_steady = read_ceiling(path, cores, block_rows)
    forwards, piped = [], []
    for _ in range(args.pairs):  # alternated, so that the machine's drift moves both
        forwards.append(forward_rate(model, prepared, args.device, best_format, batch_size, args.seconds))
        piped.append(pipeline(model, path, tmp / f"{name}_latents.h5", batch_size, args.device, precision))
    ratios = [p / min(f, read_all) for p, f in zip(piped, forwards)]
    result = {"items": int(h5py.File(path)["valid" if "nenya" in name else "Scan 1/EBSD/Data/patterns"].shape[0]),
              "forward_items_s": {f: {"items_s": v[0], "batch": v[1]} for f, v in forward.items()},
              "bf16_max_abs_over_std": deviation, "best_forward": best_format, "batch_size": batch_size,
              "read_single_items_s": read_one, "read_all_cores_items_s": read_all, "readers_all_cores": cores,
              "read_all_cores_after_first_block_items_s": read_all_steady,
              "paired_forward_items_s": forwards, "paired_pipeline_items_s": piped,
              "pipeline_items_s": float(np.median(piped)), "pipeline_precision": precision,
              "paired_ratios": ratios, "pipeline_over_min_forward_read_all": float(np.median(ratios)),
              "read_all_over_single": read_all / read_one, "load": load()}
    start = time.perf_counter()
    extract_file(million, model, out_path=tmp / f"{name}_million_latents.h5", batch_size=batch_size,
                 device=args.device, clobber=True, precision=precision)
    result["million"] = {"items": args.million_items, "wall_s": time.perf_counter() - start}
    if args.baseline:  # fp32, the checkouts' own defaults; alternated, best of each
        old, new = [], []
        for _ in range(args.repeats):
            old.append(checkout_pipeline(Path(args.baseline), name, path, tmp / "old.h5", batch_size, args.device))
            new.append(checkout_pipeline(REPO, name, path, tmp / "new.h5", batch_size, args.device))
        result["vs_baseline"] = {"baseline": str(args.baseline), "old_items_s": old, "new_items_s": new,
                                 "new_over_old": max(new) / max(old)}
    return result


def table(results: dict) -> str:
    lines = [f"cores {results['cores']}, device {results['device']} ({results['device_name']})",
             f"{'model':<16}{'format':<22}{'forward/s':>12}{'batch':>7}"]
    for name, case in results["models"].items():
        for fmt, value in case["forward_items_s"].items():
            lines.append(f"{name:<16}{fmt:<22}{value['items_s']:>12,.0f}{value['batch']:>7}")
    lines.append(f"{'model':<16}{'items':>9}{'read 1':>10}{'read all':>10}{'pipeline':>10}{'ratio':>7}"
                 f"{'1M wall s':>11}{'new/old':>9}  best forward (bf16 dev / std)")
    for name, case in results["models"].items():
        vs, dev = case.get("vs_baseline", {}).get("new_over_old"), case["bf16_max_abs_over_std"]
        lines.append(f"{name:<16}{case['items']:>9,}{case['read_single_items_s']:>10,.0f}"
                     f"{case['read_all_cores_items_s']:>10,.0f}{case['pipeline_items_s']:>10,.0f}"
                     f"{case['pipeline_over_min_forward_read_all']:>7.2f}{case['million']['wall_s']:>11.1f}"
                     f"{'-' if vs is None else f'{vs:.2f}':>9}  {case['best_forward']} "
                     f"({'-' if dev is None else f'{dev:.3f}'}); 1M wall for {case['million']['items']:,} items")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patterns", type=int, default=24000, help="scan patterns for the VAE's ratios")
    parser.add_argument("--cutouts", type=int, default=20000, help="cutouts for the ResNet-18's ratios")
    parser.add_argument("--million-items", type=int, default=1_000_000, help="items of the end-to-end input")
    parser.add_argument("--forward-items", type=int, default=8192, help="distinct items cycled by the forward")
    parser.add_argument("--seconds", type=float, default=2.0, help="per forward measurement")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--models", default="vae,nenya_resnet18")
    parser.add_argument("--baseline", help="another checkout (e.g. main) whose pipeline is timed beside this one")
    parser.add_argument("--repeats", type=int, default=2, help="alternations of the baseline comparison")
    parser.add_argument("--pairs", type=int, default=3, help="alternations of the best forward and the pipeline")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help="forward formats to try (bf16 is emulated, and slow, on a CPU without bf16 instructions)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if unknown := set(args.formats.split(",")) - set(FORMATS):
        parser.error(f"unknown formats {sorted(unknown)}; known: {', '.join(FORMATS)}")
    cores = len(os.sched_getaffinity(0))
    results = {"cores": cores, "device": args.device, "torch_threads": torch.get_num_threads(),
               "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "CPU",
               "load_before": load(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = {"vae": (write_scan, args.patterns, "scan.h5"),
                  "nenya_resnet18": (write_cutouts, args.cutouts, "cutouts_preproc.h5")}
        for name in args.models.split(","):
            writer, n, file_name = inputs[name]
            model = MODELS[name]()
            path = writer(tmp / file_name, n)
            million = writer(tmp / f"million_{file_name}", args.million_items)
            results["models"][name] = measure(name, model, path, million, tmp, args, cores)
            million.unlink()
    results["load_after"] = load()
    print(json.dumps(results, indent=2))
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
