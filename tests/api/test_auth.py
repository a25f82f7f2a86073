"""Authentication (TAMS 7.0 ADR 0028): basic, bearer token or ?access_token=; no anonymous access
except CORS preflight."""
import base64

import pytest

from tams_helpers import (
    Api, BASIC_PASS, BASIC_USER, FLOW_LIST, TOKEN, check, make_flow, new_id, raw_request,
)

RANDOM_ID = new_id()

PROTECTED = [
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/service"),
    ("HEAD", "/service"),
    ("POST", "/service"),
    ("GET", "/service/storage-backends"),
    ("GET", "/flows"),
    ("HEAD", "/flows"),
    ("GET", "/sources"),
    ("GET", f"/flows/{RANDOM_ID}"),
    ("HEAD", f"/flows/{RANDOM_ID}"),
    ("PUT", f"/flows/{RANDOM_ID}"),
    ("DELETE", f"/flows/{RANDOM_ID}"),
    ("GET", f"/flows/{RANDOM_ID}/tags"),
    ("PUT", f"/flows/{RANDOM_ID}/tags/x"),
    ("GET", f"/flows/{RANDOM_ID}/label"),
    ("PUT", f"/flows/{RANDOM_ID}/read_only"),
    ("GET", f"/sources/{RANDOM_ID}"),
    ("PUT", f"/sources/{RANDOM_ID}/label"),
]


def assert_unauthorized(r):
    check(r, 401, error_type="unauthorized")
    www = r.headers.get("WWW-Authenticate")
    assert www, f"401 without WWW-Authenticate: {dict(r.headers)}"
    assert "basic" in www.lower() or "bearer" in www.lower(), www


@pytest.mark.parametrize("method,path", PROTECTED,
                         ids=[f"{m} {p.replace(RANDOM_ID, '{id}')}" for m, p in PROTECTED])
def test_no_credentials_is_401(anon, method, path):
    body = None
    if method in ("PUT", "POST"):
        body = make_flow("video", id=RANDOM_ID) if path == f"/flows/{RANDOM_ID}" else {}
    assert_unauthorized(anon.request(method, path, json=body))


def test_401_before_404_and_no_side_effect(anon, api):
    fid = new_id()
    r = anon.put(f"/flows/{fid}", json=make_flow("video", id=fid))
    assert_unauthorized(r)
    check(api.get(f"/flows/{fid}"), 404)


@pytest.mark.parametrize("auth", [
    (BASIC_USER, "wrong-pass"),
    ("nobody", BASIC_PASS),
    (BASIC_USER, ""),
    (BASIC_USER, BASIC_PASS + "x"),
], ids=["wrong-password", "wrong-user", "empty-password", "password-prefix"])
def test_wrong_basic_credentials(base_url, auth):
    s = Api(base_url, auth=auth)
    assert_unauthorized(s.get("/service"))
    assert_unauthorized(s.get("/flows"))


@pytest.mark.parametrize("header", [
    "Bearer wrong-token",
    "Bearer " + TOKEN + "x",
    "Bearer " + TOKEN[:-1],
    "Bearer ",
    "Bearer",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic",
    "Digest username=\"test\"",
    TOKEN,
], ids=["wrong-token", "token-suffix", "token-prefix", "empty-bearer", "bare-bearer",
        "bad-base64", "no-colon", "bare-basic", "digest", "token-without-scheme"])
def test_wrong_authorization_header(base_url, header):
    s = Api(base_url, auth=None)
    assert_unauthorized(s.get("/service", headers={"Authorization": header}))


def test_bearer_token_ok(base_url):
    s = Api(base_url, auth=None)
    s.headers["Authorization"] = f"Bearer {TOKEN}"
    check(s.get("/service"), 200, "service.json")
    check(s.get("/flows", params={"limit": 1}), 200, FLOW_LIST)
    body = make_flow("audio")
    r = s.put(f"/flows/{body['id']}", json=body)
    created = check(r, 201, "flow.json")
    assert isinstance(created.get("created_by"), str) and created["created_by"]
    check(s.get(f"/flows/{body['id']}"), 200, "flow.json")
    check(s.delete(f"/flows/{body['id']}"), 204)


def test_bearer_scheme_is_case_insensitive(base_url):
    s = Api(base_url, auth=None)
    check(s.get("/service", headers={"Authorization": f"bearer {TOKEN}"}), 200, "service.json")


def test_access_token_query_ok(base_url):
    s = Api(base_url, auth=None)
    check(s.get("/service", params={"access_token": TOKEN}), 200, "service.json")
    check(s.head("/service", params={"access_token": TOKEN}), 200)
    body = make_flow("data")
    check(s.put(f"/flows/{body['id']}", params={"access_token": TOKEN}, json=body), 201, "flow.json")
    check(s.get(f"/flows/{body['id']}", params={"access_token": TOKEN}), 200, "flow.json")
    check(s.get("/flows", params={"access_token": TOKEN, "limit": 2}), 200, FLOW_LIST)


@pytest.mark.parametrize("value", ["wrong", TOKEN + "x", "", "secret-pass"])
def test_wrong_access_token(anon, value):
    assert_unauthorized(anon.get("/service", params={"access_token": value}))


def test_basic_principal_is_created_by(api, new_flow):
    body = new_flow("video", created_by="someone-else", updated_by="someone-else")
    created = check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    assert created["created_by"] == BASIC_USER
    if "updated_by" in created:
        assert created["updated_by"] == BASIC_USER


def test_preflight_needs_no_credentials(anon):
    r = anon.options("/flows", headers={
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert r.status_code in (200, 204), r.text
    r = anon.options(f"/flows/{RANDOM_ID}/tags/x", headers={
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code in (200, 204), r.text


def test_raw_request_without_auth_is_401(base_url):
    assert_unauthorized(raw_request(base_url, "GET", "/flows", auth=False))


def test_multiple_users_and_tokens(tams_server):
    srv = tams_server(credentials=False, env={
        "TAMS_AUTH_BASIC": "alice:pw-a,bob:pw-b",
        "TAMS_AUTH_TOKENS": "tok-a,tok-b"})
    for auth in [("alice", "pw-a"), ("bob", "pw-b")]:
        check(Api(srv.base_url, auth).get("/service"), 200, "service.json")
    for auth in [("alice", "pw-b"), ("bob", "pw-a"), (BASIC_USER, BASIC_PASS)]:
        assert_unauthorized(Api(srv.base_url, auth).get("/service"))
    bare = Api(srv.base_url, auth=None)
    for tok in ["tok-a", "tok-b"]:
        check(bare.get("/service", headers={"Authorization": f"Bearer {tok}"}), 200, "service.json")
        check(bare.get("/service", params={"access_token": tok}), 200, "service.json")
    assert_unauthorized(bare.get("/service", headers={"Authorization": f"Bearer {TOKEN}"}))
    # created_by follows the basic user name
    body = make_flow("video")
    created = check(Api(srv.base_url, ("bob", "pw-b")).put(f"/flows/{body['id']}", json=body),
                    201, "flow.json")
    assert created["created_by"] == "bob"
