"""Hostile and malformed input: always a 4xx with an error.json body (or a documented success),
never a 5xx, and the server keeps answering."""
import http.client
import json
import re
from urllib.parse import urlsplit

import pytest

from tams_helpers import (
    NIL_ID, V7_ID, basic_header, check, make_flow, new_id, raw_request,
)

ANY_4XX = tuple(range(400, 500))
BAD_REQ = (400,)
BAD_OR_NF = (400, 404)

FLOW_ID = "5b0e3b52-2f0a-4c51-9f0e-7d6a2b1c0d9e"   # created by the `existing` fixture


@pytest.fixture(scope="module")
def existing(api):
    body = make_flow("video", id=FLOW_ID)
    r = api.put(f"/flows/{FLOW_ID}", json=body)
    check(r, (201, 204))
    return body


def flow_json(**changes):
    body = make_flow("video")
    body.update(changes)
    return body


# (id, method, target, body, expected statuses)
CASES = [
    ("malformed-json", "PUT", "/flows/{new}", '{"id": "x",', BAD_REQ),
    ("json-with-comments", "PUT", "/flows/{new}", '{/* c */}', BAD_REQ),
    ("single-quoted-json", "PUT", "/flows/{new}", "{'id': 'x'}", BAD_REQ),
    ("nan", "PUT", "/flows/{flow}/max_bit_rate", "NaN", BAD_REQ),
    ("infinity", "PUT", "/flows/{flow}/avg_bit_rate", "Infinity", BAD_REQ),
    ("huge-exponent", "PUT", "/flows/{flow}/avg_bit_rate", "1e400", BAD_REQ),
    ("negative-bit-rate", "PUT", "/flows/{flow}/max_bit_rate", "-5", BAD_REQ),
    ("deep-nesting-array", "PUT", "/flows/{new}", "[" * 100000 + "]" * 100000, (400, 413)),
    ("deep-nesting-object", "PUT", "/flows/{flow}/tags/x", '{"a":' * 50000 + "1" + "}" * 50000,
     (400, 413)),
    ("unterminated-deep", "PUT", "/flows/{new}", "[" * 200000, (400, 413)),
    ("wrong-types", "PUT", "/flows/{new}", "__wrong_types__", BAD_REQ),
    ("bad-uuid-v7-path", "GET", f"/flows/{V7_ID}", None, BAD_OR_NF),
    ("bad-uuid-nil-path", "PUT", f"/flows/{NIL_ID}", "__nil_flow__", BAD_OR_NF),
    ("bad-uuid-source-filter", "GET", "/flows?source_id=xyz", None, BAD_REQ),
    ("bad-timerange", "GET", "/flows?timerange=[abc_def)", None, BAD_REQ),
    ("bad-timerange-flow", "GET", "/flows/{flow}?include_timerange=true&timerange=[1:0_2:0_3:0]",
     None, BAD_REQ),
    ("timestamp-overflow", "GET", "/flows?timerange=[99999999999999999999999:0_]", None, BAD_REQ),
    ("timestamp-int64-overflow", "GET", "/flows?timerange=[9223372037:0_]", None, BAD_REQ),
    ("negative-timestamp-overflow", "GET", "/flows?timerange=[-9223372037:0_0:0)", None, BAD_REQ),
    ("bad-timerange-percent", "GET", "/flows?timerange=%zz", None, BAD_REQ),
    ("huge-limit", "GET", "/flows?limit=99999999999999999999", None, BAD_REQ),
    ("negative-limit", "GET", "/sources?limit=-5", None, BAD_REQ),
    ("unknown-cursor", "GET", "/flows?page=bm90IGEgY3Vyc29y", None, BAD_REQ),
    ("bad-percent-path", "GET", "/flows/%zz", None, BAD_OR_NF),
    ("truncated-percent-path", "GET", "/flows/abc%", None, BAD_OR_NF),
    ("truncated-percent-path-2", "GET", "/flows/abc%4", None, BAD_OR_NF),
    ("bad-percent-tag", "GET", "/flows/{flow}/tags/%zz", None, BAD_OR_NF),
    ("bad-percent-tag-put", "PUT", "/flows/{flow}/tags/a%G1", '"v"', BAD_OR_NF),
    ("overlong-utf8-tag", "GET", "/flows/{flow}/tags/%C0%AF", None, BAD_OR_NF),
    ("invalid-utf8-tag", "PUT", "/flows/{flow}/tags/%FF%FE", '"v"', (204, 400, 404)),
    ("nul-in-path", "GET", "/flows/%00", None, BAD_OR_NF),
    ("nul-in-tag", "PUT", "/flows/{flow}/tags/a%00b", '"v"', (204, 400, 404)),
    ("bad-percent-query-name", "GET", "/flows?tag.%zz=1", None, (200, 400)),
    ("bad-percent-query-value", "GET", "/flows?label=%zz", None, (200, 400)),
    ("encoded-slash-in-flow-id", "GET", "/flows/{flow}%2Ftags", None, BAD_OR_NF),
    ("long-path", "GET", "/flows/" + "a" * 8000, None, (400, 404, 414, 431)),
    ("long-query", "GET", "/flows?label=" + "a" * 8000, None, (200, 400, 414, 431)),
    ("lone-surrogate", "PUT", "/flows/{flow}/label", '"\\ud800"', (204, 400)),
    ("nul-in-string", "PUT", "/flows/{flow}/description", '"a\\u0000b"', (204, 400)),
    ("raw-control-char", "PUT", "/flows/{flow}/description", '"a\x01b"', BAD_REQ),
    ("invalid-utf8-body", "PUT", "/flows/{flow}/label", b'"\xff\xfe"', BAD_REQ),
    ("huge-integer", "PUT", "/flows/{new}", "__huge_integer__", (201, 400)),
    ("bit-rate-2^64", "PUT", "/flows/{flow}/max_bit_rate", str(2**64), (204, 400)),
    ("empty-body-put", "PUT", "/flows/{new}", "", BAD_REQ),
    ("empty-body-label", "PUT", "/flows/{flow}/label", "", BAD_REQ),
    ("empty-body-service", "POST", "/service", "", BAD_REQ),
    ("whitespace-body", "PUT", "/flows/{flow}/read_only", "   ", BAD_REQ),
    ("two-json-values", "PUT", "/flows/{flow}/read_only", "true false", BAD_REQ),
    ("duplicate-query-limit", "GET", "/flows?limit=5&limit=x", None, (200, 400)),
]


def _body(marker, new):
    if marker == "__wrong_types__":
        return json.dumps(flow_json(id=5, source_id=[], format={}, tags="x"))
    if marker == "__nil_flow__":
        return json.dumps(flow_json(id=NIL_ID))
    if marker == "__huge_integer__":
        text = json.dumps(flow_json(id=new))
        return text.replace('"frame_width": 1920', '"frame_width": 99999999999999999999999')
    return marker


@pytest.mark.parametrize("case,method,target,body,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input(api, existing, case, method, target, body, expected):
    new = new_id()
    target = target.replace("{flow}", FLOW_ID).replace("{new}", new)
    if isinstance(body, str):
        body = _body(body, new)
    r = raw_request(api.base_url, method, target, body=body)
    check(r, expected)
    if r.status_code < 300 and r.content:
        json.loads(r.content)
    # still alive and consistent
    check(api.get("/service"), 200, "service.json")
    check(api.get(f"/flows/{FLOW_ID}"), 200, "flow.json")


def test_lone_surrogate_round_trip_is_valid_json(api, existing):
    r = raw_request(api.base_url, "PUT", f"/flows/{FLOW_ID}/label", body='"a\\ud800b"')
    check(r, (204, 400))
    if r.status_code == 204:
        got = api.get(f"/flows/{FLOW_ID}/label")
        check(got, 200, {"type": "string"})
        check(api.get(f"/flows/{FLOW_ID}"), 200, "flow.json")
    check(api.delete(f"/flows/{FLOW_ID}/label"), (204, 404))


def test_chunked_request_body(api):
    body = make_flow("audio")
    u = urlsplit(api.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        data = json.dumps(body).encode()
        chunks = [data[i:i + 50] for i in range(0, len(data), 50)]
        conn.request("PUT", f"/flows/{body['id']}", body=iter(chunks), encode_chunked=True,
                     headers={"Authorization": basic_header(), "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201
    finally:
        conn.close()
    check(api.get(f"/flows/{body['id']}"), 200, "flow.json")


def test_keep_alive_after_errors(api):
    """Several errors on one persistent connection; the connection stays usable."""
    u = urlsplit(api.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    auth = {"Authorization": basic_header()}
    try:
        for target in ["/flows?limit=0", "/flows/not-a-uuid", "/nope", "/service"]:
            conn.request("GET", target, headers=auth)
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status < 500
            if resp.status >= 400:
                assert set(json.loads(data)) >= {"type", "summary", "time"}
        assert resp.status == 200
        conn.request("PUT", "/flows/" + new_id(), body=b"{", headers={**auth, "Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 400
        conn.request("GET", "/service", headers=auth)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    finally:
        conn.close()


def test_oversized_body_413(tams_server):
    srv = tams_server(env={"TAMS_MAX_BODY_BYTES": "2048"})
    api = srv.api()
    small = make_flow("video")
    check(api.put(f"/flows/{small['id']}", json=small), 201, "flow.json")
    big = make_flow("video", description="x" * 4096)
    check(api.put(f"/flows/{big['id']}", json=big), 413, error_type="payload_too_large")
    check(api.get(f"/flows/{big['id']}"), 404)
    check(api.post("/service", json={"name": "n" * 5000}), 413, error_type="payload_too_large")
    check(api.put(f"/flows/{small['id']}/description", json="d" * 3000), 413,
          error_type="payload_too_large")
    # chunked bodies are limited as well
    u = urlsplit(srv.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        data = json.dumps(big).encode()
        conn.request("PUT", f"/flows/{big['id']}", body=iter([data[i:i + 100] for i in range(0, len(data), 100)]),
                     encode_chunked=True,
                     headers={"Authorization": basic_header(), "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        payload = resp.read()
        assert resp.status == 413, payload
        assert set(json.loads(payload)) >= {"type", "summary", "time"}
    except (ConnectionResetError, BrokenPipeError):
        pass   # closing the connection after a 413 mid-upload is acceptable
    finally:
        conn.close()
    check(api.get("/service"), 200, "service.json")
    check(api.get(f"/flows/{small['id']}"), 200, "flow.json")


# ------------------------------------------------------------------------------------ HTTP plumbing

def _raw_exchange(base_url, data, timeout=5):
    """Send raw bytes, read until the server closes or `timeout`; returns the bytes read."""
    import socket
    u = urlsplit(base_url)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except socket.timeout:
            pass
    return b"".join(chunks)


def test_expect_100_continue(api):
    body = make_flow("video")
    r = raw_request(api.base_url, "PUT", f"/flows/{body['id']}", body=json.dumps(body),
                    headers={"Expect": "100-continue"})
    check(r, 201, "flow.json")


def test_pipelined_requests(api):
    auth = basic_header()
    host = urlsplit(api.base_url).netloc
    req = (f"GET /service HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n"
           f"GET /flows/not-a-uuid HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n"
           f"GET / HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n")
    out = _raw_exchange(api.base_url, req.encode())
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
    assert statuses[0] == b"200" and statuses[1] in (b"400", b"404") and statuses[2] == b"200", out[:500]
    assert len(statuses) == 3


def test_http_1_0_request(api):
    auth = basic_header()
    out = _raw_exchange(api.base_url,
                        f"GET /service HTTP/1.0\r\nAuthorization: {auth}\r\n\r\n".encode())
    head, _, payload = out.partition(b"\r\n\r\n")
    assert head.split()[1] == b"200", out[:300]
    assert json.loads(payload)["api_version"] == "7.0"


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET /service HTTP/9.9\r\n\r\n",
    b"GET /service HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"PUT /flows/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"GET /service HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    b"\x00\x01\x02\xff\r\n\r\n",
], ids=["garbage", "http-9.9", "negative-length", "huge-length", "bad-header", "binary"])
def test_malformed_http_never_5xx(api, data):
    out = _raw_exchange(api.base_url, data, timeout=3)
    if out.startswith(b"HTTP/"):
        status = int(out.split()[1])
        assert 400 <= status < 500, out[:300]
    check(api.get("/service"), 200, "service.json")


def test_limit_boundaries(api):
    r = api.get("/flows", params={"limit": 1000})
    check(r, 200)
    assert r.headers["X-Paging-Limit"] == "1000"
    r = api.get("/flows", params={"limit": 1001})
    check(r, 200)
    assert r.headers["X-Paging-Limit"] == "1000"
    r = api.get("/flows", params={"limit": 1})
    assert len(check(r, 200)) <= 1 and r.headers["X-Paging-Limit"] == "1"
