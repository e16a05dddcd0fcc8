"""The Data page takes every file a reader reads: its uploader accepts the endings of the registry
(`latentcore.data`: each reader's `extensions` and `companions`), and files of endings it refused before
(EDAX .up2; NORDIF's Pattern.dat, saved with its Setting.txt) upload, are offered as data and open with
their reader (AppTest: Streamlit refuses a file whose ending the uploader does not accept)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driving import new_app, run, texts
from vendor_writers import write_nordif, write_up2_square

from latentcore.data import registered_readers

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def patterns(dtype) -> np.ndarray:
    """A 3 x 4 scan of 8 x 8 patterns."""
    return np.random.default_rng(0).integers(0, 200, (3, 4, 8, 8)).astype(dtype)


def upload(at, *paths: Path, errors_ok: bool = False):
    at.file_uploader(key="uploads").set_value([(p.name, p.read_bytes(), "application/octet-stream") for p in paths])
    return run(at, errors_ok=errors_ok)


def shown(at, label: str) -> list:
    """The Data page's metrics (format, items, item shape, grid) of the uploaded file `label`."""
    run(at.selectbox(key="data_source").select(label))
    return [m.value for m in at.metric]


def test_the_uploader_accepts_every_ending_a_reader_reads():
    accepted = set(new_app().file_uploader(key="uploads").allowed_type)
    for reader in registered_readers():
        endings = {e for e in (*reader.extensions, *(Path(name).suffix for name in reader.companions)) if e}
        assert endings <= accepted, (reader.format_name, endings - accepted)
    assert {".csv", ".pth", ".pt", ".json"} <= accepted  # band contrast, checkpoints, model options


def test_an_edax_up2_scan_uploads_and_opens(tmp_path):
    at = upload(new_app(), write_up2_square(tmp_path / "scan.up2", patterns(np.uint16)))
    assert shown(at, "scan.up2") == ["edax_binary", "12", "1 x 8 x 8", "3 x 4"]


def test_a_nordif_scan_uploads_with_its_settings_file(tmp_path):
    pattern_file = write_nordif(tmp_path, patterns(np.uint8))
    at = upload(new_app(), pattern_file, errors_ok=True)  # alone: refused, saying what to add
    assert "Pattern.dat: a NORDIF file is read with its Setting.txt from the same folder: upload Setting.txt with it" \
        in texts(at.error)
    assert "Pattern.dat" not in at.selectbox(key="data_source").options

    upload(at, pattern_file, pattern_file.with_name("Setting.txt"))  # both: saved together, in a folder of their own
    assert not at.error
    folder = Path(at.session_state["workdir"]) / "uploads" / "Pattern"
    assert sorted(p.name for p in folder.iterdir()) == ["Pattern.dat", "Setting.txt"]
    assert shown(at, "Pattern.dat") == ["nordif", "12", "1 x 8 x 8", "3 x 4"]


def test_a_settings_file_alone_is_refused_and_not_kept(tmp_path):
    write_nordif(tmp_path, patterns(np.uint8))
    at = upload(new_app(), tmp_path / "Setting.txt", errors_ok=True)
    assert ("Setting.txt: a .txt is read only as NORDIF's Setting.txt beside its .dat: upload the two together"
            in texts(at.error))
    assert not list((Path(at.session_state["workdir"]) / "uploads").rglob("*"))
