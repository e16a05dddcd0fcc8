"""What a browser session holds, one module a job: `store` (every session-state key, and the only module that
touches `st.session_state`), `lifecycle` (the workspace opened at the start of every run and saved at its end),
`defaults` (widgets' values, and the default a saved widget is drawn with), `state` (what the pages hand each other:
the data, latents, selection, labels, the shared ROI and quality filter, the jobs started), `visitor` (who is signed
in and what they may do; sharing), `workspace` (the folder the URL names, saved and restored), `settings` (the pages'
records: the widget keys each saves there), `access` (who may open a workspace: its owner and those it is shared
with; single-user mode serves only this computer), `deployment` (the server's settings) and `files` (uploads, saved
once and sorted, and what came from S3)."""
