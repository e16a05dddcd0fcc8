"""The Streamlit side of Latent Explorer: the pages (`app.py`, `pages/`) are thin, made of the pieces
here, in four packages with one rule each. `ui.session` holds what a browser session remembers: it
is the only code that touches Streamlit's session state, and every key is a named constant or
accessor of `ui.session.state` (with the workspace and the uploads beside it). `ui.compute` is how
anything gets computed, one module per job (`sources`, `scan_maps`, `latent_space`, `cluster_runs`,
`ranking`, `labelling`), which every page and widget goes through: they hold every
`st.cache_data`/`st.cache_resource` and hand every job to the worker pool through its door (`dispatch`;
the pool is `jobs`, which takes functions of `tasks` as `concurrent.futures` does; small inputs run
inline through the same door), so engine work never runs in the server by any other road, and they
draw nothing. `ui.figures` builds plotly figures and PNGs from arrays and never imports Streamlit.
`ui.widgets` draws widgets and panels: it reads the session through `ui.session.state`, computes
through `ui.compute`, and draws `ui.figures`. Imports run one way: pages -> widgets -> compute ->
session and figures, and
any of them may use `ui.kept`, the bounded cache the server shares between sessions
(tests/test_layering.py checks all this). Nothing here does science: that is `latentcore`'s job.
"""
