"""Compute for the pages, one module per job: files and latents (`sources`), a scan's maps and references
(`scan_maps`), the embedding (`latent_space`), clustering (`cluster_runs`), ranking (`ranking`), labels
(`labelling`), and the worker pool's door (`dispatch`): every cached read and result, every job for the
pool. `jobs` is the pool, `tasks` the functions it runs: workers import them alone, and they never import
Streamlit. Nothing here draws (what a page shows while a job runs: ui.widgets.waiting)."""
