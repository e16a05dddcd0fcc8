"""Downloadable, reproducible results (see docs/architecture.md and docs/outputs.md). Each analysis the command
line and the pages share has one shape: a frozen, hashable job (everything that decides the result, what its
report records), its run (the job in, arrays out), the names of its files (one function), and its report
(JSON, written beside the files): the command and the page make the same call.

- `common`: what every report shares (inputs by name and SHA-256, versions, the atomic writers);
- `cluster`: `ClusterJob`, the rows it clusters, its files and report; `cluster_run`: `run_cluster`, one clustering
  of every row of a file or a study (each source's cluster fractions), in this process or as Dask tasks, a source
  each; `fractions`: each source's share of each cluster or label; `rerun`: a cluster report's job again;
- `latent_maps`: `MapsJob`, `run_maps_job`;
- `mean_pattern`: `MeanPatternJob`, `run_mean_pattern_job`.
"""
