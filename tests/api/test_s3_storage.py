"""The storage flows against each kind of backend: the local store, and a real S3 server (Ceph
RGW, see tests/s3/rgw.sh and s3_helpers.py): allocate, PUT through the presigned URL with a plain
HTTP client, register, GET through get_urls, identical bytes; tampered and expired URLs refused;
bytes deleted only when the last reference goes, and expired allocations deleted; several
backends at once with storage_id and accept_storage_ids; an S3 endpoint that goes away (503 on
allocation, recovery when it returns) and several endpoints per backend."""
import os
import time
from urllib.parse import quote, urlsplit, urlunsplit, parse_qsl, urlencode

import pytest
import requests

from s3_helpers import (
    KEY_ENV, S3_BUCKETS, S3_ENDPOINT, S3_SECRET_KEY, TcpProxy, backend_toml, closed_port_url,
    new_backend_id, s3_status, s3_target, write_config,
)
from tams_helpers import (
    FIVE_XX, Api, ServerFailed, TamsServer, allocate, check, describe, get_segments, make_flow,
    new_id, post_segments, unique, upload,
)

needs_s3 = pytest.mark.skipif(not S3_ENDPOINT, reason="TAMS_TEST_S3_ENDPOINT not set (make api-s3)")
KINDS = ["local", pytest.param("s3", marks=needs_s3)]
DONE_WITHIN = 15.0

# Object ids with characters that URLs reserve, as clients choose them.
AWKWARD_IDS = ["plain-{u}", "dir/{u}/seg 1.ts", "q?a=b&c=d#frag%25+plus/{u}", "unicode-\u00e9\u4e2d/{u}",
               "semi;colon,comma:colon@at!'()*$/{u}"]


def wait_for(predicate, timeout=DONE_WITHIN, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def start_server(workdir, kind, extra_toml="", env=None, backends=None):
    """A tams server whose default backend is `kind`; returns (server, backend ids by label)."""
    workdir.mkdir(parents=True, exist_ok=True)
    text = "gc_interval_seconds = 1\n" + extra_toml
    ids = {}
    if kind == "s3":
        text += 'local_storage = "secondary"\n'
        for label, bucket, endpoints, default in backends or [("s3-a", S3_BUCKETS[0], [S3_ENDPOINT], True)]:
            ids[label] = new_backend_id()
            text += backend_toml(bucket, id=ids[label], label=label, endpoints=endpoints,
                                 default=default)
    args = write_config(workdir / "tams.toml", text)
    srv = TamsServer(workdir, args=args, env={**KEY_ENV, **(env or {})})
    try:
        srv.start()
    except ServerFailed as e:
        pytest.fail(str(e), pytrace=False)
    return srv, ids


@pytest.fixture(scope="module", params=KINDS)
def kind_server(request, tmp_path_factory):
    kind = request.param
    backends = None
    if kind == "s3":
        backends = [("s3-a", S3_BUCKETS[0], [S3_ENDPOINT], True),
                    ("s3-b", S3_BUCKETS[1], [S3_ENDPOINT], False)]
    srv, ids = start_server(tmp_path_factory.mktemp(f"tams-{kind}"), kind, backends=backends)
    yield kind, srv, ids
    srv.stop()


@pytest.fixture
def kind(kind_server):
    return kind_server[0]


@pytest.fixture
def srv(kind_server):
    return kind_server[1]


@pytest.fixture
def s(srv):
    with srv.api() as session:
        yield session


@pytest.fixture
def plain():
    """A plain HTTP client: no credentials, no session state, nothing from the environment."""
    with requests.Session() as p:
        p.trust_env = False
        yield p


def new_flow(s, fmt="video", **fields):
    body = make_flow(fmt, **fields)
    check(s.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    return body


def put_bytes(plain, media_object, data):
    put = media_object["put_url"]
    return plain.put(put["url"], data=data, headers={"Content-Type": put["content-type"]})


def backend_by_label(s, label):
    backends = check(s.get("/service/storage-backends"), 200, "storage-backends-list.json")
    [b] = [b for b in backends if b.get("label") == label]
    return b


def controlled_url(s, flow_id, **params):
    [seg] = get_segments(s, flow_id, verbose_storage="true", **params)
    [u] = [u for u in seg["get_urls"] if u.get("controlled")]
    return u


def expect_503(resp):
    """A deliberate 503: Retry-After and an error body; not counted as a server failure."""
    body = check(resp, 503)
    assert resp.headers.get("Retry-After"), describe(resp)
    FIVE_XX[:] = [x for x in FIVE_XX if "-> 503" not in x]
    return body


# ----------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("template", AWKWARD_IDS)
def test_put_register_get_identical_bytes(kind, s, plain, template):
    flow = new_flow(s)
    oid = template.format(u=new_id())
    [mo] = allocate(s, flow["id"], {"object_ids": [oid]})
    assert mo["object_id"] == oid
    if kind == "s3":
        assert mo["put_url"]["url"].startswith(S3_ENDPOINT + "/"), mo
    data = os.urandom(200_000) + b"end"
    r = put_bytes(plain, mo, data)
    assert r.status_code in (200, 201), describe(r)
    post_segments(s, flow["id"], {"object_id": oid, "timerange": "[0:0_2:0)"})
    u = controlled_url(s, flow["id"])
    assert u["presigned"] is True
    got = plain.get(u["url"])
    assert got.status_code == 200, describe(got)
    assert got.content == data, "downloaded bytes differ from the uploaded ones"


def test_allocation_by_limit_and_many_objects(kind, s, plain):
    flow = new_flow(s, "data")
    objs = allocate(s, flow["id"], {"limit": 5})
    payloads = [os.urandom(100 + i) for i in range(5)]
    for mo, data in zip(objs, payloads):
        assert put_bytes(plain, mo, data).status_code in (200, 201)
    post_segments(s, flow["id"], [{"object_id": mo["object_id"], "timerange": f"[{i}:0_{i + 1}:0)"}
                                  for i, mo in enumerate(objs)])
    for seg, data in zip(get_segments(s, flow["id"]), payloads):
        assert plain.get(seg["get_urls"][0]["url"]).content == data


def test_bulk_registration_checks_every_upload(kind, s, plain):
    flow = new_flow(s, "data")
    objs = allocate(s, flow["id"], {"limit": 20})
    missing = objs[13]["object_id"]
    for mo in objs:
        if mo["object_id"] != missing:
            assert put_bytes(plain, mo, mo["object_id"].encode()).status_code in (200, 201)
    body = post_segments(s, flow["id"], [{"object_id": mo["object_id"], "timerange": f"[{i}:0_{i + 1}:0)"}
                                         for i, mo in enumerate(objs)], expect=200)
    assert [f["object_id"] for f in body["failed_segments"]] == [missing], body
    segs = get_segments(s, flow["id"])
    assert len(segs) == 19 and missing not in {x["object_id"] for x in segs}


def test_registration_refused_before_upload(kind, s):
    flow = new_flow(s)
    [mo] = allocate(s, flow["id"], {"limit": 1})
    r = s.post(f"/flows/{flow['id']}/segments", json={"object_id": mo["object_id"],
                                                        "timerange": "[0:0_1:0)"})
    check(r, 400, error_type="bad_request")


# ----------------------------------------------------------------------------- refusals

def tamper(url, part):
    u = urlsplit(url)
    q = parse_qsl(u.query, keep_blank_values=True)
    if part == "signature":
        q = [(k, (v[:-1] + ("0" if v[-1] != "0" else "1")) if k.lower().endswith("signature") else v)
             for k, v in q]
        return urlunsplit(u._replace(query=urlencode(q)))
    if part == "expiry":
        q = [(k, str(int(v) + 100)) if k in ("X-Amz-Expires", "expires") else (k, v) for k, v in q]
        return urlunsplit(u._replace(query=urlencode(q)))
    if part == "object":
        return urlunsplit(u._replace(path=u.path + "x"))
    if part == "method":   # a GET URL used to PUT
        return url
    raise ValueError(part)


@pytest.mark.parametrize("part", ["signature", "expiry", "object", "method"])
def test_tampered_urls_refused(kind, s, plain, part):
    flow = new_flow(s)
    [mo] = allocate(s, flow["id"], {"limit": 1})
    data = os.urandom(1000)
    assert put_bytes(plain, mo, data).status_code in (200, 201)
    post_segments(s, flow["id"], {"object_id": mo["object_id"], "timerange": "[0:0_1:0)"})
    get_url = controlled_url(s, flow["id"])["url"]
    if part == "method":
        r = plain.put(get_url, data=b"overwrite")
        assert r.status_code == 403, describe(r)
    else:
        bad_put = plain.put(tamper(mo["put_url"]["url"], part), data=b"evil")
        assert bad_put.status_code == 403, describe(bad_put)
        bad_get = plain.get(tamper(get_url, part))
        assert bad_get.status_code == 403, describe(bad_get)
    assert plain.get(get_url).content == data, "a refused request must change nothing"


def test_expired_urls_refused(kind, tmp_path, plain):
    srv, _ = start_server(tmp_path / "expiry", kind, "media_url_expiry_seconds = 1\n")
    try:
        with srv.api() as s:
            flow = new_flow(s)
            [mo, late] = allocate(s, flow["id"], {"limit": 2})
            data = os.urandom(500)
            assert put_bytes(plain, mo, data).status_code in (200, 201)
            post_segments(s, flow["id"], {"object_id": mo["object_id"], "timerange": "[0:0_1:0)"})
            get_url = controlled_url(s, flow["id"])["url"]
            time.sleep(2.5)
            r = put_bytes(plain, late, b"too late")
            assert r.status_code == 403, describe(r)
            r = plain.get(get_url)
            assert r.status_code == 403, describe(r)
            fresh = controlled_url(s, flow["id"])["url"]
            assert plain.get(fresh).content == data
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- deletion

def test_bytes_deleted_only_when_last_reference_goes(kind, s, plain):
    a, b = new_flow(s), new_flow(s)
    [mo] = allocate(s, a["id"], {"object_ids": [f"shared/{new_id()} x?.ts"]})
    oid = mo["object_id"]
    data = os.urandom(30_000)
    assert put_bytes(plain, mo, data).status_code in (200, 201)
    post_segments(s, a["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    post_segments(s, b["id"], {"object_id": oid, "timerange": "[5:0_6:0)"})
    url = controlled_url(s, b["id"])["url"]

    check(s.delete(f"/flows/{a['id']}/segments"), 204)
    time.sleep(2.5)                                   # at least two collections
    r = plain.get(url)
    assert r.status_code == 200 and r.content == data, "deleted while still referenced"

    check(s.delete(f"/flows/{b['id']}/segments"), 204)
    wait_for(lambda: plain.get(url).status_code == 404, what="bytes deleted after the last reference")
    if kind == "s3":
        assert s3_status("HEAD", S3_BUCKETS[0], oid) == 404


@needs_s3
def test_expired_allocations_deleted_from_bucket(tmp_path, plain):
    srv, _ = start_server(tmp_path / "alloc", "s3", "allocation_expiry_seconds = 1\n")
    try:
        with srv.api() as s:
            flow = new_flow(s)
            [mo] = allocate(s, flow["id"], {"object_ids": [f"expiring/{new_id()}"]})
            assert put_bytes(plain, mo, b"never registered").status_code in (200, 201)
            assert s3_status("HEAD", S3_BUCKETS[0], mo["object_id"]) == 200
            wait_for(lambda: s3_status("HEAD", S3_BUCKETS[0], mo["object_id"]) == 404,
                     what="expired allocation deleted from the bucket")
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- several backends

@needs_s3
def test_storage_backends_listed(kind, s, srv):
    if kind != "s3":
        pytest.skip("the S3 server has three backends")
    backends = check(s.get("/service/storage-backends"), 200, "storage-backends-list.json")
    by_label = {b["label"]: b for b in backends}
    assert set(by_label) == {"local", "s3-a", "s3-b"}
    assert [b["label"] for b in backends if b["default_storage"]] == ["s3-a"]
    assert by_label["s3-a"]["provider"] == "Ceph"
    assert by_label["s3-a"]["store_product"] == "RADOS Gateway"
    assert by_label["s3-a"]["region"] == "us-east-1"
    assert S3_SECRET_KEY not in srv.output(), "the secret key must never be logged"


@needs_s3
def test_storage_id_selects_backend_and_filters(kind, s, plain):
    if kind != "s3":
        pytest.skip("the S3 server has three backends")
    a, b, local = (backend_by_label(s, x) for x in ("s3-a", "s3-b", "local"))
    flow = new_flow(s)
    placed = {}
    for label, backend in (("s3-b", b), ("local", local), ("s3-a", None)):
        body = {"limit": 1} if backend is None else {"limit": 1, "storage_id": backend["id"]}
        [mo] = allocate(s, flow["id"], body)
        data = os.urandom(777)
        assert put_bytes(plain, mo, data).status_code in (200, 201), label
        placed[label] = (mo, data)
    assert f"/{S3_BUCKETS[1]}/" in placed["s3-b"][0]["put_url"]["url"]
    assert f"/{S3_BUCKETS[0]}/" in placed["s3-a"][0]["put_url"]["url"], "default backend is s3-a"
    assert "/media/" in placed["local"][0]["put_url"]["url"]
    for i, label in enumerate(("s3-a", "s3-b", "local")):
        post_segments(s, flow["id"], {"object_id": placed[label][0]["object_id"],
                                      "timerange": f"[{i}:0_{i + 1}:0)"})
    ids = {"s3-a": a["id"], "s3-b": b["id"], "local": local["id"]}
    segs = get_segments(s, flow["id"], verbose_storage="true")
    for seg, label in zip(segs, ("s3-a", "s3-b", "local")):
        [u] = seg["get_urls"]
        assert u["label"] == label and u["storage_id"] == ids[label] and u["controlled"] is True, u
        assert plain.get(u["url"]).content == placed[label][1]
    only_b = get_segments(s, flow["id"], accept_storage_ids=b["id"])
    assert [len(seg["get_urls"]) for seg in only_b] == [0, 1, 0]
    both = get_segments(s, flow["id"], accept_storage_ids=f"{a['id']},{local['id']}")
    assert [len(seg["get_urls"]) for seg in both] == [1, 0, 1]
    assert get_segments(s, flow["id"], accept_get_urls="s3-b")[1]["get_urls"][0]["label"] == "s3-b"


# ----------------------------------------------------------------------------- endpoints down

@needs_s3
def test_endpoint_down_then_back(tmp_path, plain):
    proxy = TcpProxy(s3_target()).start()
    srv, _ = start_server(tmp_path / "down", "s3", env={"TAMS_JOB_LEASE_SECONDS": "2"},
                          backends=[("gw", S3_BUCKETS[0], [proxy.url], True)])
    try:
        with srv.api() as s:
            flow = new_flow(s)
            [mo, pending] = allocate(s, flow["id"], {"limit": 2})
            data = os.urandom(2048)
            assert put_bytes(plain, mo, data).status_code in (200, 201)
            assert put_bytes(plain, pending, b"uploaded").status_code in (200, 201)
            post_segments(s, flow["id"], {"object_id": mo["object_id"], "timerange": "[0:0_1:0)"})

            proxy.stop()
            wait_for(lambda: s.post(f"/flows/{flow['id']}/storage", json={"limit": 1}).status_code == 503,
                     what="allocation refused while the endpoint is down")
            body = expect_503(s.post(f"/flows/{flow['id']}/storage", json={"limit": 1}))
            assert "gw" in body["summary"], body
            # the upload check of a registration cannot be done: 503, nothing registered
            expect_503(s.post(f"/flows/{flow['id']}/segments",
                              json={"object_id": pending["object_id"], "timerange": "[1:0_2:0)"}))
            # listings stay available, with URLs signed for the configured endpoint
            [seg] = get_segments(s, flow["id"])
            assert seg["get_urls"][0]["url"].startswith(proxy.url)
            # the last reference goes while the store is down: the deletion waits, it is not lost
            check(s.delete(f"/flows/{flow['id']}/segments"), 204)
            time.sleep(2.5)
            assert s3_status("HEAD", S3_BUCKETS[0], mo["object_id"]) == 200

            proxy.start()
            wait_for(lambda: s.post(f"/flows/{flow['id']}/storage", json={"limit": 1}).status_code == 201,
                     what="allocation accepted again after the endpoint came back")
            post_segments(s, flow["id"], {"object_id": pending["object_id"], "timerange": "[1:0_2:0)"})
            wait_for(lambda: s3_status("HEAD", S3_BUCKETS[0], mo["object_id"]) == 404,
                     what="the deferred deletion done after recovery")
            FIVE_XX[:] = [x for x in FIVE_XX if "-> 503" not in x]   # the polls above
        assert "is unhealthy" in srv.output() and "answering again" in srv.output()
    finally:
        srv.stop()
        proxy.stop()


@needs_s3
def test_several_endpoints_spread_and_skip_unhealthy(tmp_path, plain):
    second = TcpProxy(s3_target())            # not started yet: a closed port
    srv, _ = start_server(tmp_path / "multi", "s3",
                          backends=[("gw", S3_BUCKETS[0], [S3_ENDPOINT, second.url], True)])
    try:
        with srv.api() as s:
            flow = new_flow(s)
            objs = allocate(s, flow["id"], {"limit": 20})
            hosts = {urlsplit(mo["put_url"]["url"]).port for mo in objs}
            assert hosts == {urlsplit(S3_ENDPOINT).port}, "the unhealthy endpoint must be skipped"
            assert put_bytes(plain, objs[0], b"x").status_code in (200, 201)

            second.start()
            def spread():
                ports = {urlsplit(mo["put_url"]["url"]).port
                         for mo in allocate(s, flow["id"], {"limit": 10})}
                return ports == {urlsplit(S3_ENDPOINT).port, second.port}
            wait_for(spread, what="the recovered endpoint re-admitted")
            # a URL signed for the second gateway works through it
            [mo] = [m for m in allocate(s, flow["id"], {"limit": 4})
                    if urlsplit(m["put_url"]["url"]).port == second.port][:1]
            data = os.urandom(999)
            assert put_bytes(plain, mo, data).status_code in (200, 201)
            post_segments(s, flow["id"], {"object_id": mo["object_id"], "timerange": "[0:0_1:0)"})
            for _ in range(2):   # get_urls alternate between the gateways; both serve
                assert plain.get(controlled_url(s, flow["id"])["url"]).content == data
    finally:
        srv.stop()
        second.stop()


@needs_s3
def test_all_endpoints_down_at_start(tmp_path):
    srv, _ = start_server(tmp_path / "dead", "s3",
                          backends=[("gw", S3_BUCKETS[0], [closed_port_url()], True)])
    try:
        with srv.api() as s:
            flow = new_flow(s)
            expect_503(s.post(f"/flows/{flow['id']}/storage", json={}))
            check(s.get("/service/storage-backends"), 200, "storage-backends-list.json")
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- configuration

@needs_s3
def test_single_backend_from_environment_local_disabled(tams_server, plain):
    sid = new_backend_id()
    srv = tams_server(env={"TAMS_S3_ID": sid, "TAMS_S3_ENDPOINTS": S3_ENDPOINT,
                           "TAMS_S3_BUCKET": S3_BUCKETS[1], "TAMS_S3_ACCESS_KEY_ID": KEY_ENV["TEST_S3_AK"],
                           "TAMS_S3_SECRET_ACCESS_KEY": S3_SECRET_KEY, "TAMS_S3_DEFAULT": "true",
                           "TAMS_LOCAL_STORAGE": "disabled"})
    with srv.api() as s:
        [b] = check(s.get("/service/storage-backends"), 200, "storage-backends-list.json")
        assert b["id"] == sid and b["default_storage"] is True and b["label"] == S3_BUCKETS[1]
        flow = new_flow(s)
        [mo] = allocate(s, flow["id"], {"limit": 1})
        assert f"/{S3_BUCKETS[1]}/" in mo["put_url"]["url"]
        assert put_bytes(plain, mo, b"env").status_code in (200, 201)
        post_segments(s, flow["id"], {"object_id": mo["object_id"], "timerange": "[0:0_1:0)"})
        assert plain.get(controlled_url(s, flow["id"])["url"]).content == b"env"
    assert S3_SECRET_KEY not in srv.output()


SECRET = "not-to-be-seen-9f8e7d"


@pytest.mark.parametrize("env,key", [
    ({"TAMS_S3_BUCKET": "media"}, "TAMS_S3_ID"),
    ({"TAMS_S3_ID": "6f1d7c4e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", "TAMS_S3_BUCKET": "media",
      "TAMS_S3_ENDPOINTS": "http://127.0.0.1:1", "TAMS_S3_ACCESS_KEY_ID": "AK",
      "TAMS_S3_SECRET_ACCESS_KEY": SECRET, "TAMS_S3_DEFAULT": "maybe"}, "TAMS_S3_DEFAULT"),
    ({"TAMS_S3_ID": "6f1d7c4e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", "TAMS_S3_BUCKET": "media",
      "TAMS_S3_ENDPOINTS": f"http://user:{SECRET}@127.0.0.1:1", "TAMS_S3_ACCESS_KEY_ID": "AK",
      "TAMS_S3_SECRET_ACCESS_KEY": SECRET}, "TAMS_S3_ENDPOINTS"),
    ({"TAMS_LOCAL_STORAGE": "disabled"}, "local_storage"),
], ids=["no-id", "bad-default", "credentials-in-endpoint", "nothing-left"])
def test_bad_storage_config_exits(tams_server, env, key):
    srv = tams_server(env=env, wait=False)
    assert srv.wait_exit(10) == 2
    err = srv.stderr()
    assert key in err and len(err.strip().splitlines()) == 1, err
    assert SECRET not in srv.output()


@needs_s3
def test_missing_bucket_reported_at_start(tmp_path):
    srv, _ = start_server(tmp_path / "nobucket", "s3",
                          backends=[("gone", "tams-no-such-bucket", [S3_ENDPOINT], True)])
    try:
        wait_for(lambda: "tams-no-such-bucket (it does not exist)" in srv.output(),
                 what="the missing bucket logged")
    finally:
        srv.stop()
