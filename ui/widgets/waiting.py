"""What a page shows while the worker pool computes for it (ui.compute.dispatch draws nothing itself: app.py
hands it this module, `dispatch.show_waits_with(waiting)`): a spinner while a small job runs in the server,
a cancelled job's note and its restart button, and a running job's progress with a cancel button, redrawn
alone twice a second (the whole page reruns when it ends)."""
from __future__ import annotations

import time

import streamlit as st

from ..compute import jobs
from ..session import state
from .common import plain  # a job's label may hold a name its user typed


def running_here(label: str, run):
    """`run()` under a spinner (a small job, in the server)."""
    with st.spinner(f"{plain(label)}..."):
        return run()


def cancelled(label: str, key: str):
    """A cancelled job's note and the button that starts it again; the page stops here."""
    st.info(f"{plain(label)}: cancelled.", icon=":material/cancel:")
    st.button("Start it again", key=state.restart_key(key), icon=":material/replay:")
    st.stop()


def pending(job: jobs.Job):
    """A running job's progress; the page stops here (other widgets stay usable meanwhile)."""
    watch(job)
    st.stop()


def meanwhile(job: jobs.Job, note: str):
    """A running job whose result the page does without until it ends (something else shown meanwhile, as `note`
    says): its progress; the page goes on and reruns when it ends."""
    st.info(note, icon=":material/hourglass_top:")
    watch(job)


def pace(job: jobs.Job) -> str:
    """`12 s, about 30 s left, on Dask worker tcp://...`: the time so far, the time left at that pace, where."""
    left = job.left_s()
    worker = job.worker()
    return (f"{time.time() - job.started:.0f} s" + (f", about {left:.0f} s left" if left is not None else "")
            + (f", on Dask worker {worker}" if worker else ", in a worker process"))


POLL_S = 0.5
WAKE_S = 0.3  # each poll waits this long for the job: one ending then reruns the page at once, not at the next poll


@st.fragment(run_every=POLL_S)
def watch(job: jobs.Job):
    """The job's progress, redrawn alone twice a second; the whole page reruns when it ends."""
    if job.wait(WAKE_S):
        st.rerun(scope="app")
    fraction, message = job.progress()
    cols = st.columns([5, 1])
    if job.cancelled():
        message = "cancelling: it stops at its next step" + (f", or is ended {jobs.CANCEL_END_S:g} s after the cancel"
                                                            if job.end is not None else "")
    cols[0].progress(min(max(fraction, 0.0), 1.0), text=f"{plain(job.label)}: {message} ({pace(job)})")
    if cols[1].button("Cancel", key=f"_cancel_{job.key}", icon=":material/cancel:"):
        job.cancel()
        st.rerun(scope="app")
