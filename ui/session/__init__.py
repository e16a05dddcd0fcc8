"""What a browser session holds: `state` (every session-state key, and the only module that touches
`st.session_state`), `workspace` (the folder the URL names, saved and restored), `settings` (the widget
keys each page saves there), `access` (who may open a workspace: its owner and those it is shared with;
single-user mode serves only this computer) and `files` (uploads, saved once and sorted)."""
