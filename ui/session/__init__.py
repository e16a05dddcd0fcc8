"""What a browser session holds: `state` (every session-state key, and the only module that touches
`st.session_state`), `workspace` (the folder the URL names, saved and restored) and `files` (uploads,
saved once and sorted)."""
