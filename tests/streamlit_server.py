"""`streamlit run app.py` on a free port of 127.0.0.1, for the browser tests and benchmarks/.

- `serve(root, env=None, args=(), port=None, address="127.0.0.1", cache=None, repo=REPO) -> (url, log_path)`, a
  context manager: `repo`'s app.py (another checkout's for a baseline) runs with private working and embedding-cache
  folders under `root` (`cache`: that folder instead, e.g. `worker_cache()`; plus `env`, where None leaves a
  variable out, and `args`; on `port`, else a free one; listening on `address`, or, with None, on every interface
  as the README's start command does), until the block ends; its log is in `log_path`. It raises if the server
  exits before it answers; at the end it is stopped with its process group (`stop`). `serving(...)`, the same,
  gives (process, url, log_path): the server's `subprocess.Popen` too.
- `worker_cache()`: the test process's embedding cache (tests/conftest.py): a server given it reads the demo's
  UMAP that another server of the same test process fitted, instead of fitting it again.
- `CHROMIUM`, `CHROMIUM_ARGS`: Debian's Chromium and the flags that keep it off the network.
- `NAV_LINKS`: the app's navigation, its pages' links in the sidebar (app.py draws them; Streamlit's own list,
  `[data-testid=stSidebarNav]`, is off: .streamlit/config.toml).
- `WATCH_NAV`: an init script that records in `window.__nav` whether Streamlit's own page list was ever drawn
  (`raw`) and when the app's navigation first was (`app`, the page's clock).
- `RUNNING`: a JavaScript expression, true while the page's script runs; `settle(page)` waits until nothing
  more is coming (the page's messages to the server watched: `WATCH_SENDS`, in every context of a browser that
  `watched_contexts` gave), else until RUNNING has stayed false for half a second.
- `WATCH_RUNS`: an init script that timestamps every start and end of a script run in
  `window.__runs`, so that `until_idle` can say when the page stopped running.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NAV_LINKS = "[data-testid=stSidebar] a[data-testid=stPageLink-NavLink]"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_cache() -> Path:
    return Path(os.environ["LATENT_EXPLORER_CACHE"])


@contextlib.contextmanager
def serve(root: Path, env: dict | None = None, args: tuple = (), port: int | None = None,
          address: str | None = "127.0.0.1", cache: Path | None = None, repo: Path = REPO):
    with serving(root, env, args, port, address, cache, repo) as (_, url, log_path):
        yield url, log_path


@contextlib.contextmanager
def serving(root: Path, env: dict | None = None, args: tuple = (), port: int | None = None,
            address: str | None = "127.0.0.1", cache: Path | None = None, repo: Path = REPO):
    root.mkdir(parents=True, exist_ok=True)
    port, log_path = port or free_port(), root / "streamlit.log"
    env = {**os.environ, "LATENT_EXPLORER_WORKDIR": str(root / "sessions"),
           "LATENT_EXPLORER_CACHE": str(cache or root / "cache"), **(env or {})}
    env = {name: value for name, value in env.items() if value is not None}  # None: leave it out
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                    "--server.port", str(port), *(("--server.address", address) if address else ()), *args],
                                   cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                    break
                except OSError:
                    if process.poll() is not None:
                        raise RuntimeError(f"streamlit exited: {log_path.read_text()}") from None
                    time.sleep(0.2)
            yield process, url, log_path
        finally:
            stop(process)


def stop(process: subprocess.Popen, grace: float = 10.0):
    """Ask the server to exit, which it does within 10 s however busy, its workers ended and its figure browser
    closed (tests/browser/test_e2e_shutdown.py); then end its process group, in case it did not."""
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the pool's workers (kaleido's Chromium has a session of its own)
    process.wait()


WATCH_NAV = """
window.__nav = {raw: false, app: null};
new MutationObserver(() => {
  if (document.querySelector('[data-testid=stSidebarNav]')) window.__nav.raw = true;
  if (window.__nav.app === null && document.querySelector('%s')) window.__nav.app = performance.now();
}).observe(document, {subtree: true, childList: true});
""" % NAV_LINKS


# The app root's script state, which Streamlit's frontend keeps for its own tests ("running",
# "notRunning", "rerunRequested", ...): exact, where the status widget shows only after 500 ms of a run
# (and not at all with this app's minimal toolbar).
BUSY_STATES = "['running', 'rerunRequested', 'stopRequested']"
SCRIPT_STATE = "document.querySelector('[data-testid=stApp]')?.dataset.testScriptState"
RUNNING = f"{BUSY_STATES}.includes({SCRIPT_STATE})"
# A run's end is any change into a state neither busy nor 'initial' (the page before its first run): React may draw
# a run's start and end in one render (a loaded browser), and a new page's state then goes from 'initial' straight
# to 'notRunning', never seen busy (a page that waited for that busy state never settled: CI, once).
WATCH_RUNS = """
window.__runs = {state: undefined, busy: false, started: 0, ended: 0, log: []};
new MutationObserver(() => {
  const state = %s;
  if (state === window.__runs.state) return;
  window.__runs.state = state;
  const busy = %s.includes(state);
  if (busy && !window.__runs.busy) window.__runs.started = performance.now();
  if (!busy && state !== undefined && state !== 'initial') window.__runs.ended = performance.now();
  if (busy !== window.__runs.busy) window.__runs.log.push([busy, performance.now()]);
  window.__runs.busy = busy;
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-test-script-state']});
""" % (SCRIPT_STATE, BUSY_STATES)
# An init script that stops the page's CSS animations and transitions (Streamlit's running indicator and skeletons):
# their frames cost the headless Chromium CPU that the tests' servers wanted (a few seconds a module; screenshots
# never catch a transition half drawn).
NO_ANIMATIONS = """document.addEventListener('DOMContentLoaded', () => {
  const style = document.createElement('style');
  style.textContent = '*, *::before, *::after { animation: none !important; transition: none !important; }';
  document.head.appendChild(style);
});"""
# An init script that timestamps every message the page sends its server in `window.__sends.last` (the page's clock),
# beside WATCH_RUNS: what settle() reads.
WATCH_SENDS = """{
  window.__sends = {last: -Infinity, called: 0};
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__sends.last = performance.now();
    return send.call(this, data);
  };
}""" + WATCH_RUNS


def watched_contexts(browser):
    """`browser`, each of whose new contexts runs WATCH_SENDS in its pages (settle() then waits no longer than it
    must) and NO_ANIMATIONS."""
    new_context = browser.new_context

    def watched(**kwargs):
        context = new_context(**kwargs)
        context.add_init_script(WATCH_SENDS)
        context.add_init_script(NO_ANIMATIONS)
        return context
    browser.new_context = watched
    return browser


def settle(page, seconds: float = 120, quiet: float = 0.5):
    """Wait until Streamlit has finished running the script (the app root's script state) and nothing more is
    coming: on a page that WATCH_SENDS watches (every context `watched_contexts` makes), until no run has ended
    for AFTER_RUN s, no message went to the server for AFTER_SEND s (a widget's change, a fragment's timed
    rerun) and the last message's run has started and ended (or none came within NO_RUN s); elsewhere until
    the page has stayed idle for `quiet` seconds, counted from this call at the earliest."""
    if page.evaluate("window.__sends === undefined ? false : (window.__sends.called = performance.now(), true)"):
        try:
            page.wait_for_function(SETTLED, arg=[FROM_CALL * 1000, AFTER_RUN * 1000, AFTER_SEND * 1000, NO_RUN * 1000],
                                   timeout=seconds * 1000)
        except PlaywrightTimeout as timeout:
            watched = page.evaluate("({now: performance.now(), runs: window.__runs, sends: window.__sends})")
            raise TimeoutError(f"the page did not settle in {seconds} s: {watched}") from timeout
        return
    deadline = time.monotonic() + seconds
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet:
        if time.monotonic() > deadline:
            raise TimeoutError("the app kept running")
        time.sleep(0.05)
        if page.evaluate(RUNNING):
            page.wait_for_function(f"() => !({RUNNING})", timeout=max(deadline - time.monotonic(), 0.1) * 1000)
            quiet_since = time.monotonic()


# settle() on a watched page: an action's message is sent within FROM_CALL s of the call (a click's at once); a run
# chained to the last (st.rerun) starts within AFTER_RUN s of its end; a message's run starts within NO_RUN s, and a
# fragment that reruns every 0.5 s (a job's progress) sends again within AFTER_SEND s, so the page is not settled
# while a job runs.
FROM_CALL, AFTER_RUN, AFTER_SEND, NO_RUN = 0.2, 0.15, 0.6, 1.5
SETTLED = """([fromCall, afterRun, afterSend, noRun]) => {
  const runs = window.__runs, {last: sent, called} = window.__sends, now = performance.now();
  return !runs.busy && runs.ended > 0 && now - called >= fromCall && now - runs.ended >= afterRun
    && now - sent >= afterSend && (runs.started > sent || now - sent >= noRun);
}"""


def now_ms(page) -> float:
    """The page's clock (performance.now()), the one WATCH_RUNS timestamps with."""
    return page.evaluate("performance.now()")


def until_idle(page, since_ms: float, quiet_s: float = 1.0) -> float:
    """Seconds from `since_ms` (the page's clock) until the page stopped running: no script run for
    `quiet_s` afterwards. 0 when nothing ran after `since_ms`."""
    page.wait_for_function(f"() => !window.__runs.busy && performance.now() - window.__runs.ended > {quiet_s * 1000}"
                           f" && performance.now() - window.__runs.started > {quiet_s * 1000}")
    runs = page.evaluate("window.__runs")
    return max(runs["ended"] - since_ms, 0.0) / 1000
