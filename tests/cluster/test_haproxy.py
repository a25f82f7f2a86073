"""Self-test of tests/cluster/haproxy.py: haproxy balances round-robin over two trivial HTTP
servers on 127.0.0.1, and routes around one that was killed within a bounded time."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from haproxy import Haproxy, free_port, wait_for_port

CHECK_MS = 200
FALL = 2
# Marked down after FALL failed checks, CHECK_MS apart, each failing at once (connection
# refused); the rest is slack for a loaded machine.
DOWN_WITHIN = FALL * CHECK_MS / 1000 + 2.0


@pytest.fixture
def backends(tmp_path):
    """Two `python3 -m http.server` processes, each answering GET /service with its name."""
    procs, ports = [], []
    for name in ("b0", "b1"):
        root = tmp_path / name
        root.mkdir()
        (root / "service").write_text(name)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                 "127.0.0.1", "--directory", str(root)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, proc=proc)
        procs.append(proc)
        ports.append(port)
    yield procs, ports
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def answers(url: str, n: int) -> list[tuple[int, str]]:
    """n requests, each on a new connection: (status, body)."""
    out = []
    for _ in range(n):
        r = requests.get(url + "/service", timeout=5)
        out.append((r.status_code, r.text))
    return out


@pytest.mark.parametrize("health", ["http", "tcp"])
def test_balances_and_routes_around_a_dead_backend(backends, health):
    procs, ports = backends
    with Haproxy(ports, health=health, basic_auth=("admin", "secret"),
                 check_interval_ms=CHECK_MS, fall=FALL) as lb:
        lb.wait_for_states({"s0": "UP", "s1": "UP"})
        got = answers(lb.url, 20)
        assert all(status == 200 for status, _ in got), got
        counts = {name: sum(1 for _, body in got if body == name) for name in ("b0", "b1")}
        assert counts == {"b0": 10, "b1": 10}, f"round-robin over both backends: {counts}"

        procs[1].kill()
        procs[1].wait()
        killed = time.monotonic()
        # Requests keep succeeding meanwhile: a refused connection is redispatched.
        while lb.server_states().get("s1", "").startswith("UP"):
            assert time.monotonic() - killed < DOWN_WITHIN, lb.server_states()
            assert answers(lb.url, 1) == [(200, "b0")]
            time.sleep(0.02)
        took = time.monotonic() - killed
        assert lb.server_states()["s1"].startswith("DOWN"), lb.server_states()
        assert took < DOWN_WITHIN, f"marked down after {took:.2f}s"
        print(f"{health} check: backend marked down {took:.2f}s after the kill")
        assert answers(lb.url, 10) == [(200, "b0")] * 10


def test_configuration_is_what_was_asked(backends):
    _, ports = backends
    lb = Haproxy(ports, health="http", basic_auth=("admin", "pw"), check_interval_ms=300)
    cfg = lb.config()
    assert "balance roundrobin" in cfg
    # "admin:pw" in base64, in the check's Authorization header
    assert 'http-check send meth GET uri /service hdr Authorization "Basic YWRtaW46cHc="' in cfg
    assert f"server s0 127.0.0.1:{ports[0]}" in cfg and f"server s1 127.0.0.1:{ports[1]}" in cfg
    assert "check inter 300ms fall 2 rise 1" in cfg
    assert "httpchk" not in Haproxy(ports, health="tcp").config()
    with pytest.raises(ValueError):
        Haproxy(ports, health="udp")
