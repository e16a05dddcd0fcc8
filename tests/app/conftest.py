"""The app tests: the real app script and its pages under Streamlit's AppTest, and the app's own modules."""
import functools
import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="module")
def main_script_every_run():
    """AppTest as on the real server: app.py runs on every rerun, around the page. (AppTest forgets
    between runs that st.navigation replaced the pages/ folder, and from the second run on would run
    the page file alone, which the app's pages refuse: ui.widgets.access.require_app.) Module-scoped:
    a module's shared fixtures drive the app too."""
    from streamlit.runtime.scriptrunner import script_runner

    def run_main(main_script_path):
        exec(compiled(main_script_path, magic=False), {"__name__": "__main__", "__file__": str(main_script_path)})

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(script_runner, "_mpa_v1", run_main)
        yield


@functools.cache
def _compiled(path: str, text: str, magic: bool):
    from streamlit.runtime.scriptrunner import magic as streamlit_magic

    return compile(streamlit_magic.add_magic(text, path) if magic else text, path, "exec", dont_inherit=True)


def compiled(path, magic: bool):
    """A script's code object, compiled once per text (with Streamlit's magic where the server adds it)."""
    path = os.path.abspath(path)
    return _compiled(path, Path(path).read_text(), magic)


@pytest.fixture(autouse=True, scope="session")
def what_a_server_does_once_done_once():
    """A server scans the installed packages for Streamlit components once, and compiles each script once; every
    AppTest run does both again (a new component manager for each AppTest: about 0.3 s; a new script cache for
    each run, the page compiled again with its magic: 0.1-0.2 s). The installed packages and the scripts' texts do
    not change during a run, so their first answers serve every AppTest (about a minute of the suite's CPU)."""
    from streamlit import config
    from streamlit.components.v2 import manifest_scanner
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    def get_bytecode(cache, script_path):
        return compiled(script_path, magic=config.get_option("runner.magicEnabled"))

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(manifest_scanner, "scan_component_manifests",
                            functools.cache(manifest_scanner.scan_component_manifests))
        monkeypatch.setattr(ScriptCache, "get_bytecode", get_bytecode)
        yield


@pytest.fixture
def private_folders(tmp_path, monkeypatch):
    """A page test's own session folders (no result from an earlier test). Its UMAPs come from the test process's
    embedding cache (tests/conftest.py), as the browser tests' servers share theirs, so the demo's is fitted once per
    process; a test of a first fit takes `empty_embedding_cache`."""
    import ui.session.workspace

    monkeypatch.setattr(ui.session.workspace, "WORKDIR_ROOT", tmp_path / "sessions")


@pytest.fixture
def empty_embedding_cache(tmp_path):
    """An embedding cache of the test's own, empty: the page fits its first UMAP (or has none yet). The app's
    worker pool starts afresh before and after, its workers reading the cache the test has (from the environment,
    when they start)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "embedding-cache"))
        new_app_pool()
        yield
    new_app_pool()


def new_app_pool():
    from ui.compute import dispatch

    dispatch.app_pool().shutdown()
    dispatch.app_pool.clear()


@pytest.fixture
def workdir_root(tmp_path, monkeypatch) -> Path:
    """The sessions' folder of a test of its own."""
    import ui.session.workspace

    monkeypatch.setattr(ui.session.workspace, "WORKDIR_ROOT", tmp_path / "sessions")
    return tmp_path / "sessions"


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file name -> the callable that makes a download's bytes (made when clicked: Streamlit registers them)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    made, register = {}, MediaFileManager.add_deferred

    def recording(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return register(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", recording)
    return made
