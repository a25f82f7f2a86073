"""Helpers of the storage tests that run against the local store and a real S3 server.

The S3 server is given by the environment (tests/s3/rgw.sh starts Ceph RGW; `make api-s3` sets
these): TAMS_TEST_S3_ENDPOINT (http://127.0.0.1:7480), TAMS_TEST_S3_ACCESS_KEY,
TAMS_TEST_S3_SECRET_KEY, TAMS_TEST_S3_BUCKETS (two existing buckets, default "tams-a tams-b").
Without TAMS_TEST_S3_ENDPOINT the S3 variants are skipped.
"""
from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import uuid
from urllib.parse import quote, urlsplit

S3_ENDPOINT = os.environ.get("TAMS_TEST_S3_ENDPOINT", "")
S3_ACCESS_KEY = os.environ.get("TAMS_TEST_S3_ACCESS_KEY", "tamsaccesskey")
S3_SECRET_KEY = os.environ.get("TAMS_TEST_S3_SECRET_KEY", "tamssecretkey")
S3_BUCKETS = os.environ.get("TAMS_TEST_S3_BUCKETS", "tams-a tams-b").split()
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# The server reads the keys from these variables (access_key_id_env / secret_access_key_env),
# so the configuration file holds no secret.
KEY_ENV = {"TEST_S3_AK": S3_ACCESS_KEY, "TEST_S3_SK": S3_SECRET_KEY}


def backend_toml(bucket, *, id, label, endpoints, default=False, health_ms=300):
    eps = ", ".join(f'"{e}"' for e in endpoints)
    return (f'[[s3_backends]]\nid = "{id}"\nlabel = "{label}"\nendpoints = [{eps}]\n'
            f'bucket = "{bucket}"\nregion = "us-east-1"\npath_style = true\n'
            f'provider = "Ceph"\nstore_product = "RADOS Gateway"\n'
            f'default = {"true" if default else "false"}\n'
            f'access_key_id_env = "TEST_S3_AK"\nsecret_access_key_env = "TEST_S3_SK"\n'
            f'health_check_ms = {health_ms}\ntimeout_ms = 2000\n')


def write_config(path, text):
    path.write_text(text)
    return ["--config", str(path)]


def new_backend_id():
    return str(uuid.uuid4())


def s3_status(method, bucket, key):
    """Status of a SigV4-signed request straight to the S3 server (not through tams), by curl."""
    url = f"{S3_ENDPOINT}/{bucket}/{quote(key, safe='/')}"
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
         "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{S3_ACCESS_KEY}:{S3_SECRET_KEY}",
         "-H", f"x-amz-content-sha256: {EMPTY_SHA256}", "--path-as-is"]
        + (["-I"] if method == "HEAD" else []) + [url],
        capture_output=True, text=True, timeout=30)
    return int(out.stdout or 0)


class TcpProxy:
    """A TCP forwarder on 127.0.0.1:port to `target` (host, port) that can be stopped and
    started again on the same port: an S3 endpoint that goes away and comes back."""

    def __init__(self, target, port=None):
        self.target = target
        self.port = port or _free_port()
        self._listener = None
        self._conns = []
        self._lock = threading.Lock()
        self._thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self._listener = s
        self._thread = threading.Thread(target=self._accept, args=(s,), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._listener:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass
            self._conns.clear()
        if self._thread:
            self._thread.join(timeout=5)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url():
    return f"http://127.0.0.1:{_free_port()}"


def s3_target():
    u = urlsplit(S3_ENDPOINT)
    return (u.hostname, u.port or 80)
