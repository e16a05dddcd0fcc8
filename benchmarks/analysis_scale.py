"""Issue 4's analysis benchmark in one command: UMAP at N=200k, D=128 (the fast fit through the worker pool by
stage, its trustworthiness against umap-learn's plain fit on a 50k subset; `umap_scale.py`), then every
clustering method on 1M (latent, band contrast) pairs with time and peak memory (`cluster_scale.py`). Each part
also runs on its own.

    nice python benchmarks/analysis_scale.py [--umap-n 200000] [--cluster-n 1000000]

Goals: those of umap_scale.py and cluster_scale.py. Results: docs/benchmarks.md.
"""
import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--umap-n", type=int, default=200_000)
parser.add_argument("--cluster-n", type=int, default=1_000_000)
args = parser.parse_args()
for script, n in (("umap_scale.py", args.umap_n), ("cluster_scale.py", args.cluster_n)):
    print(f"== {script} --n {n}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), "--n", str(n)], check=True)
