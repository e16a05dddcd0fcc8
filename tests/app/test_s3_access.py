"""Who may reach which S3, and how much a visitor may upload ("Trust, part two"): the engine's
allow-list and session credentials against a real S3-compatible server on 127.0.0.1 (moto), the
deployment file, and the S3 panel and uploads in the browser (Streamlit AppTest)."""
import copy
import pickle
import re
import urllib.request
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from latentcore.errors import InputError
from latentcore.outputs import upload_latents
from latentcore.storage import s3
from latentcore.storage.s3 import S3Access, S3Credentials, S3Error, S3Settings

REPO = Path(__file__).resolve().parents[2]
DEAD = "http://127.0.0.1:9"  # nothing listens: a refusal that names the allow-list made no request


def put(moto_s3, bucket, key, body=b"data"):
    moto_s3.client.put_object(Bucket=bucket, Key=key, Body=body)
    return s3.s3_uri(bucket, key)


@pytest.fixture
def deploy(tmp_path, monkeypatch):
    """Write a deployment file (TOML text) and name it in the environment."""
    def write(text: str) -> Path:
        path = tmp_path / f"deployment-{uuid.uuid4().hex[:6]}.toml"
        path.write_text(text)
        monkeypatch.setenv("LATENT_EXPLORER_DEPLOYMENT", str(path))
        return path
    monkeypatch.delenv("LATENT_EXPLORER_DEPLOYMENT", raising=False)
    return write


def set_auth(endpoint: str, required: bool):
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0" if required else b"inf",
                                     method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request).read()


# -- the engine -----------------------------------------------------------------------------------

def test_allow_list_entries_are_buckets_or_folders():
    access = S3Access(("s3://lab/shared", "results/", "lab/alice/runs/"))
    assert access.allowed == ("lab/shared/", "results/", "lab/alice/runs/")
    assert access.buckets() == ["lab", "results"]
    assert access.allows("lab", "shared/x.h5") and access.allows("results", "any/thing")
    assert not access.allows("lab", "shared2/x.h5")  # a prefix is a folder, not a string start
    assert not access.allows("lab", "shared/../private/x.h5")  # no dot segments
    assert not access.allows("other", "x.h5") and not S3Access(()).allows("lab", "x")
    assert S3Access(("*",)).allows("anything", "at/all")
    for bad in ("", "lab/*", "lab/../x"):
        with pytest.raises(InputError, match="S3 allow-list"):
            S3Access((bad,))


def test_downloads_uploads_and_listings_outside_the_allow_list_are_refused_before_any_request(tmp_path):
    settings = S3Settings(endpoint_url=DEAD, max_attempts=1, connect_timeout=1,
                          access=S3Access(("lab/shared",)))
    local = tmp_path / "x_latents.h5"
    local.write_bytes(b"latents")
    refusals = [
        (lambda: s3.download("s3://lab/private/scan.h5", tmp_path, settings), "s3://lab/private/scan.h5"),
        (lambda: s3.download("s3://other/scan.h5", tmp_path, settings), "s3://other/scan.h5"),
        (lambda: s3.head("s3://lab/shared/../private/scan.h5", settings), "s3://lab/shared/../private/scan.h5"),
        (lambda: s3.upload(local, "s3://lab/private/x_latents.h5", settings), "s3://lab/private/x_latents.h5"),
        (lambda: upload_latents(local, "s3://lab/shared/x.h5", "s3://lab/out", settings, model="m"),
         "s3://lab/out/x__m_latents.h5"),
        (lambda: s3.list_objects("lab", "private/", settings), "s3://lab/private/"),
        (lambda: s3.list_prefixes("other", "", settings), "s3://other/"),
        (lambda: s3.objects_exist(["s3://lab/shared/a.h5", "s3://lab/b.h5"], settings), "s3://lab/b.h5"),
    ]
    for call, uri in refusals:
        with pytest.raises(S3Error) as refused:
            call()
        assert str(refused.value) == (f"{uri}: outside the S3 locations allowed here (s3://lab/shared/): choose one "
                                      "of those")
        assert "\n" not in str(refused.value)  # one line; and not "cannot reach": no request was made


def test_listings_show_only_allowed_buckets_and_prefixes(moto_s3):
    allowed, half, hidden = moto_s3.new_bucket(), moto_s3.new_bucket(), moto_s3.new_bucket()
    put(moto_s3, allowed, "a.h5")
    for key in ("shared/x.h5", "shared/deep/y.h5", "shared2/no.h5", "private/no.h5", "top.h5"):
        put(moto_s3, half, key)
    put(moto_s3, hidden, "secret.h5")
    settings = S3Settings(endpoint_url=moto_s3.endpoint, access=S3Access((allowed, f"{half}/shared")))
    assert s3.list_buckets(settings) == sorted([allowed, half])
    assert hidden in s3.list_buckets(moto_s3.settings)  # the command line's settings: no allow-list
    assert [o.key for o in s3.list_objects(half, "", settings)] == ["shared/deep/y.h5", "shared/x.h5"]
    assert s3.list_objects(half, "", settings, recursive=False) == []
    assert [o.key for o in s3.list_objects(half, "shared/", settings, recursive=False)] == ["shared/x.h5"]
    assert s3.list_prefixes(half, "", settings) == ["shared/"]
    assert s3.list_prefixes(half, "shared/", settings) == ["shared/deep/"]
    assert [o.key for o in s3.list_objects(allowed, "", settings)] == ["a.h5"]


def test_session_credentials_are_used_stay_in_memory_and_never_show(moto_s3, visitor_keys, tmp_path):
    bucket = moto_s3.new_bucket()
    uri = put(moto_s3, bucket, "d/scan.h5", b"scan bytes")
    key_id, secret = visitor_keys
    given = S3Credentials(key_id, secret)
    mine = S3Settings(endpoint_url=moto_s3.endpoint, credentials=given, server_credentials=False)
    set_auth(moto_s3.endpoint, True)  # now the server knows only the visitor's keys, not the environment's
    try:
        with pytest.raises(S3Error, match="credentials were refused"):
            s3.list_objects(bucket, "", moto_s3.settings)
        assert [o.key for o in s3.list_objects(bucket, "", mine)] == ["d/scan.h5"]
        assert s3.download(uri, tmp_path, mine).read_bytes() == b"scan bytes"
    finally:
        set_auth(moto_s3.endpoint, False)
    for shown in (repr(given), str(given), repr(mine)):
        assert secret not in shown and key_id not in shown
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(mine)
    assert copy.deepcopy(given) is given
    # for a job's task, the same keys pickle (into its arguments, in memory) and still never show
    travelling = mine.for_tasks()
    assert isinstance(travelling.credentials, s3.TaskCredentials) and S3Settings().for_tasks() == S3Settings()
    back = pickle.loads(pickle.dumps(travelling))
    assert back == travelling and back.credentials == given and secret not in repr(back)
    assert back.credentials.secret_access_key == secret
    nobody = S3Settings(endpoint_url=DEAD, server_credentials=False)  # no keys and the chain not lent
    with pytest.raises(S3Error, match=rf"^{uri}: no S3 credentials given"):
        s3.download(uri, tmp_path, nobody)
    with pytest.raises(InputError, match="both needed"):
        S3Credentials(key_id, " ")


# -- the deployment file --------------------------------------------------------------------------

def test_deployment_file_defaults_users_and_mistakes(tmp_path):
    from ui.session import deployment

    path = tmp_path / "d.toml"
    path.write_text('[s3]\nserver_credentials = true\nallow = ["lab/shared"]\n'
                    '[uploads]\nmax_file_bytes = 1000\n'
                    '[users."alice@example.org".s3]\nallow = ["lab/alice", "results"]\n'
                    '[users."alice@example.org".uploads]\nmax_files = 7\nmax_user_bytes = 5000\nmin_free_bytes = 9\n')
    loaded = deployment.load(path)
    assert loaded.policy(None) == deployment.Policy(True, None, S3Access(("lab/shared",)), 1000, deployment.MAX_FILES,
                                                    deployment.MAX_USER_BYTES, deployment.MIN_FREE_BYTES)
    alice = loaded.policy("alice@example.org")
    assert alice.access.allowed == ("lab/alice/", "results/") and alice.server_credentials
    assert (alice.max_file_bytes, alice.max_files, alice.max_user_bytes, alice.min_free_bytes) == (1000, 7, 5000, 9)
    assert loaded.policy("bob") == loaded.policy(None)
    assert loaded.verified_email_providers == ()
    path.write_text('[sign_in]\nverified_email_providers = ["default", "lab"]\n')
    assert deployment.load(path).verified_email_providers == ("default", "lab")
    for text, problem in [('[sign_in]\nverified_email_providers = [""]\n', "must list provider names"),
                          ('[sign_in]\nverified_email_providers = "lab"\n', "must be a list"),
                          ('[s3]\nserver_credentials = true\n', "needs an allow list"),
                          ('[s3]\nalow = ["x"]\n', "no setting 'alow'"),
                          ('[uploads]\nmax_files = "ten"\n', "max_files must be a int"),
                          ('[s3]\nallow = ["lab/*"]\n', "allow"),
                          ('[s4]\n', "unknown section"), ('[s3\n', "not valid TOML")]:
        path.write_text(text)
        with pytest.raises(InputError, match=problem) as bad:
            deployment.load(path)
        assert str(bad.value).startswith(str(path))


# -- the S3 panel ---------------------------------------------------------------------------------

def test_panel_offers_only_allowed_buckets_and_refuses_other_prefixes(moto_s3, workdir_root, deploy):
    allowed, half, hidden = moto_s3.new_bucket(), moto_s3.new_bucket(), moto_s3.new_bucket()
    put(moto_s3, allowed, "a_preproc.h5")
    put(moto_s3, half, "shared/x.h5")
    put(moto_s3, half, "private/no.h5")
    put(moto_s3, hidden, "secret.h5")
    deploy(f'[s3]\nserver_credentials = true\nallow = ["{allowed}", "{half}/shared"]\n')
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.selectbox(key="s3_bucket").options == sorted([allowed, half])
    at.selectbox(key="s3_bucket").select(half).run()
    at.button(key="s3_list").click().run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["key"]) == ["shared/x.h5"]  # the bucket's top: only the allowed folder
    at.text_input(key="s3_prefix").input("private/").run()
    at.button(key="s3_list").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"s3://{half}/private/: outside the S3 locations allowed here (s3://{allowed}/, s3://{half}/shared/): choose "
        "one of those"]


def extract_page_part(source: str, latents: str, endpoint: str, origins: dict):
    """What the Extract page runs for S3 data (the session remembers where each file came from)."""
    from pathlib import Path

    import streamlit as st

    from ui.session import store
    from ui.widgets import s3_panel

    st.session_state.setdefault(store.S3_ORIGINS, origins)
    s3_panel.render_latents_upload(Path(source), Path(latents), False, model="demo-vae")


def test_latents_upload_outside_the_allow_list_is_refused_naming_the_uri(moto_s3, tmp_path, deploy):
    bucket = moto_s3.new_bucket()
    source = put(moto_s3, bucket, "in/a_preproc.h5", b"source")
    deploy(f'[s3]\nserver_credentials = true\nallow = ["{bucket}/in"]\n')
    latents = tmp_path / "a__demo-vae_latents.h5"
    latents.write_bytes(b"latents")
    origins = {str(tmp_path / "a_preproc.h5"): {"uri": source, "endpoint": moto_s3.endpoint}}
    at = AppTest.from_function(extract_page_part, args=(str(tmp_path / "a_preproc.h5"), str(latents),
                                                        moto_s3.endpoint, origins), default_timeout=30).run()
    assert not at.exception and not at.error
    at.radio(key="s3_latents_where").set_value("to a prefix").run()
    at.text_input(key="s3_latents_prefix").input(f"s3://{bucket}/out").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"s3://{bucket}/out/a__demo-vae_latents.h5: outside the S3 locations allowed here (s3://{bucket}/in/): choose "
        "one of those"]
    assert not s3.exists(f"s3://{bucket}/out/a__demo-vae_latents.h5", moto_s3.settings)


def test_without_server_credentials_the_panel_asks_and_uses_the_visitors_own(moto_s3, visitor_keys, sst_h5,
                                                                             workdir_root, deploy):
    bucket = moto_s3.new_bucket()
    s3.upload(sst_h5, f"s3://{bucket}/pp/a_preproc.h5", moto_s3.settings)
    deploy("[s3]\nserver_credentials = false\n")
    key_id, secret = visitor_keys
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert any("enter your own credentials" in i.value for i in at.info)
    assert "s3_bucket" not in [w.key for w in at.text_input]  # nothing to list with yet
    set_auth(moto_s3.endpoint, True)  # the server's (environment's) keys are refused from now on
    try:
        at.text_input(key="s3_key_id").input(key_id)
        at.text_input(key="s3_secret").input(secret)
        at.text_input(key="s3_endpoint").input(moto_s3.endpoint)
        at.button(key="s3_use_credentials").click().run()
        assert not at.exception and not at.error
        assert any(key_id[-4:] in c.value and secret not in c.value for c in at.caption)
        for widget in ("s3_key_id", "s3_secret", "s3_token", "s3_endpoint"):  # the typed values are gone
            assert widget not in at.session_state or not at.session_state[widget]
        at.text_input(key="s3_bucket").input(bucket)
        at.text_input(key="s3_prefix").input("pp/").run()
        at.button(key="s3_list").click().run()
        assert not at.exception and not at.error
        assert list(at.dataframe[0].value["key"]) == ["pp/a_preproc.h5"]
        at.multiselect(key="s3_pick").select("pp/a_preproc.h5").run()
        at.button(key="s3_download").click().run()
        assert not at.exception and not at.error
    finally:
        set_auth(moto_s3.endpoint, False)
    workspace = Path(at.session_state["workdir"])
    assert (workspace / "state.json").is_file() and list(workspace.rglob("a_preproc.h5"))
    for path in workspace.rglob("*"):  # the keys live in the session's memory only
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and key_id.encode() not in data, path
    at.button(key="s3_forget").click().run()
    assert any("enter your own credentials" in i.value for i in at.info)


# -- upload limits --------------------------------------------------------------------------------

def test_uploads_over_the_limits_are_refused_naming_the_file_and_leave_nothing(workdir_root, deploy):
    deploy("[uploads]\nmax_file_bytes = 1000\nmax_files = 2\n")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.file_uploader(key="uploads").set_value([("big.npy", b"x" * 1001, "application/octet-stream")]).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "big.npy: 1001 B is over this server's limit of 1000 B (1,000 bytes) per file; not saved: upload a smaller "
        "file"]
    workspace = Path(at.session_state["workdir"])
    own = {"selection.npy", "state.json", "workspace.lock"}  # the workspace's own files, no upload
    assert [p for p in workspace.rglob("*") if p.is_file() and p.name not in own] == []

    at.file_uploader(key="uploads").set_value([(f"{n}.csv", b"x,y\n1,2\n", "text/csv") for n in "abc"]).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "c.csv: this workspace holds 2 uploaded files, the most this server allows (2 per workspace); not saved: "
        "start a new workspace for more"]
    assert sorted(p.name for p in (workspace / "uploads").iterdir()) == ["a.csv", "b.csv"]


def test_an_upload_larger_than_it_said_is_stopped_with_nothing_left(tmp_path, monkeypatch, deploy, workdir_root):
    import io

    from ui.session import files, lifecycle

    def workdir(sub=""):
        (tmp_path / "ws" / sub).mkdir(parents=True, exist_ok=True)
        return tmp_path / "ws" / sub

    monkeypatch.setattr(lifecycle, "workdir", workdir)
    deploy("[uploads]\nmax_file_bytes = 5000000\n")

    class Liar(io.BytesIO):  # says it is small, then streams more than the limit
        name, size, file_id = "scan.h5", 10, "id-1"

    with pytest.raises(files.UploadRefused, match=r"^scan.h5: more than this server's limit of 4.8 MB"):
        files.save_upload(Liar(b"x" * 6_000_000))
    assert [p for p in (tmp_path / "ws").rglob("*") if p.is_file()] == []
    deploy("[uploads]\nmax_user_bytes = 5000000\n")  # and past the user's share
    with pytest.raises(files.UploadRefused, match=r"^scan.h5: more than fits: your files here take 0 B of this "
                                                  r"server's 4.8 MB per user"):
        files.save_upload(Liar(b"x" * 6_000_000))
    assert [p for p in (tmp_path / "ws").rglob("*") if p.is_file()] == []


def test_s3_downloads_and_uploads_past_the_users_share_or_the_disks_reserve_are_refused_naming_them(
        moto_s3, workdir_root, deploy):
    bucket = moto_s3.new_bucket()
    big = put(moto_s3, bucket, "big.npy", b"b" * 30_000)
    put(moto_s3, bucket, "small.npy", b"s" * 2_000)
    deploy(f'[s3]\nserver_credentials = true\nallow = ["{bucket}"]\n[uploads]\nmax_user_bytes = 20000\n')
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.button(key="s3_list").click().run()
    at.multiselect(key="s3_pick").select("big.npy").select("small.npy").run()
    at.button(key="s3_download").click().run()
    assert not at.exception
    [refused] = [e.value for e in at.error]
    assert refused.startswith(f"{big}: 29.3 KB does not fit: your files here take ") and "of this server's 19.5 KB" \
        " per user; not saved: ask the server's administrator for room (workspaces unused for 7 days are removed)" \
        in refused
    workspace = Path(at.session_state["workdir"])
    [downloaded] = [p for p in workspace.rglob("*.npy*") if p.name != "selection.npy"]
    assert downloaded.name == "small.npy" and downloaded.read_bytes() == b"s" * 2_000
    at.run()  # the uploader says the room left, small.npy counted
    [room] = [c.value for c in at.caption if c.value.startswith("Up to ")]
    left, taken = re.fullmatch(r"Up to 4.0 GB a file, ([\d.]+) KB more in all: your files here take ([\d.]+) KB of "
                               r"this server's 19.5 KB per user.", room).groups()
    assert float(taken) > 2_000 / 1024 and abs(float(left) + float(taken) - 19.5) < 0.15
    with pytest.raises(S3Error, match=rf"^{big}: the object holds 30,000 bytes, more than the 29,999"):
        s3.download(big, workspace / "engine", moto_s3.settings, max_bytes=29_999)
    assert not (workspace / "engine").exists() or not any((workspace / "engine").rglob("*.npy*"))

    deploy("[uploads]\nmin_free_bytes = 4611686018427387904\n")  # more than any disk holds
    at.file_uploader(key="uploads").set_value([("tiny.npy", b"x" * 10, "application/octet-stream")]).run()
    assert not at.exception
    [refused] = [e.value for e in at.error]
    assert refused.startswith("tiny.npy: 10 B does not fit: this server's disk has ") and \
        "free and keeps 4194304.0 TB of it for everyone's results; not saved" in refused
    assert not list(workspace.rglob("tiny.npy*"))


def test_a_broken_deployment_file_is_one_line_in_the_panel_not_a_broken_page(workdir_root, deploy):
    path = deploy("[s3]\nserver_credentials = true\n")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert any(e.value.startswith(path.name) and "needs an allow list" in e.value for e in at.error)
    assert at.selectbox(key="data_source").options  # the rest of the Data page is drawn
