"""PostgreSQL primary + streaming replica (make test-pg; docs/operations.md#postgresql).

Needs the cluster of tests/pg/pg_cluster.sh: TAMS_TEST_DB (the primary), TAMS_TEST_PG_REPLICA_URL
and TAMS_TEST_PG_DIR. These tests stop and start the cluster's servers, so they are skipped
otherwise. Every server here reads from the replica: reads survive a stopped replica, a stopped
primary makes writes 503 with Retry-After while reads go on from the replica (still ready),
and writes resume when the primary is back; reads right after a write see it (read-your-writes
window).
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tams_helpers import (
    BASIC_AUTH, BASIC_PASS, BASIC_USER, FLOW_LIST, REPO_ROOT, check, make_flow, pg_database_for,
    pg_url, psql, pg_test_base, wait_for,
)

REPLICA_BASE = os.environ.get("TAMS_TEST_PG_REPLICA_URL")
CLUSTER = REPO_ROOT / "tests" / "pg" / "pg_cluster.sh"

pytestmark = pytest.mark.skipif(
    not (pg_test_base() and REPLICA_BASE and os.environ.get("TAMS_TEST_PG_DIR")),
    reason="needs the PostgreSQL test cluster (make test-pg)")


def cluster(*args):
    # The cluster's ports come from the URL: a cluster started on other ports restarts on them.
    env = dict(os.environ, TAMS_PG_DIR=os.environ.get("TAMS_TEST_PG_DIR", ""),
               TAMS_PG_PORT=str(urlsplit(pg_test_base()).port or 5432))
    subprocess.run([str(CLUSTER), *args], check=True, env=env, timeout=120,
                   stdout=subprocess.DEVNULL)


@pytest.fixture
def replicated_server(tams_server, tmp_path):
    """start(**env) -> a server on a fresh database of the primary that reads from the replica."""
    def start(**env):
        database = pg_database_for(tmp_path / "pg")
        settings = {
            "TAMS_DB": pg_url(pg_test_base(), database),
            "TAMS_DB_REPLICAS": pg_url(REPLICA_BASE, database),
            "TAMS_DB_REPLICA_MAX_LAG_MS": "600000",
        }
        settings.update(env)
        srv = tams_server(env=settings)
        srv.replica_url = settings["TAMS_DB_REPLICAS"]
        return srv
    return start


def on_replica(srv, sql):
    return psql(srv.replica_url, sql)


def put_flow(api):
    body = make_flow("data")
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    return body


def replicated(srv, flow_id):
    """Waits until the replica has the flow (and, before that, the new database)."""
    def has_it():
        try:
            return on_replica(srv, f"SELECT count(*) FROM flows WHERE id = '{flow_id}'") == "1"
        except RuntimeError:
            return False
    wait_for(has_it, what="replication of the flow")


def test_reads_go_on_while_the_replica_is_stopped(replicated_server):
    srv = replicated_server(TAMS_DB_READ_PRIMARY_AFTER_WRITE_MS="0")
    api = srv.api()
    flow = put_flow(api)
    replicated(srv, flow["id"])
    cluster("replica", "stop")
    try:
        for i in range(40):
            check(api.get(f"/flows/{flow['id']}"), 200, "flow.json")
            assert flow["id"] in [f["id"] for f in check(api.get("/flows"), 200, FLOW_LIST)]
            if i % 10 == 0:
                put_flow(api)  # writes do not need the replica
            time.sleep(0.05)
    finally:
        cluster("replica", "start")
    # The replica is read from again once it answers (no restart of tams).
    newer = put_flow(api)
    replicated(srv, newer["id"])
    check(api.get(f"/flows/{newer['id']}"), 200, "flow.json")


def test_stopped_primary_makes_writes_503_and_reads_use_the_replica(replicated_server):
    srv = replicated_server()
    api = srv.api()
    flow = put_flow(api)
    replicated(srv, flow["id"])
    assert requests.get(f"{srv.base_url}/health/ready", timeout=10).status_code == 200
    cluster("primary", "stop")
    try:
        # Expected 503s: sent outside the session that fails tests on any 5xx.
        # Still ready without the primary: reads go on (docs/decisions.md).
        check(requests.get(f"{srv.base_url}/health/ready", timeout=30), 200)
        assert requests.get(f"{srv.base_url}/health/live", timeout=10).status_code == 200
        body = make_flow("data")
        r = requests.put(f"{srv.base_url}/flows/{body['id']}", json=body, auth=BASIC_AUTH,
                         timeout=30)
        check(r, 503, error_type="unavailable")
        assert r.headers.get("Retry-After") == "1", r.headers
        # Reads keep working from the replica, pinned window or not.
        for _ in range(10):
            r = api.get(f"/flows/{flow['id']}")
            assert r.status_code == 200, f"{r.status_code} {r.text}\n{srv.stderr()[-3000:]}"
            assert check(r, 200, "flow.json")["id"] == flow["id"]
        check(api.get("/flows"), 200, FLOW_LIST)
    finally:
        cluster("primary", "start")

    # Writes resume without restarting tams.
    def write_works():
        r = requests.put(f"{srv.base_url}/flows/{body['id']}", json=body, auth=BASIC_AUTH,
                         timeout=30)
        return r.status_code == 201
    wait_for(write_works, what="a write after the primary came back")
    check(api.get(f"/flows/{body['id']}"), 200, "flow.json")
    assert requests.get(f"{srv.base_url}/health/ready", timeout=10).status_code == 200


def test_reads_right_after_a_write_see_it(replicated_server):
    """Replay paused on the replica: the read-your-writes window sends reads to the primary; after
    it, reads come from the (stale) replica again. The flow cache is off: it would answer the
    second read from memory, hiding which database served it."""
    srv = replicated_server(TAMS_DB_READ_PRIMARY_AFTER_WRITE_MS="2000", TAMS_CACHE_FLOWS="0")
    api = srv.api()
    seed = put_flow(api)
    replicated(srv, seed["id"])
    time.sleep(2.2)  # out of the window of that write
    on_replica(srv, "SELECT pg_wal_replay_pause()")
    try:
        flow = put_flow(api)
        started = time.monotonic()
        check(api.get(f"/flows/{flow['id']}"), 200, "flow.json")
        assert time.monotonic() - started < 2.0
        time.sleep(2.5)  # the window has passed: the replica serves, and has not replayed it
        check(api.get(f"/flows/{flow['id']}"), 404)
    finally:
        on_replica(srv, "SELECT pg_wal_replay_resume()")
    wait_for(lambda: api.get(f"/flows/{flow['id']}").status_code == 200,
             what="the replica catching up")


def test_a_cache_fill_right_after_a_change_reads_the_primary(replicated_server):
    """Replay paused on the replica: right after one client changes a flow, another client's read
    (not pinned to the primary by a write of its own) fills the flow cache from the primary, so
    the stale replica's copy is never cached; its listing, not cached, still comes from the
    replica."""
    srv = replicated_server(TAMS_AUTH_BASIC=f"{BASIC_USER}:{BASIC_PASS},other:other-pass",
                            TAMS_DB_READ_PRIMARY_AFTER_WRITE_MS="0")
    api, other = srv.api(), srv.api(auth=("other", "other-pass"))
    flow = put_flow(api)
    replicated(srv, flow["id"])
    check(other.get(f"/flows/{flow['id']}"), 200, "flow.json")
    on_replica(srv, "SELECT pg_wal_replay_pause()")
    try:
        check(api.put(f"/flows/{flow['id']}/label", json="changed"), 204)
        listed = check(other.get("/flows"), 200, FLOW_LIST)
        assert [f.get("label") for f in listed if f["id"] == flow["id"]] == [None], \
            "the listing should come from the paused replica"
        for _ in range(3):  # the first fills the cache, the others hit it
            assert check(other.get(f"/flows/{flow['id']}"), 200, "flow.json")["label"] == "changed"
    finally:
        on_replica(srv, "SELECT pg_wal_replay_resume()")
