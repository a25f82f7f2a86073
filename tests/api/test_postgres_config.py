"""Choosing the PostgreSQL metadata store (db, db_replicas): start-up errors. Needs no database:
runs in the SQLite and the PostgreSQL passes alike (docs/operations.md#postgresql)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("env", [
    {"TAMS_DB": "mysql://tams:s3cret-pw@127.0.0.1/tams"},
    {"TAMS_DB": "postgres://127.0.0.1:1/x", "TAMS_DB_REPLICAS": "http://u:s3cret-pw@h/d"},
    {"TAMS_DB_REPLICA_MAX_LAG_MS": "-5"},
], ids=["db-not-postgres", "replica-not-postgres", "negative-lag"])
def test_bad_database_settings_stop_the_start_without_echoing_secrets(tams_server, env):
    srv = tams_server(env=env, wait=False)
    assert srv.wait_exit(10) == 2
    err = srv.stderr()
    assert "configuration error" in err and "TAMS_DB" in err, err
    assert "s3cret-pw" not in srv.output(), err


def test_unreachable_primary_stops_the_start_and_names_it_without_password(tams_server):
    srv = tams_server(env={"TAMS_DB": "postgres://tams:s3cret-pw@127.0.0.1:1/tams"}, wait=False)
    assert srv.wait_exit(20) != 0
    err = srv.stderr()
    assert "127.0.0.1:1" in err and "***" in err, err
    assert "s3cret-pw" not in srv.output(), err
