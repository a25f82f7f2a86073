"""CORS, configuration precedence (flags > env > TOML file), bad configuration, the generated
admin password and persistence across restarts."""
import os
import socket
import stat
import time

import pytest

from tams_helpers import (
    Api, BASIC_AUTH, FLOW_LIST, SOURCE_LIST, TOKEN, check, free_port, make_flow, new_id,
)

EXPOSED = {"link", "x-paging-nextkey", "x-paging-limit", "location"}


def header_set(value):
    return {p.strip().lower() for p in (value or "").split(",") if p.strip()}


def assert_cors(r, origin):
    acao = r.headers.get("Access-Control-Allow-Origin")
    assert acao in ("*", origin), f"Access-Control-Allow-Origin {acao!r}: {dict(r.headers)}"
    exposed = header_set(r.headers.get("Access-Control-Expose-Headers"))
    assert EXPOSED <= exposed, f"Access-Control-Expose-Headers lacks {EXPOSED - exposed}"


# ------------------------------------------------------------------------------------ CORS

ORIGIN = "http://player.example:8080"


@pytest.mark.parametrize("path,status", [("/service", 200), ("/flows?limit=1", 200),
                                         ("/sources?limit=1", 200), ("/", 200),
                                         (f"/flows/{new_id()}", 404), ("/flows?limit=0", 400)],
                         ids=["service", "flows", "sources", "root", "404", "400"])
def test_cors_headers_on_responses(api, path, status):
    r = api.get(path, headers={"Origin": ORIGIN})
    check(r, status)
    assert_cors(r, ORIGIN)
    h = api.head(path, headers={"Origin": ORIGIN})
    assert_cors(h, ORIGIN)


def test_cors_headers_on_401(anon):
    r = anon.get("/flows", headers={"Origin": ORIGIN})
    check(r, 401)
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", ORIGIN), \
        "browsers can only read the 401 when it carries CORS headers"


def test_cors_on_put_201(api, new_flow):
    body = new_flow("video")
    r = api.put(f"/flows/{body['id']}", json=body, headers={"Origin": ORIGIN})
    check(r, 201, "flow.json")
    assert_cors(r, ORIGIN)


@pytest.mark.parametrize("path,method", [
    ("/flows", "GET"), (f"/flows/{new_id()}", "PUT"), (f"/flows/{new_id()}", "DELETE"),
    ("/service", "POST"), (f"/sources/{new_id()}/tags/a.b", "PUT"), ("/", "GET"),
    (f"/flows/{new_id()}/read_only", "PUT"),
], ids=["flows-get", "flow-put", "flow-delete", "service-post", "source-tag-put", "root",
        "read-only-put"])
def test_preflight(anon, path, method):
    r = anon.options(path, headers={
        "Origin": ORIGIN,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert r.status_code in (200, 204), f"{r.status_code} {r.text}"
    if r.status_code == 204:
        assert r.content == b""
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", ORIGIN)
    methods = header_set(r.headers.get("Access-Control-Allow-Methods"))
    assert method.lower() in methods, f"Allow-Methods {methods}"
    allowed = header_set(r.headers.get("Access-Control-Allow-Headers"))
    # `*` does not cover Authorization (Fetch standard), so it must be listed
    assert {"authorization", "content-type"} <= allowed, f"Allow-Headers {allowed}"


def test_configured_origins(tams_server):
    allowed = "http://allowed.example"
    srv = tams_server(env={"TAMS_CORS_ORIGINS": f"{allowed},http://other.example:3000"})
    api = srv.api()
    r = api.get("/service", headers={"Origin": allowed})
    check(r, 200, "service.json")
    assert r.headers.get("Access-Control-Allow-Origin") == allowed
    assert "origin" in header_set(r.headers.get("Vary")), "a per-origin answer must Vary: Origin"
    assert EXPOSED <= header_set(r.headers.get("Access-Control-Expose-Headers"))
    r = api.get("/service", headers={"Origin": "http://other.example:3000"})
    assert r.headers.get("Access-Control-Allow-Origin") == "http://other.example:3000"
    r = api.get("/service", headers={"Origin": "http://evil.example"})
    check(r, 200, "service.json")
    assert "Access-Control-Allow-Origin" not in r.headers
    bare = Api(srv.base_url, auth=None)
    pre = bare.options("/flows", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    assert pre.status_code < 500
    assert "Access-Control-Allow-Origin" not in pre.headers
    pre = bare.options("/flows", headers={
        "Origin": allowed, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code in (200, 204)
    assert pre.headers.get("Access-Control-Allow-Origin") == allowed


# ------------------------------------------------------------------------------------ bad config

@pytest.mark.parametrize("var,value,key", [
    ("TAMS_PAGE_LIMIT_MAX", "abc", "page_limit_max"),
    ("TAMS_PAGE_LIMIT_DEFAULT", "-1", "page_limit_default"),
    ("TAMS_PAGE_LIMIT_MAX", "0", "page_limit_max"),
    ("TAMS_MAX_BODY_BYTES", "lots", "max_body_bytes"),
    ("TAMS_LISTEN", "not an address", "listen"),
    ("TAMS_AUTH_BASIC", "no-colon-here", "auth_basic"),
], ids=["limit-max-abc", "limit-default-negative", "limit-max-zero", "body-bytes-word",
        "listen-garbage", "basic-without-colon"])
def test_bad_config_value_exits(tams_server, tmp_path, var, value, key):
    kwargs = {}
    if var == "TAMS_LISTEN":   # no --listen flag, so that the environment value is the one used
        kwargs = {"default_args": False, "args": ["--data-dir", str(tmp_path / "data")]}
    srv = tams_server(env={var: value}, wait=False, **kwargs)
    rc = srv.wait_exit(10)
    assert rc != 0
    err = srv.stderr().lower()
    assert key in err, f"stderr should name {key}: {srv.stderr()!r}"


def test_unknown_config_file_key_exits(tams_server, tmp_path):
    cfg = tmp_path / "tams.toml"
    cfg.write_text('page_limit_max = 5\nfrobnicate_level = 3\n')
    srv = tams_server(args=["--config", str(cfg)], wait=False)
    rc = srv.wait_exit(10)
    assert rc != 0
    assert "frobnicate_level" in srv.stderr(), srv.stderr()


def test_bad_config_file_value_exits(tams_server, tmp_path):
    cfg = tmp_path / "tams.toml"
    cfg.write_text('page_limit_max = "many"\n')
    srv = tams_server(args=["--config", str(cfg)], wait=False)
    assert srv.wait_exit(10) != 0
    assert "page_limit_max" in srv.stderr().lower(), srv.stderr()


def test_config_file_syntax_error_exits(tams_server, tmp_path):
    cfg = tmp_path / "tams.toml"
    cfg.write_text('page_limit_max = \n[[[\n')
    srv = tams_server(args=["--config", str(cfg)], wait=False)
    assert srv.wait_exit(10) != 0
    assert srv.stderr().strip()


def test_missing_config_file_exits(tams_server, tmp_path):
    srv = tams_server(args=["--config", str(tmp_path / "absent.toml")], wait=False)
    assert srv.wait_exit(10) != 0
    assert srv.stderr().strip()


# ------------------------------------------------------------------------------------ precedence

def _refused(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_flag_overrides_env(tams_server, tmp_path):
    env_port = free_port()
    env_dir = tmp_path / "env-data"
    srv = tams_server(env={"TAMS_LISTEN": f"127.0.0.1:{env_port}", "TAMS_DATA_DIR": str(env_dir)})
    api = srv.api()
    body = make_flow("video")
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    assert _refused(env_port), "the --listen flag must win over TAMS_LISTEN"
    srv.stop()
    assert any(srv.data_dir.iterdir()), "data goes to the --data-dir flag"
    assert not env_dir.exists() or not any(env_dir.iterdir()), "TAMS_DATA_DIR must be overridden"


def test_config_file_and_env_precedence(tams_server, tmp_path):
    file_port = free_port()
    env_port = free_port()
    cfg = tmp_path / "tams.toml"
    data = tmp_path / "data"
    cfg.write_text(f'listen = "127.0.0.1:{file_port}"\n'
                   f'data_dir = "{data}"\n'
                   'page_limit_max = 5\n'
                   'page_limit_default = 2\n')
    # file only
    # data_dir=: the helper's own record of where the file sends the data (its PostgreSQL
    # database under make test-pg is chosen by it).
    srv = tams_server(args=["--config", str(cfg)], default_args=False, data_dir=data,
                      port=file_port, name="file")
    api = srv.api()
    for _ in range(6):
        b = make_flow("data")
        check(api.put(f"/flows/{b['id']}", json=b), 201, "flow.json")
    r = api.get("/flows", params={"limit": 50})
    assert len(check(r, 200, FLOW_LIST)) == 5 and r.headers["X-Paging-Limit"] == "5"
    r = api.get("/flows")
    assert len(check(r, 200, FLOW_LIST)) == 2 and r.headers["X-Paging-Limit"] == "2"
    srv.stop()
    # env overrides the file
    srv = tams_server(args=["--config", str(cfg)], default_args=False, data_dir=data,
                      port=env_port, name="env", env={"TAMS_LISTEN": f"127.0.0.1:{env_port}", "TAMS_PAGE_LIMIT_MAX": "4"})
    assert _refused(file_port)
    api = srv.api()
    r = api.get("/flows", params={"limit": 50})
    assert len(check(r, 200, FLOW_LIST)) == 4 and r.headers["X-Paging-Limit"] == "4"
    r = api.get("/flows")
    assert r.headers["X-Paging-Limit"] == "2", "unset env keeps the file's value"
    srv.stop()
    # a flag overrides both
    flag_port = free_port()
    srv = tams_server(args=["--config", str(cfg), "--listen", f"127.0.0.1:{flag_port}"],
                      default_args=False, data_dir=data, port=flag_port, name="flag",
                      env={"TAMS_LISTEN": f"127.0.0.1:{env_port}"})
    assert _refused(env_port) and _refused(file_port)
    check(srv.api().get("/sources"), 200, SOURCE_LIST)


# ------------------------------------------------------------------------------------ admin password

def _wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_generated_admin_password(tams_server):
    srv = tams_server(credentials=False)
    pw_file = srv.data_dir / "admin-password"
    assert _wait_for(pw_file.exists), "admin-password file not written"
    mode = stat.S_IMODE(os.stat(pw_file).st_mode)
    assert mode == 0o600, f"admin-password mode is {oct(mode)}"
    password = pw_file.read_text().strip()
    assert len(password) >= 12 and "\n" not in password
    assert _wait_for(lambda: password in srv.output()), "password must be printed once at first start"
    lines = [ln for ln in srv.output().splitlines() if "curl" in ln]
    assert lines, "a ready-to-paste curl line is printed"
    assert any("admin" in ln and password in ln for ln in lines), lines
    assert srv.output().count(password) <= 2
    check(Api(srv.base_url, ("admin", password)).get("/service"), 200, "service.json")
    check(Api(srv.base_url, None).get("/service"), 401)
    check(Api(srv.base_url, ("admin", password + "x")).get("/service"), 401)
    check(Api(srv.base_url, BASIC_AUTH).get("/service"), 401)
    check(Api(srv.base_url, None).get("/service", headers={"Authorization": f"Bearer {TOKEN}"}), 401)
    # second start: nothing printed, same password still valid
    srv.stop()
    srv.start()
    time.sleep(0.3)
    assert password not in srv.output(), "the password is printed only at the first start"
    assert pw_file.read_text().strip() == password
    check(Api(srv.base_url, ("admin", password)).get("/service"), 200, "service.json")


def test_no_generated_password_when_credentials_configured(server):
    assert not (server.data_dir / "admin-password").exists()


# ------------------------------------------------------------------------------------ persistence

def test_data_survives_restart(tams_server):
    srv = tams_server()
    api = srv.api()
    check(api.post("/service", json={"name": "persisted", "description": "d"}), 200)
    a = make_flow("video", label="A", description="first", tags={"k": "v", "a.b": "dot"},
                  max_bit_rate=100, avg_bit_rate=50, metadata_version="mv-1")
    b = make_flow("audio", tags={"k": "w"})
    m = make_flow("multi", flow_collection=[{"id": a["id"], "role": "video"},
                                            {"id": b["id"], "role": "audio"}])
    for body in (a, b, m):
        check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    check(api.put(f"/flows/{b['id']}/read_only", json=True), 204)
    check(api.put(f"/sources/{a['source_id']}/label", json="source A"), 204)
    check(api.put(f"/sources/{a['source_id']}/tags/x%2Fy", json="slash"), 204)
    gone = make_flow("data")
    check(api.put(f"/flows/{gone['id']}", json=gone), 201, "flow.json")
    check(api.delete(f"/flows/{gone['id']}"), 204)

    def snapshot():
        flows = check(api.get("/flows", params={"limit": 100}), 200, FLOW_LIST)
        sources = check(api.get("/sources", params={"limit": 100}), 200, SOURCE_LIST)
        return flows, sources

    before = snapshot()
    service_before = check(api.get("/service"), 200, "service.json")
    rc, killed = srv.stop()
    assert not killed, "tams should shut down within 5 s of SIGTERM"
    srv.port = free_port()
    srv.start()
    api = srv.api()
    after = snapshot()
    assert after == before
    assert len(after[0]) == 3 and len(after[1]) == 3
    got = check(api.get(f"/flows/{a['id']}"), 200, "flow.json")
    assert got["tags"] == {"k": "v", "a.b": "dot"} and got["metadata_version"] == "mv-1"
    assert check(api.get(f"/flows/{b['id']}/read_only"), 200, {"type": "boolean"}) is True
    assert m["id"] in got["collected_by"]
    check(api.get(f"/flows/{gone['id']}"), 404)
    check(api.get(f"/sources/{gone['source_id']}"), 404)
    service_after = check(api.get("/service"), 200, "service.json")
    assert service_after.get("name") == service_before.get("name") == "persisted"
    # and it is still writable
    check(api.put(f"/flows/{a['id']}/label", json="after restart"), 204)
