"""`tams migrate --from sqlite:DIR --to postgres://...`: an embedded store's metadata copied into
PostgreSQL, verified by comparing every listing before and after (run by `make test-pg`, which
sets TAMS_TEST_DB; skipped without a PostgreSQL server)."""
import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from tams_helpers import (
    FLOW_LIST, SEGMENT_LIST, SOURCE_LIST, binary_path, check, external_segment, get_segments, make_flow,
    new_id, pg_test_base, pg_url, post_segments, psql, stored_object, unique,
)

pytestmark = pytest.mark.skipif(not pg_test_base(), reason="needs PostgreSQL (make test-pg)")

WEBHOOK_LIST = {"type": "array", "items": {"$ref": "webhook.json"}}
SQLITE = {"TAMS_DB": "", "TAMS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}


def new_database():
    name = "tams_migrate_" + uuid.uuid4().hex[:12]
    psql(pg_test_base(), f'CREATE DATABASE "{name}"')
    return pg_url(pg_test_base(), name)


def run_migrate(*args):
    return subprocess.run([str(binary_path()), "migrate", *args], capture_output=True, text=True,
                          timeout=120)


def snapshot(s, flow_ids, object_ids):
    """Everything a client can list, with get_urls left out (their signatures carry a time)."""
    out = {
        "service": check(s.get("/service"), 200, "service.json"),
        "backends": check(s.get("/service/storage-backends"), 200, "storage-backends-list.json"),
        "webhooks": check(s.get("/service/webhooks"), 200, WEBHOOK_LIST),
        "sources": check(s.get("/sources", params={"limit": 1000}), 200, SOURCE_LIST),
        "flows": check(s.get("/flows", params={"limit": 1000}), 200, FLOW_LIST),
        "deletions": check(s.get("/flow-delete-requests"), 200, "deletion-requests-list.json"),
    }
    for fid in flow_ids:
        out[f"flow {fid}"] = check(s.get(f"/flows/{fid}", params={"include_timerange": "true"}),
                                   200, "flow.json")
        out[f"segments {fid}"] = check(
            s.get(f"/flows/{fid}/segments", params={"accept_get_urls": "", "limit": 1000}),
            200, SEGMENT_LIST)
    for oid in object_ids:
        out[f"object {oid}"] = check(s.get(f"/objects/{oid}"), 200, "object.json")
    return out


def test_migrate_copies_everything(tams_server, tmp_path):
    src = tams_server(env=SQLITE, name="sqlite")
    data_dir = src.data_dir
    media = {}
    with src.api() as s:
        check(s.post("/service", json={"name": unique("svc-"), "description": "before migration"}),
              200)
        video = make_flow("video", tags={"genre": "news", "channel": "one"})
        audio = make_flow("audio", tags={"genre": "news"})
        for f in (video, audio):
            check(s.put(f"/flows/{f['id']}", json=f), 201)
        collector = make_flow("multi", flow_collection=[{"id": video["id"], "role": "video"},
                                                          {"id": audio["id"], "role": "audio"}])
        check(s.put(f"/flows/{collector['id']}", json=collector), 201)
        for i in range(3):  # segments of objects held by the local media store
            oid, data = stored_object(s, video["id"])
            media[oid] = data
            post_segments(s, video["id"], {"object_id": oid, "timerange": f"[{i}:0_{i + 1}:0)"})
        # the same object referenced by a second flow, and external objects
        first = next(iter(media))
        post_segments(s, audio["id"], {"object_id": first, "timerange": "[0:0_1:0)"})
        post_segments(s, audio["id"], [external_segment(f"[{i}:0_{i + 1}:0)") for i in (5, 6)])
        check(s.post("/service/webhooks", json={
            "url": "http://127.0.0.1:9/hook", "api_key_name": "X-Key", "api_key_value": "secret",
            "events": ["flows/created", "flows/segments_added"]}), 201)
        doomed = make_flow("data")
        check(s.put(f"/flows/{doomed['id']}", json=doomed), 201)
        check(s.delete(f"/flows/{doomed['id']}"), 204)
        flow_ids = [video["id"], audio["id"], collector["id"]]
        before = snapshot(s, flow_ids, list(media))
    src.stop()

    target = new_database()
    r = run_migrate("--from", f"sqlite:{data_dir}", "--to", target)
    assert r.returncode == 0, r.stderr
    for table in ("sources", "flows", "segments", "objects", "webhooks", "events"):
        assert table in r.stdout, r.stdout

    dst = tams_server(env={"TAMS_DB": target, "TAMS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"},
                      data_dir=data_dir, name="postgres")
    with dst.api() as s:
        after = snapshot(s, flow_ids, list(media))
        assert after == before
        # the media stayed where it was and is found again through the migrated metadata
        segs = get_segments(s, video["id"])
        assert len(segs) == 3
        for seg in segs:
            [url] = [u["url"] for u in seg["get_urls"]]
            assert s.get(url).content == media[seg["object_id"]]
        # the store goes on: new writes after the copied ones (sequences continued)
        post_segments(s, video["id"], external_segment("[9:0_10:0)"))
        check(s.post("/service/webhooks", json={
            "url": "http://127.0.0.1:9/other", "events": ["flows/deleted"]}), 201)
        assert len(check(s.get("/service/webhooks"), 200, WEBHOOK_LIST)) == 2


def test_migrate_refuses_a_database_with_metadata(tams_server):
    src = tams_server(env=SQLITE, name="sqlite")
    with src.api() as s:
        f = make_flow("video")
        check(s.put(f"/flows/{f['id']}", json=f), 201)
    src.stop()
    target = new_database()
    assert run_migrate("--from", f"sqlite:{src.data_dir}", "--to", target).returncode == 0
    again = run_migrate("--from", f"sqlite:{src.data_dir}", "--to", target)
    assert again.returncode == 1
    assert "already holds metadata" in again.stderr and "nothing was committed" in again.stderr
    # and the first copy is intact
    dst = tams_server(env={"TAMS_DB": target}, data_dir=src.data_dir, name="postgres")
    with dst.api() as s:
        assert [x["id"] for x in check(s.get("/flows"), 200, FLOW_LIST)] == [f["id"]]


def test_migrate_bad_arguments(tmp_path):
    r = run_migrate("--from", str(tmp_path), "--to", pg_test_base())
    assert r.returncode == 2 and "sqlite:DATA_DIR" in r.stderr
    r = run_migrate("--from", f"sqlite:{tmp_path}", "--to", "mysql://x")
    assert r.returncode == 2 and "postgres://" in r.stderr
    r = run_migrate("--from", f"sqlite:{tmp_path / 'none'}", "--to", pg_test_base())
    assert r.returncode == 1 and "no embedded store" in r.stderr


def test_migrate_never_prints_the_password(tmp_path, tams_server):
    src = tams_server(env=SQLITE, name="sqlite")
    src.stop()
    parts = urlsplit(pg_test_base())
    wrong = parts._replace(netloc=f"tams_nobody:hunter2-secret@{parts.hostname}:{parts.port}").geturl()
    r = run_migrate("--from", f"sqlite:{src.data_dir}", "--to", wrong)
    assert r.returncode == 1
    assert "hunter2-secret" not in r.stdout + r.stderr
