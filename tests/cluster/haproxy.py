"""haproxy in front of several servers on 127.0.0.1, for the multi-instance tests.

    with Haproxy([port_a, port_b], health="http", basic_auth=("admin", "pw")) as lb:
        requests.get(lb.url + "/service")
        lb.server_states()   # {"s0": "UP", "s1": "DOWN"}

haproxy runs in the foreground (`-db`) as a child process, balancing round-robin over the given
backends with health checks every `check_interval_ms`: `GET {check_path}` (with a basic-auth
header when given) expecting 200, or a plain TCP connect. A backend is marked down after `fall`
failed checks; a request that cannot connect is retried on another backend (`option
redispatch`), so clients see no error while a dead backend is being noticed. The stats socket
(`server_states`) says which backends haproxy considers up.
"""
from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def haproxy_binary() -> str:
    """The haproxy executable; installs the test packages (scripts/deps.sh test) when missing."""
    found = shutil.which("haproxy") or (os.path.exists("/usr/sbin/haproxy") and "/usr/sbin/haproxy")
    if not found:
        subprocess.run([str(REPO / "scripts" / "deps.sh"), "test"], check=True)
        found = shutil.which("haproxy") or (os.path.exists("/usr/sbin/haproxy") and "/usr/sbin/haproxy")
    if not found:
        raise RuntimeError("haproxy is not installed and scripts/deps.sh test did not install it")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    """Waits until 127.0.0.1:port accepts connections (fails early if `proc` exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
        time.sleep(0.05)


class Haproxy:
    """One haproxy process balancing over `backends` (ports on 127.0.0.1)."""

    def __init__(self, backends: list[int], *, health: str = "http", check_path: str = "/service",
                 basic_auth: tuple[str, str] | None = None, check_interval_ms: int = 200,
                 fall: int = 2, rise: int = 1, port: int | None = None,
                 timeout_server_s: int = 60):
        if health not in ("http", "tcp"):
            raise ValueError("health is 'http' or 'tcp'")
        if not backends:
            raise ValueError("at least one backend")
        self.backends = list(backends)
        self.health = health
        self.check_path = check_path
        self.basic_auth = basic_auth
        self.check_interval_ms = check_interval_ms
        self.fall = fall
        self.rise = rise
        self.port = port or free_port()
        self.timeout_server_s = timeout_server_s
        self.workdir: Path | None = None  # config, log and stats socket; made by start()
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        """The haproxy configuration this instance runs with."""
        lines = ["global", "    maxconn 4096"]
        if self.workdir is not None:
            lines.append(f"    stats socket {self.workdir / 'admin.sock'} mode 600 level admin")
        lines += [
            "defaults",
            "    mode http",
            "    option redispatch",
            "    retries 2",
            "    timeout connect 2s",
            "    timeout client 60s",
            f"    timeout server {self.timeout_server_s}s",
            "    timeout check 2s",
            "frontend tams",
            f"    bind 127.0.0.1:{self.port}",
            "    default_backend instances",
            "backend instances",
            "    balance roundrobin",
        ]
        if self.health == "http":
            send = f"    http-check send meth GET uri {self.check_path}"
            if self.basic_auth:
                token = base64.b64encode(":".join(self.basic_auth).encode()).decode()
                send += f' hdr Authorization "Basic {token}"'
            lines += ["    option httpchk", send, "    http-check expect status 200"]
        lines.append(f"    default-server check inter {self.check_interval_ms}ms "
                     f"fall {self.fall} rise {self.rise}")
        lines += [f"    server s{i} 127.0.0.1:{p}" for i, p in enumerate(self.backends)]
        return "\n".join(lines) + "\n"

    def start(self) -> "Haproxy":
        binary = haproxy_binary()
        self.workdir = Path(tempfile.mkdtemp(prefix="tams-haproxy-"))
        config_path = self.workdir / "haproxy.cfg"
        config_path.write_text(self.config())
        check = subprocess.run([binary, "-c", "-q", "-f", str(config_path)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration:\n{check.stderr}")
        self._log = open(self.workdir / "haproxy.log", "wb")
        self.proc = subprocess.Popen([binary, "-db", "-f", str(config_path)],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, proc=self.proc)
        except Exception:
            output = self.output()
            self.stop()
            raise RuntimeError(f"haproxy did not start:\n{output}")
        return self

    def stop(self) -> None:
        """Stops haproxy (SIGTERM, then SIGKILL after 5 s) and removes its files."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def output(self) -> str:
        """What haproxy printed so far (its log goes to stdout with -db)."""
        try:
            return (self.workdir / "haproxy.log").read_text(errors="replace")
        except (OSError, TypeError):
            return ""

    def admin(self, command: str) -> str:
        """One command on the stats socket (e.g. "show stat"); returns the answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(self.workdir / "admin.sock"))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def server_stats(self) -> dict[str, dict[str, str]]:
        """haproxy's statistics of each backend server ("s0", ...): its `show stat` columns, e.g.
        "status" ("UP", "DOWN", "UP 1/2", ...) and "stot" (requests it was given)."""
        lines = [line for line in self.admin("show stat").splitlines() if line]
        header = lines[0].lstrip("# ").split(",")
        stats = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "instances" and row.get("svname") not in ("BACKEND", "FRONTEND"):
                stats[row["svname"]] = row
        return stats

    def server_states(self) -> dict[str, str]:
        """Each backend server's status as haproxy sees it ("UP", "DOWN", "UP 1/2", ...)."""
        return {name: row["status"] for name, row in self.server_stats().items()}

    def wait_for_states(self, wanted: dict[str, str], timeout: float = 10.0) -> float:
        """Waits until every server in `wanted` has that status; returns the seconds it took."""
        start = time.monotonic()
        while True:
            states = self.server_states()
            if all(states.get(name) == status for name, status in wanted.items()):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"haproxy states {states}, wanted {wanted} within {timeout}s")
            time.sleep(0.05)

    def __enter__(self) -> "Haproxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
