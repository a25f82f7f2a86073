"""GET /service/storage-backends (the local backend) and POST /flows/{id}/storage: allocation,
upload to put_url and download through the segment's get_urls."""
import json
import os
from urllib.parse import urlsplit

import pytest

from tams_helpers import (
    DROP, MALFORMED_IDS, UUID_RE, allocate, check, check_error_names, describe, get_segments,
    make_flow, new_id, post_segments, stored_object, unique, upload,
)


def backends(session):
    return check(session.get("/service/storage-backends"), 200, "storage-backends-list.json")


@pytest.fixture(scope="module")
def backend(api):
    [b] = backends(api)
    return b


def assert_put_urls(media_objects, base_url, container):
    base = urlsplit(base_url)
    for mo in media_objects:
        put = mo["put_url"]
        parts = urlsplit(put["url"])
        assert parts.scheme in ("http", "https") and parts.netloc, f"put_url not absolute: {put}"
        assert parts.netloc == base.netloc, f"put_url must point at this server: {put}"
        assert parts.path.startswith("/media/"), f"put_url outside /media/: {put}"
        assert put.get("content-type") == container, f"content-type must be the container: {put}"


# ----------------------------------------------------------------------------- storage backends

def test_one_local_backend(api, backend):
    assert len(backends(api)) == 1
    assert backend["store_type"] == "http_object_store"
    assert backend["provider"] == "tams"
    assert "tams" in backend["store_product"].lower()
    assert backend["label"] == "local"
    assert backend["default_storage"] is True
    assert UUID_RE.match(backend["id"]), backend


def test_backend_id_stable_across_restart(tams_server):
    srv = tams_server()
    with srv.api() as s:
        first = backends(s)
    srv.stop()
    srv.start()
    with srv.api() as s:
        second = backends(s)
    assert [b["id"] for b in second] == [b["id"] for b in first]
    assert second == first


# ----------------------------------------------------------------------------- allocation

@pytest.mark.parametrize("how", ["no-body", "empty-object", "empty-body-json-type"])
def test_allocate_default(api, base_url, create_flow, how):
    flow = create_flow("video")
    path = f"/flows/{flow['id']}/storage"
    if how == "no-body":
        r = api.post(path)
    elif how == "empty-object":
        r = api.post(path, json={})
    else:
        r = api.post(path, data=b"", headers={"Content-Type": "application/json"})
    body = check(r, 201, "flow-storage.json")
    objs = body["media_objects"]
    assert len(objs) == 10, "default limit is 10"
    ids = [o["object_id"] for o in objs]
    assert len(set(ids)) == len(ids), "object ids must be unique"
    assert all(ids), ids
    assert_put_urls(objs, base_url, flow["container"])


@pytest.mark.parametrize("fmt", ["video", "audio", "data", "image", "multi"])
def test_put_url_content_type_is_container(api, base_url, create_flow, fmt):
    flow = create_flow(fmt)
    objs = allocate(api, flow["id"], {"limit": 2})
    assert len(objs) == 2
    assert_put_urls(objs, base_url, flow["container"])


def test_allocate_custom_container(api, base_url, create_flow):
    flow = create_flow("video", container="video/mp4")
    objs = allocate(api, flow["id"], {"limit": 1})
    assert_put_urls(objs, base_url, "video/mp4")


@pytest.mark.parametrize("limit,expected", [(1, 1), (3, 3), (1000, 1000), (1500, 1000)])
def test_allocate_limit(api, create_flow, limit, expected):
    flow = create_flow("video")
    objs = allocate(api, flow["id"], {"limit": limit})
    assert len(objs) == expected
    assert len({o["object_id"] for o in objs}) == expected


def test_allocations_never_repeat_ids(api, create_flow):
    a, b = create_flow("video"), create_flow("audio")
    ids = [o["object_id"] for f in (a, a, b) for o in allocate(api, f["id"], {"limit": 20})]
    assert len(set(ids)) == len(ids) == 60


def test_allocate_with_default_storage_id(api, create_flow, backend):
    flow = create_flow("video")
    objs = allocate(api, flow["id"], {"limit": 2, "storage_id": backend["id"]})
    assert len(objs) == 2


def test_allocate_object_ids(api, base_url, create_flow):
    flow = create_flow("video")
    wanted = [unique("obj-"), f"dir/{unique('sub')}/{new_id()}.ts", unique("x/y/z-")]
    objs = allocate(api, flow["id"], {"object_ids": wanted})
    assert sorted(o["object_id"] for o in objs) == sorted(wanted)
    assert_put_urls(objs, base_url, flow["container"])


def test_allocate_object_ids_with_storage_id(api, create_flow, backend):
    flow = create_flow("video")
    wanted = [unique("obj-")]
    objs = allocate(api, flow["id"], {"object_ids": wanted, "storage_id": backend["id"]})
    assert [o["object_id"] for o in objs] == wanted


def _bad(api, flow_id, body, *names):
    r = api.post(f"/flows/{flow_id}/storage", json=body)
    if names:
        return check_error_names(r, 400, *names, error_type="bad_request")
    return check(r, 400, error_type="bad_request")


def test_limit_and_object_ids_exclusive(api, create_flow):
    flow = create_flow("video")
    oid = unique("obj-")
    _bad(api, flow["id"], {"limit": 1, "object_ids": [oid]}, "limit", "object_ids")
    # nothing was allocated: the id is still free
    assert [o["object_id"] for o in allocate(api, flow["id"], {"object_ids": [oid]})] == [oid]


def test_object_ids_already_allocated(api, create_flow):
    flow, other = create_flow("video"), create_flow("video")
    oid = unique("obj-")
    allocate(api, flow["id"], {"object_ids": [oid]})
    _bad(api, flow["id"], {"object_ids": [oid]}, oid, "object_id", "exist")
    _bad(api, other["id"], {"object_ids": [oid]}, oid, "object_id", "exist")


def test_object_ids_allocated_by_limit_cannot_be_claimed(api, create_flow):
    flow = create_flow("video")
    [mo] = allocate(api, flow["id"], {"limit": 1})
    _bad(api, flow["id"], {"object_ids": [mo["object_id"]]})


def test_object_ids_already_registered(api, create_flow):
    flow, other = create_flow("video"), create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_10:0)"})
    _bad(api, other["id"], {"object_ids": [oid]}, oid, "object_id", "exist")


def test_object_ids_existing_rejects_whole_request(api, create_flow):
    flow = create_flow("video")
    existing, fresh = unique("old-"), unique("new-")
    allocate(api, flow["id"], {"object_ids": [existing]})
    _bad(api, flow["id"], {"object_ids": [fresh, existing]})
    assert [o["object_id"] for o in allocate(api, flow["id"], {"object_ids": [fresh]})] == [fresh]


def test_object_ids_duplicates(api, create_flow):
    flow = create_flow("video")
    oid = unique("dup-")
    _bad(api, flow["id"], {"object_ids": [oid, unique("other-"), oid]})
    assert [o["object_id"] for o in allocate(api, flow["id"], {"object_ids": [oid]})] == [oid]


def test_unknown_storage_id(api, create_flow):
    flow = create_flow("video")
    _bad(api, flow["id"], {"storage_id": new_id()}, "storage_id", "storage")
    _bad(api, flow["id"], {"limit": 2, "storage_id": new_id()}, "storage_id", "storage")


@pytest.mark.parametrize("storage_id", ["not-a-uuid", "5AD3C1E2-7B1F-4B6A-9C3D-2E1F0A9B8C7D", "", 5,
                                        None], ids=["word", "upper", "empty", "int", "null"])
def test_malformed_storage_id(api, create_flow, storage_id):
    flow = create_flow("video")
    _bad(api, flow["id"], {"storage_id": storage_id})


@pytest.mark.parametrize("body", [
    '{"limit": "3"}', '{"limit": 1.5}', '{"limit": null}', '{"object_ids": "abc"}',
    '{"object_ids": [1, 2]}', '{"object_ids": [null]}', "[]", '"x"', "5", "null", "{",
    '{"limit": 3', "not json", '{"limit": 3} {}',
], ids=["limit-string", "limit-float", "limit-null", "object-ids-string", "object-ids-ints",
        "object-ids-null-item", "array", "string", "number", "null", "truncated", "unclosed",
        "not-json", "two-values"])
def test_malformed_body(api, create_flow, body):
    flow = create_flow("video")
    r = api.post(f"/flows/{flow['id']}/storage", data=body,
                 headers={"Content-Type": "application/json"})
    check(r, 400, error_type="bad_request")


def test_flow_missing(api):
    check(api.post(f"/flows/{new_id()}/storage", json={}), 404, error_type="not_found")


@pytest.mark.parametrize("bad_id", MALFORMED_IDS[:3])
def test_flow_id_malformed(api, bad_id):
    check(api.post(f"/flows/{bad_id}/storage", json={}), 404, error_type="not_found")


def test_flow_without_container(api):
    body = make_flow("video", container=DROP)
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    check_error_names(api.post(f"/flows/{body['id']}/storage", json={}), 400, "container",
                      error_type="bad_request")


def test_read_only_flow(api, create_flow):
    flow = create_flow("video")
    check(api.put(f"/flows/{flow['id']}/read_only", json=True), 204)
    check(api.post(f"/flows/{flow['id']}/storage", json={}), 403)
    check(api.post(f"/flows/{flow['id']}/storage", json={"object_ids": [unique("ro-")]}), 403)
    check(api.put(f"/flows/{flow['id']}/read_only", json=False), 204)
    assert len(allocate(api, flow["id"], {"limit": 1})) == 1


def test_allocation_needs_credentials(anon, create_flow):
    flow = create_flow("video")
    check(anon.post(f"/flows/{flow['id']}/storage", json={}), 401)


# ----------------------------------------------------------------------------- env limits

def test_env_limits(tams_server):
    srv = tams_server(env={"TAMS_STORAGE_LIMIT_DEFAULT": "3", "TAMS_STORAGE_LIMIT_MAX": "5"})
    with srv.api() as s:
        flow = make_flow("video")
        check(s.put(f"/flows/{flow['id']}", json=flow), 201, "flow.json")
        assert len(allocate(s, flow["id"])) == 3
        assert len(allocate(s, flow["id"], {})) == 3
        assert len(allocate(s, flow["id"], {"limit": 4})) == 4
        assert len(allocate(s, flow["id"], {"limit": 5})) == 5
        assert len(allocate(s, flow["id"], {"limit": 100})) == 5
        # object_ids are not subject to the limit's default
        ids = [unique("o-") for _ in range(4)]
        assert sorted(o["object_id"] for o in allocate(s, flow["id"], {"object_ids": ids})) \
            == sorted(ids)


# ----------------------------------------------------------------------------- upload/download

@pytest.mark.parametrize("fmt", ["video", "image", "data"])
def test_end_to_end_upload_register_download(api, anon, create_flow, fmt):
    flow = create_flow(fmt)
    [mo] = allocate(api, flow["id"], {"limit": 1})
    data = os.urandom(150_000) + b"\x00" * 10 + b"end"
    upload(api, mo, data, expect=201)
    post_segments(api, flow["id"], {"object_id": mo["object_id"], "timerange": "[0:0_10:0)"})
    [seg] = get_segments(api, flow["id"])
    assert seg["object_id"] == mo["object_id"]
    assert seg["get_urls"], f"a controlled object must have get_urls: {seg}"
    url = seg["get_urls"][0]["url"]
    got = anon.get(url)        # presigned: no credentials needed
    assert got.status_code == 200, describe(got)
    assert got.content == data, "downloaded bytes differ from the uploaded ones"
    assert got.headers.get("Content-Type", "").split(";")[0].strip() == flow["container"], \
        describe(got)
    with_auth = api.get(url)   # a same-origin client may send its credentials too
    assert with_auth.status_code == 200 and with_auth.content == data, describe(with_auth)


def test_upload_empty_object(api, anon, create_flow):
    flow = create_flow("data")
    [mo] = allocate(api, flow["id"], {"limit": 1})
    upload(api, mo, b"", expect=201)
    post_segments(api, flow["id"], {"object_id": mo["object_id"], "timerange": "[0:0_1:0)"})
    [seg] = get_segments(api, flow["id"])
    got = anon.get(seg["get_urls"][0]["url"])
    assert got.status_code == 200 and got.content == b"", describe(got)


def test_each_allocated_object_uploads_separately(api, anon, create_flow):
    flow = create_flow("video")
    objs = allocate(api, flow["id"], {"limit": 3})
    payloads = [os.urandom(1000 + i) for i in range(3)]
    for mo, data in zip(objs, payloads):
        upload(api, mo, data, expect=201)
    segs = [{"object_id": mo["object_id"], "timerange": f"[{i * 10}:0_{i * 10 + 10}:0)"}
            for i, mo in enumerate(objs)]
    post_segments(api, flow["id"], segs)
    got = get_segments(api, flow["id"])
    assert [s["object_id"] for s in got] == [mo["object_id"] for mo in objs]
    for s, data in zip(got, payloads):
        r = anon.get(s["get_urls"][0]["url"])
        assert r.status_code == 200 and r.content == data, describe(r)


def test_object_id_with_slash_round_trip(api, anon, create_flow):
    flow = create_flow("video")
    oid = f"bucket/{unique('p')}/seg 1.ts"
    [mo] = allocate(api, flow["id"], {"object_ids": [oid]})
    assert mo["object_id"] == oid
    data = os.urandom(3000)
    upload(api, mo, data, expect=201)
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    [seg] = get_segments(api, flow["id"])
    assert seg["object_id"] == oid
    r = anon.get(seg["get_urls"][0]["url"])
    assert r.status_code == 200 and r.content == data, describe(r)


def test_storage_response_has_no_extra_members(api, create_flow):
    flow = create_flow("video")
    r = api.post(f"/flows/{flow['id']}/storage", json={"limit": 1})
    body = check(r, 201, "flow-storage.json")
    assert set(body) <= {"media_objects", "pre"}, json.dumps(body)
