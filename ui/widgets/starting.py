"""The line a server's first run shows while the app's libraries load (seconds: 6-7 at load 6), from the first paint.

app.py and every page import this module before any other of the app's: its first import, in a script run, draws
the line. app.py takes it away once its own imports are done (`loaded`); a page run alone (a bookmark opened before
app.py ever ran: it then runs again through app.py) leaves it to the page's title, which replaces it."""
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

MESSAGE = ("Starting Latent Explorer: loading its libraries, once after the server starts (a few seconds, longer on "
           "a busy machine)...")

_line = None
if get_script_run_ctx() is not None:
    _line = st.empty()
    _line.info(MESSAGE, icon=":material/hourglass_top:")


def loaded():
    """Take the line away: the libraries are loaded (app.py, in the run that imported this module)."""
    if _line is not None:
        _line.empty()
