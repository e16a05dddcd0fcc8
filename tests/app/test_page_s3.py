"""The S3 panel in the browser (Streamlit AppTest), against a real S3-compatible server on 127.0.0.1."""
import dataclasses
import shutil
from pathlib import Path

import h5py
import pytest
from streamlit.testing.v1 import AppTest

from latentcore.errors import InputError
from latentcore.storage import s3

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server_deployment(tmp_path, monkeypatch):
    """A deployment that lends the server's S3 access (the environment's fake keys) for every bucket."""
    path = tmp_path / "deployment.toml"
    path.write_text('[s3]\nserver_credentials = true\nallow = ["*"]\n')
    monkeypatch.setenv("LATENT_EXPLORER_DEPLOYMENT", str(path))
    return path


def test_data_page_lists_picks_and_downloads_s3_objects(moto_s3, sst_h5, workdir_root, server_deployment):
    bucket = moto_s3.new_bucket()
    for name in ("a_preproc.h5", "b_preproc.h5", "c_preproc.h5"):
        s3.upload(sst_h5, f"s3://{bucket}/pp/{name}", moto_s3.settings)
    moto_s3.client.put_object(Bucket=bucket, Key="elsewhere/x.h5", Body=b"other prefix")

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    at.text_input(key="s3_bucket").input(bucket)
    at.text_input(key="s3_prefix").input("pp/").run()
    at.button(key="s3_list").click().run()
    assert not at.exception and not at.error
    listing = at.dataframe[0].value
    assert list(listing["key"]) == ["pp/a_preproc.h5", "pp/b_preproc.h5", "pp/c_preproc.h5"]
    assert list(listing["bytes"]) == [sst_h5.stat().st_size] * 3
    assert all(size.endswith(" KB") for size in listing["size"])  # readable sizes beside the bytes

    at.multiselect(key="s3_pick").select("pp/a_preproc.h5").select("pp/c_preproc.h5").run()
    at.button(key="s3_download").click().run()
    assert not at.exception and not at.error
    assert "Downloaded 2 file(s): a_preproc.h5, c_preproc.h5" in [s.value for s in at.success]
    bars = at.get("progress")  # the download's progress bar, full, with the bytes fetched
    assert [b.proto.value for b in bars] == [100] and bars[0].proto.text.startswith("Downloaded ")
    session_dir = Path(at.session_state["workdir"])
    downloaded = sorted(session_dir.rglob("*_preproc.h5"))
    assert [p.name for p in downloaded] == ["a_preproc.h5", "c_preproc.h5"]
    assert all(p.read_bytes() == sst_h5.read_bytes() for p in downloaded)
    # the downloads join the data sources the page offers, and read as cutout files
    assert {"a_preproc.h5", "c_preproc.h5"} <= set(at.selectbox(key="data_source").options)
    with h5py.File(downloaded[0]) as f:
        assert f["valid"].shape == (12, 1, 64, 64)


def test_wrong_bucket_is_shown_as_an_error_not_a_traceback(moto_s3, workdir_root, server_deployment):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.text_input(key="s3_bucket").input("no-such-bucket-here").run()
    at.button(key="s3_list").click().run()
    assert not at.exception
    assert any("s3://no-such-bucket-here/: no such bucket" in e.value for e in at.error)


def extract_page_part(source: str, latents: str, endpoint: str, origins: dict):
    """What the Extract page runs for S3 data (the session remembers where each file came from)."""
    from pathlib import Path

    import streamlit as st

    from ui.session import store
    from ui.widgets import s3_panel

    st.session_state.setdefault(store.S3_ORIGINS, origins)
    overwrite = st.checkbox("Overwrite", key="overwrite")
    s3_panel.render_latents_upload(Path(source), Path(latents), overwrite, model="demo-vae")


def test_extract_part_shows_existing_latents_and_uploads_beside_the_source(moto_s3, tmp_path, server_deployment):
    bucket = moto_s3.new_bucket()
    sources = [f"s3://{bucket}/pp/{n}_preproc.h5" for n in ("a", "b")]
    for uri in sources:
        moto_s3.client.put_object(Bucket=bucket, Key=s3.parse_s3_uri(uri)[1], Body=b"source")
    moto_s3.client.put_object(Bucket=bucket, Key="pp/b__demo-vae_latents.h5", Body=b"old latents")
    local_a = tmp_path / "a_preproc.h5"
    latents = tmp_path / "a__demo-vae_latents.h5"
    latents.write_bytes(b"new latents for a")
    origins = {str(tmp_path / f"{n}_preproc.h5"): {"uri": uri, "endpoint": moto_s3.endpoint}
               for n, uri in zip("ab", sources)}
    at = AppTest.from_function(extract_page_part, args=(str(local_a), str(latents), moto_s3.endpoint, origins),
                               default_timeout=30).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["source"], table["exists"])) == {sources[0]: "no", sources[1]: "yes, skipped unless overwrite"}
    at.button(key="s3_latents_upload").click().run()
    assert not at.exception
    target = f"s3://{bucket}/pp/a__demo-vae_latents.h5"
    assert s3.head(target, moto_s3.settings).size == len(b"new latents for a")
    # to a prefix, and an existing file kept unless overwrite
    at.radio(key="s3_latents_where").set_value("to a prefix").run()
    at.text_input(key="s3_latents_prefix").input(f"s3://{bucket}/results").run()
    at.button(key="s3_latents_upload").click().run()
    assert s3.head(f"s3://{bucket}/results/a__demo-vae_latents.h5", moto_s3.settings).size == len(b"new latents for a")
    latents.write_bytes(b"newer, longer latents for a")
    at.button(key="s3_latents_upload").click().run()
    assert any("exists: kept" in i.value for i in at.info)
    assert s3.head(f"s3://{bucket}/results/a__demo-vae_latents.h5", moto_s3.settings).size == len(b"new latents for a")
    at.checkbox(key="overwrite").check().run()
    at.button(key="s3_latents_upload").click().run()
    assert s3.head(f"s3://{bucket}/results/a__demo-vae_latents.h5", moto_s3.settings).size == len(b"newer, longer latents for a")
    elsewhere = {path: {**came, "endpoint": "http://127.0.0.1:9"} for path, came in origins.items()}  # listed there
    at = AppTest.from_function(extract_page_part, args=(str(local_a), str(latents), moto_s3.endpoint, elsewhere),
                               default_timeout=30).run()
    assert [i.value for i in at.info] == [
        f"The source was listed at http://127.0.0.1:9, while this session's S3 calls now go to {moto_s3.endpoint}: "
        "enter the credentials for the source's endpoint to upload."]
    assert not at.button  # no upload offered with keys that may not reach it


def missing_data_files_part(uri: str):
    """What a page says of a study member's rows whose data file this session has not."""
    import types

    from ui.session import files
    from ui.widgets import explore

    files.s3_sources()[uri] = {"object": None, "endpoint": ""}
    for recorded in ("s1.h5", "other.h5"):
        explore.data_file_of(types.SimpleNamespace(attrs={"source": recorded}), recorded[:-3], "images")


def test_a_member_extracted_from_s3_is_said_to_lie_there_not_to_be_uploaded(workdir_root):
    at = AppTest.from_function(missing_data_files_part, args=("s3://lab/scans/s1.h5",), default_timeout=60).run()
    assert not at.exception
    said = [caption.value for caption in at.caption]
    assert said == ["No images: s1's data file, s1.h5, is not among this session's data files: it was extracted "
                    "where it lies, s3\\://lab/scans/s1.h5 (download it in the Data page's S3 panel).",  # drawn as is
                    "No images: other's data file, other.h5, is not among this session's data files (upload it on "
                    "the Data page)."]


def test_an_s3_sources_extraction_says_its_download_then_its_rows(moto_s3, ebsd_h5, tmp_path):
    """The task the Extract page's study form runs for an S3 object, in this process: the bytes fetched to this
    machine said (without a cancel check in boto3's threads), then the rows extracted."""
    from latentcore.demo import DEMO_MODEL
    from ui.compute import tasks

    uri = f"s3://{moto_s3.new_bucket()}/scans/{ebsd_h5.name}"
    s3.upload(ebsd_h5, uri, moto_s3.settings)
    said = []

    def extract():
        said.clear()
        return tasks.extract(uri, {"path": str(DEMO_MODEL), "arch": "vae", "options": None}, str(tmp_path), "mean",
                             64, "cpu", None, False,
                             lambda fraction, message="", **options: said.append((message, options)),
                             s3=moto_s3.settings)

    result = extract()
    megabytes = f"{ebsd_h5.stat().st_size / 1e6:,.1f}"
    downloads = [i for i, (message, _) in enumerate(said) if message.startswith("downloading from S3")]
    assert said[downloads[-1]] == (f"downloading from S3 to this worker: {megabytes} of {megabytes} MB",
                                   {"check": False})
    assert said[-1] == (f"{ebsd_h5.name} [all]: 2,400 / 2,400 items", {})  # then the rows, the file named as in S3
    assert result.path.parent == tmp_path and result.rows == {"all": 2400} and not result.skipped
    again = extract()  # the same object's latents are there: not downloaded again
    assert again == dataclasses.replace(result, skipped=True) and not any("download" in m for m, _ in said)
    changed = tmp_path / "changed" / ebsd_h5.name
    changed.parent.mkdir()
    shutil.copy(ebsd_h5, changed)
    with h5py.File(changed, "a") as f:
        f.attrs["edited"] = "yes"  # other bytes, a new ETag
    s3.upload(changed, uri, moto_s3.settings)
    with pytest.raises(InputError, match="holds the latents of another source"):  # downloaded, then refused
        extract()
    assert any(m.startswith("downloading from S3") for m, _ in said)
