"""A busy server ends within 10 s of SIGTERM and leaves no process behind (issue 53: twice under load a server took
over two minutes, its worker pool or figure browser still busy).

`streamlit run app.py` of its own gets SIGTERM with its worker pool running a job that does not end by itself (the
numba warm-up every server starts, waiting on numba's cache lock, which this test holds: it neither reports nor
ends) and its figure browser open (kaleido's Chromium, started by a PNG download). Every process the server started,
listed before the SIGTERM, has ended 10 s after it: the pool's worker, multiprocessing's resource tracker and the
Chromium, which choreographer starts in a session of its own (the server's process group does not hold it)."""
from __future__ import annotations

import contextlib
import fcntl
import json
import signal
import tempfile
import time

import psutil
import pytest

from latentcore.analysis.embedding import umap_numba
from latentcore.demo import DEMO_SCAN
from latentcore.outputs import latents_path_for
from steps import open_page
from streamlit_server import serving, settle

EXIT_S = 10.0


@contextlib.contextmanager
def numba_cache_lock_held(tmp):
    """`umap_numba.cache_lock` of the processes whose temporary folder is `tmp`, held by this test until the end."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(tmp))
        path = umap_numba.lock_path()
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # let go when the file closes
        yield


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those not ended: a zombie has (its parent reaps it)."""
    def running(process):
        with contextlib.suppress(psutil.Error):
            return process.status() != psutil.STATUS_ZOMBIE
        return False
    return [process for process in processes if running(process)]


def warm_up_report(sessions) -> dict:
    """What the server's numba warm-up job last reported (its attempt's folder in its key's, in the pool's)."""
    reports = [json.loads(path.read_text()) for path in (sessions / "jobs").glob("*/*/progress.json")]
    return next((report for report in reports if "numba" in report.get("message", "")), {})


def test_a_busy_server_ends_within_10_s_of_sigterm_and_leaves_no_process(chromium, tmp_path):
    family = []
    # a short temporary folder of the server's own: Chromium's sockets live there (a Unix socket's path is short)
    with tempfile.TemporaryDirectory(prefix="le-") as server_tmp, numba_cache_lock_held(server_tmp), \
            serving(tmp_path / "server", env={"TMPDIR": server_tmp}) as (server, url, _):
        context = chromium.new_context(viewport={"width": 1500, "height": 1800}, accept_downloads=True)
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(url)
            page.wait_for_selector("h1:has-text('Data')")
            settle(page)
            open_page(page, "Extract", "Extract latents")
            page.get_by_role("button", name="Extract", exact=True).click()
            page.get_by_text(f"Wrote {latents_path_for(DEMO_SCAN, model='demo-vae').name}").wait_for()
            settle(page)
            open_page(page, "Latent maps", "Latent maps")
            with page.expect_download(timeout=120_000):  # the server renders it in its kept Chromium
                page.get_by_role("button", name="Maps (PNG, 300 dpi)").first.click()
            family = psutil.Process(server.pid).children(recursive=True)
            commands = [command_of(process) for process in family]  # a helper that just ended has none
            assert any("spawn_main" in command for command in commands), commands  # the pool's worker
            assert any("chromium" in command for command in commands), commands  # the figure browser
            assert warm_up_report(tmp_path / "server" / "sessions").get("message") == "compiling UMAP's numba code"
            signalled = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=EXIT_S)
            while alive(family) and time.monotonic() - signalled < EXIT_S:
                time.sleep(0.1)
            assert not alive(family), [(p.pid, p.name()) for p in alive(family)]
        finally:
            context.close()
            for process in alive(family):  # a failed run's, never left to the next test
                with contextlib.suppress(psutil.Error):
                    process.kill()


def command_of(process: psutil.Process) -> str:
    """A process's command line; "" for one that ended meanwhile (a zombie until its parent reaps it)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""
