"""Two `tams serve` processes on one store behind haproxy: background work is claimed, so a
webhook event is delivered once per registration and a deletion request is processed once,
whichever instance takes it. The store here is one SQLite file shared by both processes (same
data dir); the claims are the same statements PostgreSQL runs with FOR UPDATE SKIP LOCKED."""
from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from haproxy import Haproxy  # noqa: E402
from tams_helpers import (  # noqa: E402
    BASIC_AUTH, Api, ServerFailed, TamsServer, check, make_flow, parse_timerange,
    pg_database_for, pg_test_base, pg_url, psql,
)
from test_webhooks import Receiver, register  # noqa: E402

INSTANCES = 2
SETTLE = 1.5  # seconds to wait for a duplicate that should not come


@pytest.fixture
def cluster(tmp_path):
    """Two instances on one data dir behind haproxy; yields (haproxy, [servers])."""
    env = {"TAMS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "TAMS_WEBHOOK_RETRY_BASE_MS": "50",
           "TAMS_DELETE_BUDGET_MS": "0", "TAMS_JOB_LEASE_SECONDS": "5"}
    data_dir = tmp_path / "data"
    servers = []
    try:
        for i in range(INSTANCES):
            servers.append(TamsServer(tmp_path / f"tams{i}", data_dir=data_dir, env=env).start())
    except ServerFailed as e:
        for srv in servers:
            srv.stop()
        pytest.fail(str(e), pytrace=False)
    lb = Haproxy([srv.port for srv in servers], health="http", basic_auth=BASIC_AUTH)
    with lb:
        lb.wait_for_states({f"s{i}": "UP" for i in range(INSTANCES)})
        yield lb, servers
    for srv in servers:
        srv.stop()


@pytest.fixture
def receiver():
    rx = Receiver()
    yield rx
    rx.close()


def both_served(lb: Haproxy, before: dict[str, int]) -> None:
    """Every instance answered some of the requests since `before` (haproxy's counts)."""
    now = {name: int(row["stot"]) for name, row in lb.server_stats().items()}
    assert all(now[name] > before.get(name, 0) for name in now), (before, now)


def counts(lb: Haproxy) -> dict[str, int]:
    return {name: int(row["stot"]) for name, row in lb.server_stats().items()}


def test_each_event_is_delivered_once_per_registration(cluster, receiver):
    lb, _ = cluster
    with Api(lb.url) as s:
        register(s, receiver.url("/a"), events=["flows/created"])
        register(s, receiver.url("/b"), events=["flows/created"])
        before = counts(lb)
        created = []
        for _ in range(30):
            flow = make_flow("data")
            check(s.put(f"/flows/{flow['id']}", json=flow), 201)
            created.append(flow["id"])
        both_served(lb, before)
    for path in ("/a", "/b"):
        receiver.wait_for(lambda bodies: len(bodies) >= len(created), path=path,
                          what=f"{len(created)} events at {path}")
    time.sleep(SETTLE)
    for path in ("/a", "/b"):
        got = [b["event"]["flow"]["id"] for b in receiver.delivered(path)]
        # Once each, in commit order, although both instances deliver from the one outbox.
        assert got == created, path


def test_a_deletion_request_is_processed_once(cluster, receiver):
    lb, _ = cluster
    n = 6000
    with Api(lb.url) as s:
        flow = make_flow("data")
        fid = flow["id"]
        check(s.put(f"/flows/{fid}", json=flow), 201)
        for first in range(0, n, 1000):
            segments = [{"object_id": f"obj-{i}", "timerange": f"[{i}:0_{i + 1}:0)",
                         "get_urls": [{"url": f"https://media.example/{i}"}]}
                        for i in range(first, first + 1000)]
            check(s.post(f"/flows/{fid}/segments", json=segments), 201)
        register(s, receiver.url("/d"), flow_ids=[fid],
                 events=["flows/segments_deleted", "flows/deleted"])
        r = s.delete(f"/flows/{fid}")
        check(r, 202, "deletion-request.json")
        location = r.headers["Location"]
        deadline = time.monotonic() + 30
        while True:
            got = check(s.get(location), 200, "deletion-request.json")
            assert got["status"] != "error", got
            if got["status"] == "done":
                break
            assert time.monotonic() < deadline, f"deletion request not done: {got}"
            time.sleep(0.1)
        check(s.get(f"/flows/{fid}"), 404)
    receiver.wait_for(lambda bodies: any(b["event_type"] == "flows/deleted" for b in bodies),
                      path="/d", what="flows/deleted")
    time.sleep(SETTLE)
    bodies = receiver.delivered("/d")
    assert [b["event_type"] for b in bodies].count("flows/deleted") == 1
    # The batches (one event each: the first run by the DELETE itself, the rest by whichever
    # instance held the request) deleted disjoint runs of segments that make up the whole flow,
    # and the flow was removed once. (That two instances never hold one request at once is
    # shown by tests/unit/job_claims_test.cc; from outside, only the outcome is visible.)
    ranges = sorted(parse_timerange(b["event"]["timerange"]) for b in bodies
                    if b["event_type"] == "flows/segments_deleted")
    for (_, hi), (lo, _) in zip(ranges, ranges[1:]):
        assert hi <= lo, ranges
    assert ranges[0][0] == 0 and ranges[-1][1] == n * 10**9, ranges
    assert len(ranges) == n // 1000, ranges


def test_a_killed_instances_registration_is_taken_over(cluster):
    """The instance retrying a delivery is SIGKILLed: once its lease ends, the other instance
    takes the registration over and delivers the event."""
    lb, servers = cluster
    rx = Receiver(status=503)
    try:
        with Api(lb.url) as s:
            register(s, rx.url("/k"), events=["flows/created"])
            flow = make_flow("data")
            check(s.put(f"/flows/{flow['id']}", json=flow), 201)
        with rx.cond:
            assert rx.cond.wait_for(lambda: rx.posts, timeout=10), "no attempt at all"
        # Retrying, the registration is held by the instance whose pid is in the lease owner
        # ("<host>/<pid>/<uuid>").
        holder_pid = int(lease_owner(servers[0].data_dir).split("/")[-2])
        [holder] = [srv for srv in servers if srv.proc.pid == holder_pid]
        [survivor] = [srv for srv in servers if srv is not holder]
        holder.proc.kill()
        holder.proc.wait()
        with rx.cond:
            rx.status = 200
        bodies = rx.wait_for(lambda b: len(b) >= 1, path="/k", timeout=15,
                             what="the event from the surviving instance")
        assert bodies[0]["event"]["flow"]["id"] == flow["id"]
        assert f"/{survivor.proc.pid}/" in lease_owner(servers[0].data_dir) or \
            lease_owner(servers[0].data_dir) == ""
    finally:
        rx.close()


def lease_owner(data_dir) -> str:
    """The lease owner of the only webhook registration, read from the database the servers
    share: the SQLite file, or their PostgreSQL database when TAMS_TEST_DB is set."""
    base = pg_test_base()
    if base:
        return psql(pg_url(base, pg_database_for(data_dir)), "SELECT lease_owner FROM webhooks")
    with sqlite3.connect(f"file:{data_dir}/tams.db?mode=ro", uri=True) as db:
        return db.execute("SELECT lease_owner FROM webhooks").fetchone()[0]
