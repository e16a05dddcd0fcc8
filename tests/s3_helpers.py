"""A real S3-compatible server on 127.0.0.1 (moto's standalone server in a thread), shared by the
S3, batch and S3-panel tests. Import the fixtures into a test module to use them."""
from __future__ import annotations

import dataclasses
import logging
import urllib.request
import uuid


from latentcore.storage.s3 import S3Settings, client_for

FAKE_KEY_ID = "AKIATESTKEY000000000"
FAKE_SECRET = "test-secret-never-printed-0123456789"


@dataclasses.dataclass
class MotoS3:
    server: object
    endpoint: str
    settings: S3Settings

    @property
    def client(self):
        return client_for(self.settings)

    def new_bucket(self) -> str:
        """A fresh bucket per test: moto's state is shared by every server in the process."""
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def require_auth(self, required: bool):
        """Make the server check credentials (moto accepts anything by default)."""
        body = b"0" if required else b"inf"
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=body, method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request).read()


def isolated_aws_env(monkeypatch, endpoint: str | None = None, cache_dir=None):
    """Fake credentials in the environment, no profile files or instance role from this machine;
    the S3 download cache in a test folder (Dask workers inherit all of it)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "LATENTCORE_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if endpoint:
        monkeypatch.setenv("LATENTCORE_S3_ENDPOINT_URL", endpoint)
    if cache_dir:
        monkeypatch.setenv("LATENTCORE_S3_CACHE", str(cache_dir))


def start_server(port: int = 0):
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in test output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


class FlakyProxy:
    """A real HTTP server on 127.0.0.1 in front of the S3 server that answers the first `failures`
    requests with `status` (S3's SlowDown error) and forwards the rest: retries are exercised over
    the wire, not by patching boto3."""

    def __init__(self, target_endpoint: str, failures: int, status: int = 503):
        import http.client
        import http.server
        import threading
        from urllib.parse import urlparse

        target = urlparse(target_endpoint)
        proxy = self
        self.failures, self.requests = failures, 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests += 1
                if proxy.requests <= proxy.failures:
                    error = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                             b'<Message>Please reduce your request rate.</Message></Error>')
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(error)
                    return
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                length = response.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
