"""The local media store's object URLs: PUT, GET and HEAD /media/{objectId*} (black-box).

Signed URLs are computed here from the store's secret in the server's data dir
(HMAC-SHA256(secret, METHOD "\\n" object_id "\\n" expires), hex), exactly as the server signs
them, so these tests do not depend on POST /flows/{id}/storage handing them out.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import types
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from tams_helpers import UUID_RE, check, record_5xx, unique

SUMMARY_403 = "invalid or expired signature"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def sign(data_dir, method, object_id, expires):
    secret = (Path(data_dir) / "media" / "secret").read_bytes()
    message = f"{method}\n{object_id}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def target(data_dir, method, object_id, ttl=600, expires=None, raw_id=None, url_method=None,
           signature=None, drop=()):
    """The path and query of a signed URL. `raw_id` replaces the encoded id in the path (the
    signature stays that of `object_id`); `drop` removes query parameters."""
    exp = expires if expires is not None else int(time.time()) + ttl
    params = {"method": url_method or method, "expires": str(exp),
              "signature": signature if signature is not None
              else sign(data_dir, method, object_id, exp)}
    query = "&".join(f"{k}={v}" for k, v in params.items() if k not in drop)
    path_id = raw_id if raw_id is not None else quote(object_id, safe="")
    return f"/media/{path_id}?{query}"


def to_response(method, url, r, data):
    resp = requests.Response()
    resp.status_code = r.status
    merged = CaseInsensitiveDict()
    for k, v in r.getheaders():
        merged[k] = f"{merged[k]}, {v}" if k in merged else v
    resp.headers = merged
    resp._content = data
    resp.encoding = "utf-8"
    resp.url = url
    resp.request = types.SimpleNamespace(method=method, url=url, headers={})
    record_5xx(resp)
    return resp


def send(base_url, method, path, headers=None, body=None, conn=None, timeout=30):
    """One request with `path` sent byte for byte and no credentials; no Content-Type unless
    given. With `conn`, the request reuses that connection (keep-alive)."""
    u = urlsplit(base_url)
    own = conn is None
    conn = conn or http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return to_response(method, base_url + path, r, data)
    finally:
        if own:
            conn.close()


def files_under(root):
    root = Path(root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Media:
    """Signed-URL requests against one server."""

    def __init__(self, srv):
        self.srv = srv
        self.base_url = srv.base_url
        self.data_dir = Path(srv.data_dir)
        self.media_dir = self.data_dir / "media"

    def target(self, method, object_id, **kw):
        return target(self.data_dir, method, object_id, **kw)

    def put(self, object_id, data, content_type="application/octet-stream", headers=None, **kw):
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        return send(self.base_url, "PUT", self.target("PUT", object_id, **kw), h, data)

    def get(self, object_id, headers=None, method="GET", **kw):
        return send(self.base_url, method, self.target("GET", object_id, **kw), headers)

    def head(self, object_id, headers=None, **kw):
        return self.get(object_id, headers, method="HEAD", **kw)


@pytest.fixture(scope="module")
def media(server):
    return Media(server)


def assert_forbidden(resp):
    body = check(resp, 403, error_type="forbidden")
    if body is not None:
        assert body["summary"] == SUMMARY_403, body


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("object_id", [
    "plain-{u}", "bucket/{u}/seg 1.ts", "unicode-Zoë-{u}", "q?&=#%-{u}", "{u}/", "semi;colon+{u}",
])
def test_put_then_get_returns_the_same_bytes(media, object_id):
    oid = object_id.format(u=unique())
    data = os.urandom(100_000) + b"\x00end"
    r = media.put(oid, data, "video/mp2t")
    check(r, 201)
    etag = r.headers.get("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"'), r.headers
    g = media.get(oid)
    assert g.status_code == 200, g.headers
    assert g.content == data
    assert g.headers["Content-Type"] == "video/mp2t"
    assert int(g.headers["Content-Length"]) == len(data)
    assert g.headers["ETag"] == etag
    assert g.headers["Accept-Ranges"] == "bytes"
    assert etag == '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def test_put_without_content_type_records_octet_stream(media):
    oid = unique("noct-")
    check(media.put(oid, b"abc", content_type=None), 201)
    assert media.get(oid).headers["Content-Type"] == "application/octet-stream"


def test_empty_object(media):
    oid = unique("empty-")
    check(media.put(oid, b""), 201)
    g = media.get(oid)
    check(g, 200)
    assert g.content == b"" and g.headers["Content-Length"] == "0"


def test_overwrite_answers_200_and_serves_the_new_bytes(media):
    oid = unique("over-")
    check(media.put(oid, b"first", "text/plain"), 201)
    r = media.put(oid, b"second version", "application/json")
    check(r, 200)
    g = media.get(oid)
    assert g.content == b"second version"
    assert g.headers["Content-Type"] == "application/json"
    assert g.headers["ETag"] == r.headers["ETag"]


def test_head_has_the_get_headers_and_no_body(media):
    oid = unique("head-")
    data = os.urandom(5000)
    check(media.put(oid, data, "image/jpeg"), 201)
    g, h = media.get(oid), media.head(oid)
    check(h, 200)
    assert h.content == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Accept-Ranges"):
        assert h.headers.get(name) == g.headers.get(name), name
    assert h.headers["Content-Length"] == str(len(data))


def test_missing_object_is_404(media):
    check(media.get(unique("never-")), 404, error_type="not_found")
    check(media.head(unique("never-")), 404)


# --------------------------------------------------------------------------------------------
# Ranges and conditional requests
# --------------------------------------------------------------------------------------------

DATA_1000 = bytes(range(256)) * 3 + bytes(232)

# (case, Range header, status, first byte, last byte (inclusive))
RANGE_CASES = [
    ("first-ten", "bytes=0-9", 206, 0, 9),
    ("middle", "bytes=100-199", 206, 100, 199),
    ("single-byte", "bytes=0-0", 206, 0, 0),
    ("last-byte", "bytes=999-999", 206, 999, 999),
    ("open-ended", "bytes=990-", 206, 990, 999),
    ("suffix", "bytes=-5", 206, 995, 999),
    ("suffix-larger-than-object", "bytes=-5000", 206, 0, 999),
    ("end-beyond-object", "bytes=900-5000", 206, 900, 999),
    ("unit-case-and-blanks", "Bytes= 10 - 19 ", 206, 10, 19),
    ("start-beyond-object", "bytes=1000-", 416, None, None),
    ("start-far-beyond", "bytes=99999999999999999999999-", 416, None, None),
    ("empty-suffix", "bytes=-0", 416, None, None),
    ("several-ranges-serve-all", "bytes=0-1,5-6", 200, 0, 999),
    ("reversed-is-ignored", "bytes=9-5", 200, 0, 999),
    ("other-unit-is-ignored", "items=0-5", 200, 0, 999),
    ("garbage-is-ignored", "bytes=abc", 200, 0, 999),
    ("no-dash-is-ignored", "bytes=5", 200, 0, 999),
]


@pytest.fixture(scope="module")
def ranged(media):
    oid = unique("range-")
    check(media.put(oid, DATA_1000, "video/mp4"), 201)
    return oid


@pytest.mark.parametrize("case,header,status,first,last", RANGE_CASES,
                         ids=[c[0] for c in RANGE_CASES])
def test_range_requests(media, ranged, case, header, status, first, last):
    for method in ("GET", "HEAD"):
        r = media.get(ranged, {"Range": header}, method=method)
        assert r.status_code == status, f"{method} {header}: {r.status_code} {r.headers}"
        if status == 416:
            assert r.headers["Content-Range"] == "bytes */1000"
            check(r, 416)
            continue
        length = last - first + 1
        assert r.headers["Content-Length"] == str(length)
        if status == 206:
            assert r.headers["Content-Range"] == f"bytes {first}-{last}/1000"
            assert r.headers["Content-Type"] == "video/mp4"
        else:
            assert "Content-Range" not in r.headers
        if method == "GET":
            assert r.content == DATA_1000[first:last + 1]


def test_range_on_an_empty_object_is_unsatisfiable(media):
    oid = unique("empty-range-")
    check(media.put(oid, b""), 201)
    r = media.get(oid, {"Range": "bytes=0-"})
    check(r, 416)
    assert r.headers["Content-Range"] == "bytes */0"


def test_if_none_match_and_if_range(media, ranged):
    etag = media.get(ranged).headers["ETag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = media.get(ranged, {"If-None-Match": value})
        assert r.status_code == 304, (value, r.status_code)
        assert r.content == b"" and r.headers["ETag"] == etag
        assert media.head(ranged, {"If-None-Match": value}).status_code == 304
    assert media.get(ranged, {"If-None-Match": '"stale"'}).status_code == 200
    r = media.get(ranged, {"Range": "bytes=0-3", "If-Range": etag})
    assert r.status_code == 206 and r.content == DATA_1000[:4]
    r = media.get(ranged, {"Range": "bytes=0-3", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == DATA_1000


# --------------------------------------------------------------------------------------------
# Signatures: every failure is the same 403 and writes nothing
# --------------------------------------------------------------------------------------------

def _put_refusals(media, oid):
    now = int(time.time())
    good = sign(media.data_dir, "PUT", oid, now + 600)
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    return {
        "get-signature-for-put": dict(signature=sign(media.data_dir, "GET", oid, now + 600),
                                      expires=now + 600),
        "get-url-for-put": dict(url_method="GET", signature=sign(media.data_dir, "GET", oid,
                                                                 now + 600), expires=now + 600),
        "url-method-says-get": dict(url_method="GET", expires=now + 600),
        "expired": dict(expires=now - 5),
        "flipped-signature": dict(signature=flipped, expires=now + 600),
        "uppercase-signature": dict(signature=good.upper(), expires=now + 600),
        "other-object-id": dict(signature=sign(media.data_dir, "PUT", oid + "x", now + 600),
                                expires=now + 600),
        "tampered-expiry": dict(signature=good, expires=now + 601),
        "missing-signature": dict(drop=("signature",)),
        "missing-expires": dict(drop=("expires",)),
        "missing-method": dict(drop=("method",)),
        "empty-signature": dict(signature="", expires=now + 600),
        "other-secret": dict(signature=hmac.new(b"x" * 32, f"PUT\n{oid}\n{now + 600}".encode(),
                                                hashlib.sha256).hexdigest(), expires=now + 600),
    }


def test_refused_puts_write_nothing(media):
    oid = unique("refused-")
    before = files_under(media.media_dir)
    for case, kw in _put_refusals(media, oid).items():
        r = media.put(oid, os.urandom(20_000), **kw)
        assert r.status_code == 403, f"{case}: {r.status_code} {r.text}"
        assert_forbidden(r)
        assert r.headers.get("Connection", "").lower() == "close", case
    check(media.get(oid), 404)
    assert files_under(media.media_dir) == before
    assert not any((media.media_dir / "tmp").iterdir())


def test_refused_gets(media):
    oid = unique("refget-")
    check(media.put(oid, b"secret bytes"), 201)
    now = int(time.time())
    put_sig = sign(media.data_dir, "PUT", oid, now + 600)
    cases = {
        "put-signature-for-get": dict(signature=put_sig, expires=now + 600),
        "put-url-for-get": dict(url_method="PUT", signature=put_sig, expires=now + 600),
        "expired": dict(expires=now - 1),
        "other-object": dict(signature=sign(media.data_dir, "GET", oid + "x", now + 600),
                             expires=now + 600),
        "missing-signature": dict(drop=("signature",)),
    }
    for case, kw in cases.items():
        for method in ("GET", "HEAD"):
            r = media.get(oid, method=method, **kw)
            assert r.status_code == 403, f"{case} {method}: {r.status_code}"
            assert_forbidden(r)
    # The PUT URL cannot read, the GET URL cannot write.
    r = send(media.base_url, "PUT", media.target("GET", oid), {}, b"overwrite")
    assert_forbidden(r)
    assert media.get(oid).content == b"secret bytes"


def test_forbidden_put_with_a_large_body_is_answered_not_reset(media):
    """The server refuses before reading the body; the client still gets the 403."""
    oid = unique("bigrefused-")
    data = b"\x00" * (8 * 1024 * 1024)
    r = media.put(oid, data, signature="0" * 64)
    assert_forbidden(r)
    check(media.get(oid), 404)


def test_media_routes_need_no_credentials_but_other_methods_do(media):
    oid = unique("cred-")
    r = send(media.base_url, "GET", f"/media/{oid}")
    assert_forbidden(r)  # public route: the signature is the credential, not 401
    r = send(media.base_url, "DELETE", media.target("GET", oid))
    check(r, 401)


def test_long_content_type_is_refused_before_the_body(media):
    oid = unique("ct-")
    r = media.put(oid, b"x", "video/" + "a" * 300)
    check(r, 400)
    check(media.get(oid), 404)


# --------------------------------------------------------------------------------------------
# Object ids never escape the store directory
# --------------------------------------------------------------------------------------------

# (case, object id the URL is signed for, the id as written in the request path or None)
TRAVERSAL_CASES = [
    ("dotdot-encoded-slash", "../../outside-{u}", None),
    ("dotdot-raw", "../../outside-{u}", "../../outside-{u}"),
    ("dotdot-raw-mixed", "a/../../../outside-{u}", "a/../../..%2Foutside-{u}"),
    ("percent-dots", "../../outside-{u}", "%2e%2e%2f%2E%2E%2Foutside-{u}"),
    ("literal-percent-dots", "%2e%2e/outside-{u}", None),
    ("absolute", "/tmp/outside-{u}", None),
    ("absolute-raw", "/tmp/outside-{u}", "/tmp/outside-{u}"),
    ("backslashes", "..\\..\\outside-{u}", None),
    ("dot-segment", "..", None),
    ("dot", ".", None),
    ("secret-file", "../secret", None),
    ("database", "../../tams.db", None),
]


@pytest.mark.parametrize("case,object_id,raw", TRAVERSAL_CASES,
                         ids=[c[0] for c in TRAVERSAL_CASES])
def test_traversal_ids_stay_inside_the_store(media, case, object_id, raw):
    u = unique()
    oid = object_id.format(u=u)
    raw_id = raw.format(u=u) if raw else None
    if oid in (".", ".."):
        raw_id = oid.replace(".", "%2E")
    workdir = media.data_dir.parent
    before = files_under(workdir)
    # Reading first: the id names no stored object, whatever file it seems to point at.
    check(media.get(oid, raw_id=raw_id), 404)
    data = f"payload {case} {u}".encode()
    r = media.put(oid, data, raw_id=raw_id)
    assert r.status_code in (200, 201), f"{case}: {r.status_code} {r.text}"
    new = files_under(workdir) - before
    assert new, case
    for f in new:
        assert f.startswith(str(Path(media.data_dir.name) / "media" / "objects")) \
            or "stdout" in f or "stderr" in f, f"{case}: {f} written outside media/objects"
    assert media.get(oid, raw_id=raw_id).content == data
    assert not (media.data_dir.parent / f"outside-{u}").exists()
    assert not Path(f"/tmp/outside-{u}").exists()
    assert (media.media_dir / "secret").stat().st_size == 32


# --------------------------------------------------------------------------------------------
# Limits, streaming, keep-alive, 100-continue
# --------------------------------------------------------------------------------------------

@pytest.fixture
def small_store(tams_server):
    srv = tams_server(env={"TAMS_MEDIA_MAX_OBJECT_BYTES": "1000"})
    return Media(srv)


def test_oversized_body_is_413_and_writes_nothing(small_store):
    m = small_store
    check(m.put("fits", b"x" * 1000), 201)
    before = files_under(m.media_dir)
    r = m.put("too-big", b"x" * 1001)
    check(r, 413, error_type="payload_too_large")
    # Chunked (no Content-Length): stopped while streaming.
    u = urlsplit(m.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("PUT", m.target("PUT", "too-big-chunked"),
                     body=iter([b"y" * 600, b"y" * 600]), encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 413, r.status
    finally:
        conn.close()
    check(m.get("too-big"), 404)
    check(m.get("too-big-chunked"), 404)
    time.sleep(0.2)
    assert files_under(m.media_dir) == before
    assert not any((m.media_dir / "tmp").iterdir())


def test_expired_urls_from_a_short_expiry_setting(tams_server):
    m = Media(tams_server(env={"TAMS_MEDIA_URL_EXPIRY_SECONDS": "1"}))
    # The secret-derived URL with a 1 s lifetime works now and fails once expired.
    exp = int(time.time()) + 1
    check(m.put("soon", b"abc", expires=exp), 201)
    time.sleep(max(0.0, exp + 1.1 - time.time()))
    assert_forbidden(m.get("soon", expires=exp))


def _raw_put(base_url, path, headers, body_after_continue=None):
    u = urlsplit(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    head = f"PUT {path} HTTP/1.1\r\nHost: {u.hostname}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    s.sendall(head.encode())
    return s


def _read_response_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def test_expect_100_continue(media):
    oid = unique("expect-")
    data = os.urandom(300_000)
    s = _raw_put(media.base_url, media.target("PUT", oid),
                 {"Content-Length": str(len(data)), "Expect": "100-continue",
                  "Content-Type": "application/octet-stream"})
    try:
        interim = _read_response_head(s)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        s.sendall(data)
        final = _read_response_head(s)
        assert final.startswith(b"HTTP/1.1 201"), final
    finally:
        s.close()
    assert media.get(oid).content == data


def test_expect_100_continue_refused_without_continue(media):
    oid = unique("expect-refused-")
    s = _raw_put(media.base_url, media.target("PUT", oid, signature="f" * 64),
                 {"Content-Length": "5000000", "Expect": "100-continue"})
    try:
        final = _read_response_head(s)
        assert final.startswith(b"HTTP/1.1 403"), final
    finally:
        s.close()
    check(media.get(oid), 404)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_upload_and_download(media, tmp_path):
    oid = unique("curl/")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024))  # curl sends Expect: 100-continue for this
    put_url = media.base_url + media.target("PUT", oid)
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(src),
                          "-H", "Content-Type: video/mp2t", put_url],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == "201", out
    dst = tmp_path / "dst.bin"
    out = subprocess.run(["curl", "-sS", "-o", str(dst), "-w", "%{http_code}",
                          media.base_url + media.target("GET", oid)],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == "200", out
    assert dst.read_bytes() == src.read_bytes()


def test_keep_alive_after_upload(media):
    u = urlsplit(media.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        oid = unique("ka-")
        r = send(media.base_url, "PUT", media.target("PUT", oid), {}, b"a" * 70_000, conn=conn)
        check(r, 201)
        sock = conn.sock
        assert sock is not None, "the server closed the connection after the upload"
        r = send(media.base_url, "GET", media.target("GET", oid), {}, conn=conn)
        assert r.status_code == 200 and r.content == b"a" * 70_000
        r = send(media.base_url, "PUT", media.target("PUT", oid), {}, b"b" * 10, conn=conn)
        check(r, 200)
        r = send(media.base_url, "HEAD", media.target("GET", oid), {}, conn=conn)
        assert r.status_code == 200 and r.headers["Content-Length"] == "10"
        assert conn.sock is sock, "all requests went over one connection"
    finally:
        conn.close()


def test_refusal_without_a_body_keeps_the_connection(media):
    u = urlsplit(media.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        oid = unique("ka-refused-")
        r = send(media.base_url, "PUT", media.target("PUT", oid, signature="0" * 64),
                 {"Content-Length": "0"}, conn=conn)
        assert_forbidden(r)
        sock = conn.sock
        r = send(media.base_url, "PUT", media.target("PUT", oid), {}, b"", conn=conn)
        check(r, 201)
        assert conn.sock is sock and sock is not None
    finally:
        conn.close()


def test_abandoned_upload_leaves_nothing(media):
    oid = unique("abandon-")
    s = _raw_put(media.base_url, media.target("PUT", oid), {"Content-Length": "1000000"})
    s.sendall(b"z" * 100_000)
    time.sleep(0.2)
    s.close()
    deadline = time.monotonic() + 5
    while any((media.media_dir / "tmp").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any((media.media_dir / "tmp").iterdir())
    check(media.get(oid), 404)


def test_concurrent_uploads(media):
    payloads = {unique(f"conc{i}-"): os.urandom(200_000 + i) for i in range(6)}
    results = {}

    def put(oid, data):
        results[oid] = media.put(oid, data).status_code

    threads = [threading.Thread(target=put, args=item) for item in payloads.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {201}
    for oid, data in payloads.items():
        assert media.get(oid).content == data


def test_large_upload_and_download_stream_without_growing_memory(tams_server):
    """64 MiB up and down: the server's resident memory grows far less than the object."""
    srv = tams_server()
    m = Media(srv)
    pid = srv.proc.pid
    size = 64 * 1024 * 1024
    chunk = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    for _ in range(size // len(chunk)):
        digest.update(chunk)
    check(m.put("warm-up", b"w" * 1000), 201)  # first-request allocations out of the way
    rss_before = rss_kib(pid)

    u = urlsplit(m.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.putrequest("PUT", m.target("PUT", "big/object"), skip_accept_encoding=True)
        conn.putheader("Content-Length", str(size))
        conn.putheader("Content-Type", "video/mp2t")
        conn.endheaders()
        for _ in range(size // len(chunk)):
            conn.send(chunk)
        r = conn.getresponse()
        r.read()
        assert r.status == 201, r.status
    finally:
        conn.close()
    rss_after_put = rss_kib(pid)
    assert rss_after_put - rss_before < 32 * 1024, \
        f"RSS grew by {(rss_after_put - rss_before) // 1024} MiB during a 64 MiB upload"

    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("GET", m.target("GET", "big/object"))
        r = conn.getresponse()
        assert r.status == 200 and int(r.headers["Content-Length"]) == size
        got = hashlib.sha256()
        while True:
            block = r.read(1024 * 1024)
            if not block:
                break
            got.update(block)
    finally:
        conn.close()
    assert got.hexdigest() == digest.hexdigest()
    rss_after_get = rss_kib(pid)
    assert rss_after_get - rss_before < 32 * 1024, \
        f"RSS grew by {(rss_after_get - rss_before) // 1024} MiB during a 64 MiB download"


# --------------------------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------------------------

def test_backend_id_is_stable_and_listed(api, media):
    backend_id = (media.media_dir / "backend-id").read_text().strip()
    assert UUID_RE.match(backend_id), backend_id
    r = api.get("/service/storage-backends")
    body = check(r, 200)
    mine = [b for b in body if b.get("id") == backend_id]
    assert len(mine) == 1, json.dumps(body)
    b = mine[0]
    assert b["store_type"] == "http_object_store"
    assert b["provider"] == "tams" and "tams" in b["store_product"]
    assert b["default_storage"] is True


def test_backend_id_and_secret_survive_restart(tams_server):
    srv = tams_server()
    m = Media(srv)
    backend_id = (m.media_dir / "backend-id").read_text()
    secret = (m.media_dir / "secret").read_bytes()
    check(m.put("kept", b"kept bytes"), 201)
    get_path = m.target("GET", "kept")
    srv.stop()
    srv.start()
    assert (m.media_dir / "backend-id").read_text() == backend_id
    assert (m.media_dir / "secret").read_bytes() == secret
    r = send(m.base_url, "GET", get_path)
    assert r.status_code == 200 and r.content == b"kept bytes", "URLs signed before a restart work"
    assert oct((m.media_dir / "secret").stat().st_mode & 0o777) == "0o600"
