"""A `tams serve` process started for a benchmark, and a keep-alive client to talk to it.

Used by the benchmark framework (bench/run.py, bench/dataset.py) and by
bench/segment_query_scaling.py. Loopback only; the server is stopped by `stop()` (or the context
manager), never left behind.
"""
import http.client
import json
import os
import socket
import subprocess
import time
from base64 import b64encode

USER, PASSWORD = "bench", "bench-pass"
AUTH = "Basic " + b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SEGMENT_NS = 2_000_000_000  # 2 s segments


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ts(ns):
    """A TAMS timestamp `s:ns` for non-negative nanoseconds."""
    return f"{ns // 1_000_000_000}:{ns % 1_000_000_000}"


def window(first_ns, last_ns):
    """The TAMS timerange `[first_ns_last_ns)`."""
    return f"[{ts(first_ns)}_{ts(last_ns)})"


class Client:
    """One keep-alive HTTP/1.1 connection with the benchmark's basic credentials. Not thread-safe:
    one per thread."""

    def __init__(self, port, timeout=120):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None):
        """Sends one request; returns (status, headers, payload bytes)."""
        headers = {"Authorization": AUTH}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.headers, resp.read()

    def expect(self, method, path, body=None, status=(200, 201, 204)):
        """Like request(), but raises RuntimeError when the status is not one of `status`."""
        got, headers, payload = self.request(method, path, body)
        if got not in status:
            raise RuntimeError(f"{method} {path}: {got} {payload[:300]!r}")
        return headers, payload


class Server:
    """`tams serve` on 127.0.0.1 on a free port over `data_dir`, with basic credentials
    bench:bench-pass and warnings-only logging. `env` adds TAMS_* settings."""

    def __init__(self, binary, data_dir, env=None, log_path=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ, TAMS_AUTH_BASIC=f"{USER}:{PASSWORD}", TAMS_LOG_LEVEL="warn")
        full_env.update(env or {})
        self.log = open(log_path, "ab") if log_path else None
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", data_dir],
            env=full_env, stdout=self.log, stderr=self.log)
        self._wait_ready()

    def _wait_ready(self, seconds=120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tams serve exited with {self.proc.returncode} at start")
            try:
                status, _, _ = Client(self.port, timeout=2).request("GET", "/service")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("tams serve did not answer within 120 s")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        """User + system CPU time the server has used so far (/proc/<pid>/stat)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kib(self):
        """{'VmHWM': peak RSS, 'VmRSS': current RSS} in KiB (/proc/<pid>/status)."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("VmHWM", "VmRSS"):
                    out[key] = int(line.split()[1])
        return out

    def stop(self):
        """SIGTERM, then SIGKILL after 30 s; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
