#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one script for a lent GPU machine with torch, h5py, numpy, pandas,
# scikit-learn and pytest installed but not the rest of requirements.txt (no umap-learn, orix or streamlit):
# the CUDA tests of the engine, then training and extraction throughput on the GPU.
#
#     OUT=/some/folder bash benchmarks/on_gpu.sh [tests] [train] [extract]   # logs and JSON land in $OUT
#
# With no argument, all three.
#
# Results: docs/benchmarks.md.
set -u
OUT=${OUT:-/tmp/on-gpu}
parts=" ${*:-tests train extract} "
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=.:tests:benchmarks
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
nvidia-smi -L

# The suite's start compiles a numba cache with umap-learn and orix (tests/numba_cache.py); the CUDA tests
# need neither, so the cache is marked compiled (the folder as tests/conftest.py names it).
python3 -c '
import os, sys
from pathlib import Path
import numba_cache
home = (Path(sys.prefix) if os.access(sys.prefix, os.W_OK) else Path.home() / ".cache") / "numba-cache"
(home / "latent-explorer-tests-main").mkdir(parents=True, exist_ok=True)
(home / "latent-explorer-tests-main" / numba_cache.MARKER).write_text(numba_cache.version())'

has() { [[ $parts == *" $1 "* ]]; }

has tests && timeout 120 python3 -m pytest -o addopts="" -p no:cacheprovider -q -ra -k "cuda or gpu" \
    tests/engine/test_extract_feed.py tests/engine/test_train.py tests/engine/test_extract.py 2>&1 | tee "$OUT/tests.log"

has train && timeout 60 python3 benchmarks/train_speed.py --device cuda --epochs 4 2>&1 | tee "$OUT/train_speed.log"
has train && timeout 60 python3 benchmarks/train_speed.py --device cuda --epochs 4 --input-size 48 \
    --channels 32,64,128 --batch-size 256 2>&1 | tee -a "$OUT/train_speed.log"

has extract && timeout 300 python3 benchmarks/extract_throughput.py --device cuda \
    --million-items "${MILLION_ITEMS:-200000}" --pairs 2 --seconds 1 --json "$OUT/extract_throughput.json" 2>&1 \
    | tee "$OUT/extract_throughput.log"
