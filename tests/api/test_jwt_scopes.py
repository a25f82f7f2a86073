"""JWT bearer tokens (HS256; RS256 and ES256 from a JWKS file or URL) and scopes (docs/auth.md).

Tokens are minted here with PyJWT; keys are generated here with `cryptography`. Each server is
started with its own JWT configuration next to the usual static test credentials.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tams_helpers import (
    Api, FLOW_LIST, TOKEN, TamsServer, ServerFailed, check, make_flow, unique,
)

SECRET = "tams-test-hs256-secret-0123456789abcdef"
ISSUER = "https://idp.test/realms/tams"
AUDIENCE = "tams"

READ, WRITE, DELETE, ADMIN = "tams-api/read", "tams-api/write", "tams-api/delete", "tams-api/admin"
ALL = [READ, WRITE, DELETE, ADMIN]

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_KEY_2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_KEY_2 = ec.generate_private_key(ec.SECP256R1())


def jwk(private_key, kid):
    algorithm = RSAAlgorithm if isinstance(private_key, rsa.RSAPrivateKey) else ECAlgorithm
    key = json.loads(algorithm.to_jwk(private_key.public_key()))
    key["kid"] = kid
    key["use"] = "sig"
    return key


def jwks(*keys):
    return {"keys": [jwk(k, kid) for k, kid in keys]}


def claims(scopes=(READ,), sub="svc-reader", **extra):
    now = int(time.time())
    c = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300,
         "scope": " ".join(scopes)}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def hs256(scopes=(READ,), secret=SECRET, **extra):
    return jwt.encode(claims(scopes, **extra), secret, algorithm="HS256")


def rs256(scopes=(READ,), key=RSA_KEY, kid="rsa-1", **extra):
    return jwt.encode(claims(scopes, **extra), key, algorithm="RS256", headers={"kid": kid})


def es256(scopes=(READ,), key=EC_KEY, kid="ec-1", **extra):
    return jwt.encode(claims(scopes, **extra), key, algorithm="ES256", headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload):
    """alg "none" with an empty signature."""
    return jwt.encode(payload, None, algorithm=None)


def hs256_with_key(payload, key: bytes, kid=None):
    """HS256 signed by hand (PyJWT refuses PEM keys as HMAC secrets, which is the attack)."""
    header = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def bearer(base_url, token):
    s = Api(base_url, auth=None)
    s.headers["Authorization"] = f"Bearer {token}"
    return s


def assert_invalid_token(r):
    check(r, 401, error_type="unauthorized")
    www = r.headers.get("WWW-Authenticate", "")
    assert "bearer" in www.lower(), f"no Bearer challenge: {dict(r.headers)}"
    assert 'error="invalid_token"' in www, f"no invalid_token in the challenge: {www!r}"


def assert_needs_scope(r, scope):
    body = check(r, 403, error_type="forbidden")
    assert f'"{scope}"' in body["summary"], body


def start_server(tmp_path_factory, name, env):
    srv = TamsServer(tmp_path_factory.mktemp(name), env=env)
    try:
        srv.start()
    except ServerFailed as e:
        pytest.fail(str(e), pytrace=False)
    return srv


@pytest.fixture(scope="module")
def hs_server(tmp_path_factory):
    srv = start_server(tmp_path_factory, "jwt-hs", {
        "TAMS_JWT_HS256_SECRET": SECRET, "TAMS_JWT_ISSUER": ISSUER,
        "TAMS_JWT_AUDIENCE": AUDIENCE, "TAMS_JWT_CLOCK_SKEW_SECONDS": "30"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def jwks_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps(jwks((RSA_KEY, "rsa-1"), (EC_KEY, "ec-1"))))
    srv = start_server(tmp_path_factory, "jwt-jwks", {
        "TAMS_JWT_JWKS_FILE": str(path), "TAMS_JWT_ISSUER": ISSUER,
        "TAMS_JWT_AUDIENCE": AUDIENCE})
    yield srv
    srv.stop()


def create_flow(session, **params):
    body = make_flow("video")
    return check(session.put(f"/flows/{body['id']}", json=body, params=params), 201, "flow.json")


# --------------------------------------------------------------------------------------------
# HS256: valid and invalid tokens
# --------------------------------------------------------------------------------------------

def test_hs256_valid(hs_server):
    s = bearer(hs_server.base_url, hs256())
    check(s.get("/service"), 200, "service.json")
    check(s.get("/flows", params={"limit": 1}), 200, FLOW_LIST)
    check(s.head("/flows"), 200)


INVALID_HS256 = {
    "expired": lambda: hs256(exp=int(time.time()) - 120),
    "expired-no-skew-left": lambda: hs256(exp=int(time.time()) - 31),
    "not-yet-valid": lambda: hs256(nbf=int(time.time()) + 120),
    "no-exp": lambda: hs256(exp=None),
    "wrong-audience": lambda: hs256(aud="someone-else"),
    "no-audience": lambda: hs256(aud=None),
    "wrong-issuer": lambda: hs256(iss="https://evil.test/realms/tams"),
    "no-issuer": lambda: hs256(iss=None),
    "wrong-signature": lambda: hs256(secret="another-secret-of-sufficient-length-xyz"),
    "alg-none": lambda: unsigned(claims()),
    "tampered-payload": lambda: (lambda t: t.split(".")[0] + "." + b64url(json.dumps(
        claims(scopes=ALL, sub="mallory")).encode()) + "." + t.split(".")[2])(hs256()),
    "rs256-without-jwks": lambda: rs256(),
    "garbage": lambda: "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
}


@pytest.mark.parametrize("case", list(INVALID_HS256))
def test_hs256_invalid_is_401(hs_server, case):
    token = INVALID_HS256[case]()
    assert_invalid_token(bearer(hs_server.base_url, token).get("/flows"))
    assert_invalid_token(Api(hs_server.base_url, auth=None).get(
        "/flows", params={"access_token": token}))


def test_clock_skew_is_applied(hs_server):
    # Expired 10 s ago, inside the configured 30 s of skew; valid from 10 s ahead, likewise.
    now = int(time.time())
    check(bearer(hs_server.base_url, hs256(exp=now - 10)).get("/service"), 200)
    check(bearer(hs_server.base_url, hs256(nbf=now + 10)).get("/service"), 200)


def test_no_credentials_challenge_has_no_error(hs_server):
    r = Api(hs_server.base_url, auth=None).get("/flows")
    check(r, 401, error_type="unauthorized")
    assert "invalid_token" not in r.headers.get("WWW-Authenticate", "")


def test_access_token_query(hs_server):
    anon = Api(hs_server.base_url, auth=None)
    token = hs256([READ, WRITE], sub="query-user")
    check(anon.get("/flows", params={"access_token": token, "limit": 2}), 200, FLOW_LIST)
    created = create_flow(anon, access_token=token)
    assert created["created_by"] == "query-user"
    # The header wins over the query.
    r = anon.get("/flows", params={"access_token": token},
                 headers={"Authorization": "Bearer " + hs256(exp=int(time.time()) - 3600)})
    assert_invalid_token(r)


def test_static_credentials_still_work(hs_server):
    check(Api(hs_server.base_url).get("/service"), 200, "service.json")
    check(bearer(hs_server.base_url, TOKEN).get("/service"), 200, "service.json")
    assert_invalid_token(bearer(hs_server.base_url, TOKEN + "x").get("/service"))


# --------------------------------------------------------------------------------------------
# Scopes
# --------------------------------------------------------------------------------------------

def test_read_only_token(hs_server):
    s = bearer(hs_server.base_url, hs256([READ]))
    check(s.get("/flows"), 200, FLOW_LIST)
    check(s.head("/service"), 200)
    body = make_flow("video")
    assert_needs_scope(s.put(f"/flows/{body['id']}", json=body), WRITE)
    # Nothing was written.
    check(Api(hs_server.base_url).get(f"/flows/{body['id']}"), 404)


def test_token_without_scopes_can_do_nothing(hs_server):
    s = bearer(hs_server.base_url, hs256([]))
    assert_needs_scope(s.get("/flows"), READ)
    check(s.head("/flows"), 403)


def test_write_token_cannot_delete_flows(hs_server):
    s = bearer(hs_server.base_url, hs256([READ, WRITE], sub="svc-writer"))
    flow = create_flow(s)
    fid = flow["id"]
    assert flow["created_by"] == "svc-writer"
    check(s.put(f"/flows/{fid}/label", json="a label"), 204)
    # Metadata deletes are writes ...
    check(s.delete(f"/flows/{fid}/label"), 204)
    check(s.put(f"/flows/{fid}/tags/t", json="v"), 204)
    check(s.delete(f"/flows/{fid}/tags/t"), 204)
    # ... but deleting the flow or its segments needs tams-api/delete.
    assert_needs_scope(s.delete(f"/flows/{fid}"), DELETE)
    assert_needs_scope(s.delete(f"/flows/{fid}/segments"), DELETE)
    check(s.get(f"/flows/{fid}"), 200, "flow.json")
    check(s.get("/flow-delete-requests"), 200)
    deleter = bearer(hs_server.base_url, hs256([DELETE], sub="svc-deleter"))
    check(deleter.delete(f"/flows/{fid}/segments"), (202, 204))
    check(deleter.delete(f"/flows/{fid}"), (202, 204))


def test_updated_by_is_the_subject(hs_server):
    flow = create_flow(bearer(hs_server.base_url, hs256([WRITE], sub="creator")))
    s = bearer(hs_server.base_url, hs256([READ, WRITE], sub="editor"))
    check(s.put(f"/flows/{flow['id']}/description", json="edited"), 204)
    got = check(s.get(f"/flows/{flow['id']}"), 200, "flow.json")
    assert got["created_by"] == "creator"
    assert got["updated_by"] == "editor"


def test_service_post_needs_admin(hs_server):
    body = {"name": unique("svc-")}
    assert_needs_scope(bearer(hs_server.base_url, hs256([READ, WRITE, DELETE])).post(
        "/service", json=body), ADMIN)
    got = check(bearer(hs_server.base_url, hs256([ADMIN])).post("/service", json=body), 200)
    assert got["name"] == body["name"]
    # Reading the service is a read, and admin does not imply read.
    check(bearer(hs_server.base_url, hs256([READ])).get("/service"), 200, "service.json")
    assert_needs_scope(bearer(hs_server.base_url, hs256([ADMIN])).get("/service"), READ)
    assert_needs_scope(bearer(hs_server.base_url, hs256([ADMIN, DELETE])).get("/flows"), READ)


def test_scp_claim(hs_server):
    token = jwt.encode(claims(scope=None, scp=[READ, WRITE], sub="scp-user"), SECRET,
                       algorithm="HS256")
    created = create_flow(bearer(hs_server.base_url, token))
    assert created["created_by"] == "scp-user"


def test_forbidden_is_not_read_only(hs_server):
    """A scope 403 and a read-only-flow 403 have different error types."""
    flow = create_flow(Api(hs_server.base_url))
    check(Api(hs_server.base_url).put(f"/flows/{flow['id']}/read_only", json=True), 204)
    check(Api(hs_server.base_url).put(f"/flows/{flow['id']}/label", json="x"), 403,
          error_type="read_only")
    assert_needs_scope(bearer(hs_server.base_url, hs256([READ])).put(
        f"/flows/{flow['id']}/label", json="x"), WRITE)


def test_404_and_405_need_only_authentication(hs_server):
    s = bearer(hs_server.base_url, hs256([READ]))
    check(s.get("/nowhere"), 404)
    check(s.delete("/service"), 405)


# --------------------------------------------------------------------------------------------
# RS256 / ES256 with a JWKS file
# --------------------------------------------------------------------------------------------

def test_rs256_and_es256_valid(jwks_server):
    r = bearer(jwks_server.base_url, rs256([READ, WRITE], sub="rsa-client"))
    check(r.get("/flows", params={"limit": 1}), 200, FLOW_LIST)
    assert create_flow(r)["created_by"] == "rsa-client"
    e = bearer(jwks_server.base_url, es256([READ, WRITE], sub="ec-client"))
    check(e.get("/service"), 200, "service.json")
    assert create_flow(e)["created_by"] == "ec-client"


def rsa_public_pem():
    return RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


INVALID_JWKS = {
    "expired": lambda: rs256(exp=int(time.time()) - 3600),
    "wrong-audience": lambda: es256(aud=["account", "other"]),
    "wrong-issuer": lambda: rs256(iss=ISSUER + "/x"),
    "wrong-signature-rsa": lambda: rs256(key=RSA_KEY_2),
    "wrong-signature-ec": lambda: es256(key=EC_KEY_2),
    "unknown-kid": lambda: rs256(key=RSA_KEY_2, kid="rsa-9"),
    "alg-none": lambda: unsigned(claims()),
    "hs256-with-public-key": lambda: hs256_with_key(claims(scopes=ALL), rsa_public_pem(), "rsa-1"),
    "es256-naming-rsa-key": lambda: es256(kid="rsa-1"),
    "rs256-naming-ec-key": lambda: rs256(kid="ec-1"),
}


@pytest.mark.parametrize("case", list(INVALID_JWKS))
def test_jwks_invalid_is_401(jwks_server, case):
    assert_invalid_token(bearer(jwks_server.base_url, INVALID_JWKS[case]()).get("/flows"))


def test_audience_array_is_accepted(jwks_server):
    check(bearer(jwks_server.base_url, rs256(aud=["account", AUDIENCE])).get("/service"), 200)


# --------------------------------------------------------------------------------------------
# JWKS from a URL: refresh on an unknown kid, periodic refresh, failed fetches
# --------------------------------------------------------------------------------------------

class JwksHttp:
    """A tiny JWKS endpoint on 127.0.0.1 whose document (or failure) the test sets."""

    def __init__(self, document):
        self.document = document
        self.status = 200
        self.fetches = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                if outer.status != 200:
                    body = b'{"error": "down"}'
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/realms/tams/certs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_http():
    endpoints = []

    def make(document):
        e = JwksHttp(document)
        endpoints.append(e)
        return e

    yield make
    for e in endpoints:
        e.close()


def test_jwks_url_refreshes_on_unknown_kid(tams_server, jwks_http):
    endpoint = jwks_http(jwks((RSA_KEY, "rsa-1")))
    srv = tams_server(env={"TAMS_JWT_JWKS_URL": endpoint.url, "TAMS_JWT_AUDIENCE": AUDIENCE,
                           "TAMS_JWT_JWKS_REFRESH_SECONDS": "3600"})
    check(bearer(srv.base_url, rs256()).get("/service"), 200)
    assert endpoint.fetches == 1
    # The identity provider rotates: a new EC key appears and is used at once.
    endpoint.document = jwks((RSA_KEY, "rsa-1"), (EC_KEY_2, "ec-2"))
    check(bearer(srv.base_url, es256(key=EC_KEY_2, kid="ec-2")).get("/service"), 200)
    assert endpoint.fetches == 2
    check(bearer(srv.base_url, rs256()).get("/service"), 200)
    # Another unknown kid within 30 s does not fetch again (clients cannot force fetches).
    endpoint.document = jwks((RSA_KEY_2, "rsa-2"))
    for _ in range(3):
        assert_invalid_token(bearer(srv.base_url, rs256(key=RSA_KEY_2, kid="rsa-2")).get("/flows"))
    assert endpoint.fetches == 2
    check(bearer(srv.base_url, es256(key=EC_KEY_2, kid="ec-2")).get("/service"), 200)


def test_jwks_url_periodic_refresh_keeps_keys_on_failure(tams_server, jwks_http):
    endpoint = jwks_http(jwks((RSA_KEY, "rsa-1")))
    srv = tams_server(env={"TAMS_JWT_JWKS_URL": endpoint.url,
                           "TAMS_JWT_JWKS_REFRESH_SECONDS": "1"})
    token = rs256()
    check(bearer(srv.base_url, token).get("/service"), 200)
    endpoint.status = 500
    before = endpoint.fetches
    deadline = time.monotonic() + 10
    while endpoint.fetches < before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert endpoint.fetches >= before + 2, "no periodic refresh"
    check(bearer(srv.base_url, token).get("/service"), 200)   # old keys kept
    assert "keeping the previous keys" in srv.stderr()
    # Back up with a rotated key set: the periodic refresh (not a token) drops the old key.
    endpoint.status = 200
    endpoint.document = jwks((EC_KEY, "ec-1"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if bearer(srv.base_url, token).get("/service").status_code == 401:
            break
        time.sleep(0.2)
    assert_invalid_token(bearer(srv.base_url, token).get("/service"))   # rotated out
    check(bearer(srv.base_url, es256()).get("/service"), 200)


def test_jwks_url_down_at_start(tams_server, jwks_http):
    endpoint = jwks_http(jwks((RSA_KEY, "rsa-1")))
    endpoint.status = 503
    srv = tams_server(env={"TAMS_JWT_JWKS_URL": endpoint.url,
                           "TAMS_JWT_JWKS_REFRESH_SECONDS": "3600"})
    check(Api(srv.base_url).get("/service"), 200)           # static credentials work
    endpoint.status = 200
    # The first unknown kid fetches at once.
    check(bearer(srv.base_url, rs256()).get("/service"), 200)


def test_jwks_file_must_load(tams_server, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": "nope"}')
    srv = tams_server(env={"TAMS_JWT_JWKS_FILE": str(bad)}, wait=False)
    assert srv.wait_exit() == 2
    assert "jwt_jwks_file" in srv.stderr() and "nope" not in srv.stderr()


# --------------------------------------------------------------------------------------------
# Static credentials and their scopes
# --------------------------------------------------------------------------------------------

def test_static_scopes_restrict_basic_users_and_tokens(tams_server):
    srv = tams_server(env={"TAMS_AUTH_STATIC_SCOPES": "tams-api/read,tams-api/write"})
    for s in (Api(srv.base_url), bearer(srv.base_url, TOKEN)):
        check(s.get("/flows"), 200, FLOW_LIST)
        flow = create_flow(s)
        assert_needs_scope(s.delete(f"/flows/{flow['id']}"), DELETE)
        assert_needs_scope(s.post("/service", json={"name": "x"}), ADMIN)
    read_only = tams_server(env={"TAMS_AUTH_STATIC_SCOPES": "tams-api/read"})
    s = Api(read_only.base_url)
    check(s.get("/service"), 200)
    body = make_flow("audio")
    assert_needs_scope(s.put(f"/flows/{body['id']}", json=body), WRITE)


def test_static_credentials_default_to_all_scopes(tams_server):
    srv = tams_server()
    s = Api(srv.base_url)
    flow = create_flow(s)
    check(s.delete(f"/flows/{flow['id']}"), (202, 204))
    check(s.post("/service", json={"name": unique("svc-")}), 200)


def test_jwt_only_server_generates_no_admin_password(tams_server):
    srv = tams_server(credentials=False, env={"TAMS_JWT_HS256_SECRET": SECRET})
    assert not (srv.data_dir / "admin-password").exists()
    assert "generated an admin password" not in srv.output()
    check(bearer(srv.base_url, hs256([READ], iss=None, aud=None)).get("/service"), 200)
    check(Api(srv.base_url, auth=None).get("/service"), 401)


@pytest.mark.parametrize("env,message", [
    ({"TAMS_JWT_HS256_SECRET": "s3cr3t-x"}, "TAMS_JWT_HS256_SECRET: must be at least 32 bytes"),
    ({"TAMS_AUTH_STATIC_SCOPES": "tams-api/root"}, "TAMS_AUTH_STATIC_SCOPES: expected"),
    ({"TAMS_JWT_JWKS_FILE": "/x.json", "TAMS_JWT_JWKS_URL": "http://127.0.0.1:1/x"},
     "cannot be combined"),
], ids=["short-secret", "unknown-scope", "file-and-url"])
def test_bad_jwt_configuration(tams_server, env, message):
    srv = tams_server(env=env, wait=False)
    assert srv.wait_exit() == 2
    assert message in srv.stderr()
    assert "s3cr3t" not in srv.output()
