"""Shared helpers for the black-box API tests (imported by conftest.py and the test modules).

Everything here is plain Python: schema loading/validation, the `check()` response assertion,
Flow body factories, a raw HTTP client for requests `requests` would rewrite, paging helpers and
server process management.
"""
from __future__ import annotations

import base64
import hashlib
import datetime as dt
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import types
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / "build" / "tams"

BASIC_USER = "test"
BASIC_PASS = "secret-pass"
TOKEN = "test-token-1"
BASIC_AUTH = (BASIC_USER, BASIC_PASS)

# Fixed ids that the spec's uuid pattern rejects.
UPPER_ID = "5AD3C1E2-7B1F-4B6A-9C3D-2E1F0A9B8C7D"
V7_ID = "01890a5d-ac96-774b-bcce-b302099a8057"
V6_ID = "1ef21d2f-1207-6660-8c4f-419efbd44d48"
V8_ID = "0e9d3f4a-1b2c-8d3e-9f40-123456789abc"
NIL_ID = "00000000-0000-0000-0000-000000000000"
BAD_VARIANT_ID = "3b241101-e2bb-4255-c000-4b13f8e1d0a4"   # variant bits 11xx
MALFORMED_IDS = ["not-a-uuid", UPPER_ID, V7_ID, V6_ID, V8_ID, NIL_ID, BAD_VARIANT_ID, "123",
                 "5ad3c1e27b1f4b6a9c3d2e1f0a9b8c7d", "5ad3c1e2-7b1f-4b6a-9c3d-2e1f0a9b8c7d0",
                 "{5ad3c1e2-7b1f-4b6a-9c3d-2e1f0a9b8c7d}"]

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# docs/decisions.md: the error `type` values, and which status each belongs to.
ERROR_TYPES_BY_STATUS = {
    400: {"bad_request"},
    401: {"unauthorized"},
    403: {"forbidden", "read_only"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    409: {"conflict"},
    413: {"payload_too_large"},
    500: {"internal"},
    503: {"unavailable"},
}
ERROR_TYPES = set().union(*ERROR_TYPES_BY_STATUS.values())

FORMATS = {
    "video": "urn:x-nmos:format:video",
    "audio": "urn:x-nmos:format:audio",
    "data": "urn:x-nmos:format:data",
    "image": "urn:x-tam:format:image",
    "multi": "urn:x-nmos:format:multi",
}
FORMAT_NAMES = list(FORMATS)

# Inline schemas for bodies the spec describes inside the OpenAPI document rather than a file.
FLOW_LIST = {"type": "array", "items": {"$ref": "flow.json"}}
SOURCE_LIST = {"type": "array", "items": {"$ref": "source.json"}}
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
BIT_RATE = {"type": "integer", "minimum": 0}
ROOT_LIST = {"type": "array", "items": {"type": "string"}}

# Hop-by-hop / per-response headers that may legitimately differ between a GET and its HEAD twin.
HEAD_VOLATILE = {"date", "content-length", "transfer-encoding", "connection", "keep-alive",
                 "x-request-id", "server-timing"}


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------

def schema_dir() -> Path:
    """Directory of the TAMS 7.0 JSON schemas.

    TAMS_SPEC_DIR may name the schemas directory itself, the `api` directory or the spec root.
    Default: ../shared/tams-spec/api/schemas next to the repository, then the repo's own copy.
    """
    candidates = []
    env = os.environ.get("TAMS_SPEC_DIR")
    if env:
        p = Path(env)
        candidates += [p, p / "schemas", p / "api" / "schemas"]
    candidates += [REPO_ROOT.parent / "shared" / "tams-spec" / "api" / "schemas",
                   REPO_ROOT / "spec" / "tams-7.0" / "schemas"]
    for c in candidates:
        if (c / "flow.json").is_file():
            return c
    raise RuntimeError("TAMS schemas not found; tried: " + ", ".join(map(str, candidates)))


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _check_date_time(value):
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@FORMAT_CHECKER.checks("uri", raises=ValueError)
def _check_uri(value):
    if isinstance(value, str) and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$", value):
        raise ValueError(f"not a URI: {value!r}")
    return True


class Schemas:
    BASE = "https://tams.invalid/schemas/"

    def __init__(self, directory: Path):
        self.directory = directory
        self.store = {}
        for f in sorted(directory.glob("*.json")):
            doc = json.loads(f.read_text())
            self.store[self.BASE + f.name] = doc
        self._cache = {}

    def validator(self, schema):
        """`schema` is a schema file name ("flow.json") or an inline schema that may $ref files."""
        if isinstance(schema, str):
            key = schema
            if self.BASE + schema not in self.store:
                raise KeyError(f"no schema file {schema} in {self.directory}")
            doc, base = self.store[self.BASE + schema], self.BASE + schema
        else:
            key = json.dumps(schema, sort_keys=True)
            doc, base = schema, self.BASE + "_inline.json"
        if key not in self._cache:
            resolver = RefResolver(base_uri=base, referrer=doc, store=self.store)
            self._cache[key] = Draft202012Validator(doc, resolver=resolver,
                                                    format_checker=FORMAT_CHECKER)
        return self._cache[key]

    def errors(self, instance, schema):
        return sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.path))

    def validate(self, instance, schema, context=""):
        errs = self.errors(instance, schema)
        if errs:
            name = schema if isinstance(schema, str) else json.dumps(schema)
            lines = [f"- at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                     for e in errs[:10]]
            raise AssertionError(
                f"{context}body does not validate against {name}:\n" + "\n".join(lines)
                + f"\nbody: {json.dumps(instance)[:2000]}")


SCHEMAS = Schemas(schema_dir())


def validate(instance, schema, context=""):
    SCHEMAS.validate(instance, schema, context)


def is_valid(instance, schema) -> bool:
    return not SCHEMAS.errors(instance, schema)


# --------------------------------------------------------------------------------------------
# Response checks
# --------------------------------------------------------------------------------------------

FIVE_XX: list = []   # every 5xx seen by any client helper; an autouse fixture fails on it


def record_5xx(resp, *args, **kwargs):
    if resp.status_code >= 500:
        FIVE_XX.append(f"{resp.request.method} {resp.request.url} -> {resp.status_code}: "
                       f"{resp.text[:300] if resp.request.method != 'HEAD' else ''}")


def describe(resp) -> str:
    body = "" if resp.request.method == "HEAD" else resp.text[:800]
    return (f"{resp.request.method} {resp.request.url} -> {resp.status_code} "
            f"{dict(resp.headers)} {body}")


def json_body(resp):
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/json", \
        f"expected Content-Type application/json, got {ctype!r}: {describe(resp)}"
    try:
        return json.loads(resp.content)
    except ValueError as e:  # pragma: no cover - reported as a failure
        raise AssertionError(f"body is not JSON ({e}): {describe(resp)}")


def check(resp, status, schema=None, error_type=None):
    """Assert the status (an int or a collection of ints) and the body shape.

    - HEAD and 204 responses must have an empty body.
    - 4xx/5xx bodies must be JSON valid against error.json, with a `type` from docs/decisions.md
      matching the status (and equal to `error_type` when given).
    - 2xx bodies are validated against `schema` (file name or inline schema) when given.
    Returns the parsed JSON body (or None).
    """
    expected = (status,) if isinstance(status, int) else tuple(status)
    assert resp.status_code in expected, f"expected {expected}: {describe(resp)}"
    if resp.request.method == "HEAD" or resp.status_code == 204:
        assert resp.content == b"", f"expected an empty body: {describe(resp)}"
        return None
    if resp.status_code >= 400:
        body = json_body(resp)
        validate(body, "error.json", f"{resp.request.method} {resp.request.url}: ")
        allowed = ERROR_TYPES_BY_STATUS.get(resp.status_code, ERROR_TYPES)
        assert body["type"] in allowed, \
            f"error type {body['type']!r} not in {sorted(allowed)}: {describe(resp)}"
        if error_type is not None:
            assert body["type"] == error_type, describe(resp)
        return body
    if schema is None:
        if not resp.content:
            return None
        return json_body(resp)
    body = json_body(resp)
    validate(body, schema, f"{resp.request.method} {resp.request.url}: ")
    return body


def check_error_names(resp, status, *names, error_type=None):
    """A 4xx whose summary (or traceback) mentions at least one of `names` (case-insensitive)."""
    body = check(resp, status, error_type=error_type)
    text = (body["summary"] + " " + " ".join(body.get("traceback", []))).lower()
    assert any(n.lower() in text for n in names), \
        f"error summary should name one of {names}: {body}"
    return body


def assert_head_twin(session, path, params=None, expect=None):
    """GET and HEAD give the same status and headers; HEAD has no body. Returns the GET response."""
    g = session.get(path, params=params)
    h = session.head(path, params=params)
    if expect is not None:
        check(g, expect)
    assert h.status_code == g.status_code, f"HEAD {h.status_code} != GET {g.status_code} for {path}"
    assert h.content == b""
    gh = {k.lower(): v for k, v in g.headers.items() if k.lower() not in HEAD_VOLATILE}
    hh = {k.lower(): v for k, v in h.headers.items() if k.lower() not in HEAD_VOLATILE}
    assert hh == gh, f"HEAD headers differ from GET for {path}:\nGET  {gh}\nHEAD {hh}"
    if "content-length" in {k.lower() for k in h.headers} and g.status_code < 400:
        assert int(h.headers["Content-Length"]) in (0, len(g.content))
    return g


# --------------------------------------------------------------------------------------------
# HTTP clients
# --------------------------------------------------------------------------------------------

class Api(requests.Session):
    """A requests session bound to a base URL: `api.get("/flows")`."""

    def __init__(self, base_url, auth=BASIC_AUTH):
        super().__init__()
        self.trust_env = False          # no proxies or .netrc credentials from the environment
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.hooks["response"].append(record_5xx)

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 15)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)

    def put_raw(self, path, data, content_type="application/json"):
        return self.put(path, data=data, headers={"Content-Type": content_type})


def basic_header(user=BASIC_USER, password=BASIC_PASS):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def raw_request(base_url, method, target, headers=None, body=None, auth=True, timeout=15):
    """Send `target` byte-for-byte (no requoting, unlike requests/urllib3). Returns a
    requests.Response so that check() works on it."""
    u = urlsplit(base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    hdrs = {}
    if auth:
        hdrs["Authorization"] = basic_header()
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        hdrs.setdefault("Content-Type", "application/json")
    hdrs.update(headers or {})
    try:
        conn.request(method, target, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        resp = requests.Response()
        resp.status_code = r.status
        merged = CaseInsensitiveDict()
        for k, v in r.getheaders():
            merged[k] = f"{merged[k]}, {v}" if k in merged else v
        resp.headers = merged
        resp._content = b"" if method == "HEAD" else data
        resp.encoding = "utf-8"
        resp.url = base_url.rstrip("/") + target
        resp.request = types.SimpleNamespace(method=method, url=resp.url, headers=hdrs)
    finally:
        conn.close()
    record_5xx(resp)
    return resp


# --------------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------------

DROP = object()   # pass as a field value to make_flow() to remove a default field


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    """Polls `predicate` until it returns something true (returned), or fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def new_id() -> str:
    return str(uuid.uuid4())


def unique(prefix="t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def make_flow(format="video", *, id=None, source_id=None, **fields):
    """A valid flow.json body of the given format (short name or URN) with fresh uuid4 ids.

    Keyword fields are set on the body (DROP removes one)."""
    fmt = FORMATS.get(format, format)
    body = {"id": id or new_id(), "source_id": source_id or new_id(), "format": fmt}
    if fmt == FORMATS["video"]:
        body.update(
            codec="video/h264", container="video/mp2t",
            essence_parameters={
                "frame_width": 1920, "frame_height": 1080,
                "frame_rate": {"numerator": 25, "denominator": 1},
                "interlace_mode": "progressive", "colorspace": "BT709",
                "transfer_characteristic": "SDR",
                "aspect_ratio": {"numerator": 16, "denominator": 9},
                "pixel_aspect_ratio": {"numerator": 1, "denominator": 1},
                "component_type": "YCbCr", "horiz_chroma_subs": 2, "vert_chroma_subs": 2,
                "bit_depth": 8,
                "avc_parameters": {"profile": 100, "level": 40, "flags": 0},
            })
    elif fmt == FORMATS["audio"]:
        body.update(
            codec="audio/aac", container="video/mp2t",
            essence_parameters={"sample_rate": 48000, "channels": 2, "bit_depth": 24,
                                "codec_parameters": {"coded_frame_size": 1024, "mp4_oti": 2}})
    elif fmt == FORMATS["data"]:
        body.update(codec="application/ttml+xml", container="application/ttml+xml",
                    essence_parameters={"data_type": "urn:x-tams:data:subtitle"})
    elif fmt == FORMATS["image"]:
        body.update(codec="image/jpeg", container="image/jpeg",
                    essence_parameters={"frame_width": 1920, "frame_height": 1080,
                                        "aspect_ratio": {"numerator": 16, "denominator": 9}})
    elif fmt == FORMATS["multi"]:
        body.update(container="video/mp2t")
    else:
        raise ValueError(f"unknown format {format!r}")
    for k, v in fields.items():
        if v is DROP:
            body.pop(k, None)
        else:
            body[k] = v
    return body


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------

_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*?\brel\s*=\s*"?next"?', re.IGNORECASE)


def link_next(resp):
    h = resp.headers.get("Link")
    if not h:
        return None
    m = _LINK_NEXT.search(h)
    assert m, f"Link header without rel=next: {h!r}"
    return m.group(1)


def walk_pages(session, path, params, max_pages=100, check_head=True, schema=FLOW_LIST):
    """Follow Link rel=next from the first page until it is absent, checking paging invariants
    on every page. Returns (items, responses)."""
    first = session.get(path, params=params)
    responses = [first]
    items = []
    resp = first
    original = {k: str(v) for k, v in (params or {}).items() if k != "page"}
    for _ in range(max_pages):
        body = check(resp, 200, schema)
        items.extend(body)
        assert "X-Paging-Limit" in resp.headers, describe(resp)
        nxt = link_next(resp)
        key = resp.headers.get("X-Paging-NextKey")
        if check_head:
            h = session.head(resp.request.url)
            check(h, 200)
            for name in ("Link", "X-Paging-NextKey", "X-Paging-Limit"):
                assert h.headers.get(name) == resp.headers.get(name), \
                    f"HEAD {name} differs: {h.headers.get(name)!r} vs {resp.headers.get(name)!r}"
        if nxt is None:
            assert key is None, f"X-Paging-NextKey without Link: {describe(resp)}"
            return items, responses
        assert key, f"Link rel=next without X-Paging-NextKey: {describe(resp)}"
        parts = urlsplit(nxt)
        assert parts.scheme in ("http", "https") and parts.netloc, f"Link URL not absolute: {nxt}"
        q = parse_qsl(parts.query, keep_blank_values=True)
        qd = dict(q)
        assert qd.get("page") == key, f"Link page={qd.get('page')!r} != X-Paging-NextKey {key!r}"
        for k, v in original.items():
            assert qd.get(k) == v, f"Link dropped/changed query param {k}={v!r}: {nxt}"
        resp = session.get(nxt)
        responses.append(resp)
    raise AssertionError("paging did not terminate")


# --------------------------------------------------------------------------------------------
# Server process management
# --------------------------------------------------------------------------------------------

def binary_path() -> Path:
    return Path(os.environ.get("TAMS_BINARY") or DEFAULT_BINARY)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(credentials=True, extra=None):
    """The test process environment without any TAMS_* variable, plus test credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMS_")}
    if credentials:
        env["TAMS_AUTH_BASIC"] = f"{BASIC_USER}:{BASIC_PASS}"
        env["TAMS_AUTH_TOKENS"] = TOKEN
    env.update(extra or {})
    return env


class ServerFailed(Exception):
    pass


# --------------------------------------------------------------------------------------------
# PostgreSQL (make api-pg): TAMS_TEST_DB names a PostgreSQL server (postgres://.../postgres);
# every server the tests start then keeps its metadata there, in a database of its own.
# --------------------------------------------------------------------------------------------

def pg_test_base():
    """The PostgreSQL server URL the suite runs against, or None for the SQLite default."""
    return os.environ.get("TAMS_TEST_DB") or None


def db_metrics_endpoint():
    """The metadata database as /metrics labels it (`endpoint`) and the role of its pooled
    connections that serve reads: SQLite's, or the PostgreSQL primary's host:port."""
    base = pg_test_base()
    if base is None:
        return "sqlite", "reader"
    parts = urlsplit(base)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}", "primary"


def pg_url(base, database):
    """`base` (a postgres:// URL) naming `database` instead of its own."""
    parts = urlsplit(base)
    return parts._replace(path="/" + database).geturl()


def psql(url, sql):
    """Runs one SQL command with psql against `url`; returns its unaligned output."""
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def pg_database_for(data_dir):
    """A database of the TAMS_TEST_DB server for the server whose data dir is `data_dir`: created
    on first use, the same one again for a restart on the same data dir (as tams.db would be)."""
    base = pg_test_base()
    key = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:20]
    name = f"tams_{key}"
    if psql(base, f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "0":
        psql(base, f'CREATE DATABASE "{name}"')
    return name


class TamsServer:
    """One `tams serve` process. stdout/stderr go to files under `workdir`."""

    def __init__(self, workdir, *, data_dir=None, env=None, args=(), credentials=True,
                 port=None, default_args=True):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.port = port or free_port()
        self.env = server_env(credentials, env)
        self.args = list(args)
        self.default_args = default_args
        self.proc = None
        self.runs = 0
        self._files = []

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def command(self):
        cmd = [str(binary_path()), "serve"]
        if self.default_args:
            cmd += ["--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        return cmd + self.args

    def start(self, wait=True, timeout=20.0):
        b = binary_path()
        if not (b.is_file() and os.access(b, os.X_OK)):
            raise ServerFailed(f"TAMS binary not found or not executable: {b} (set TAMS_BINARY)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if pg_test_base() and "TAMS_DB" not in self.env:
            self.env["TAMS_DB"] = pg_url(pg_test_base(), pg_database_for(self.data_dir))
        self.runs += 1
        self.stdout_path = self.workdir / f"stdout.{self.runs}.log"
        self.stderr_path = self.workdir / f"stderr.{self.runs}.log"
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        self._files = [out, err]
        self.proc = subprocess.Popen(self.command(), env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, cwd=self.workdir,
                                     start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def stdout(self):
        return self.stdout_path.read_text(errors="replace") if self.runs else ""

    def stderr(self):
        return self.stderr_path.read_text(errors="replace") if self.runs else ""

    def output(self):
        return self.stdout() + self.stderr()

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self._close_files()
                raise ServerFailed(f"tams exited early with status {rc}; command {self.command()}\n"
                                   f"stderr:\n{self.stderr()[-4000:]}\nstdout:\n{self.stdout()[-2000:]}")
            try:
                with Api(self.base_url, auth=None) as probe:
                    probe.get("/service", timeout=0.5)
                return
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise ServerFailed(f"tams did not answer GET /service within {timeout}s\n"
                           f"stderr:\n{self.stderr()[-4000:]}")

    def wait_exit(self, timeout=10.0):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"tams still running after {timeout}s")
        self._close_files()
        return rc

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` s. Returns (exit status, needed_kill)."""
        if self.proc is None:
            return None, False
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                killed = True
        self._close_files()
        return self.proc.returncode, killed

    def _close_files(self):
        for f in self._files:
            try:
                f.close()
            except OSError:
                pass
        self._files = []

    def api(self, auth=BASIC_AUTH):
        return Api(self.base_url, auth)


# --------------------------------------------------------------------------------------------
# A fixed set of Flows for listing-filter tests
# --------------------------------------------------------------------------------------------

class FlowDataset:
    """Eleven Flows of all formats sharing a unique group tag, with overlapping labels, codecs,
    frame sizes, a shared source and tag names containing '.' and '/'."""

    def __init__(self, api):
        self.group = unique("ds_")
        self.value = "1"
        self.label_a = unique("La-")
        self.label_b = unique("Lb-") + " spaced Zoë"
        self.shared_source = new_id()
        g = {self.group: self.value}

        def video(w, h, **kw):
            b = make_flow("video", **kw)
            b["essence_parameters"]["frame_width"] = w
            b["essence_parameters"]["frame_height"] = h
            return b

        def image(w, h, **kw):
            b = make_flow("image", **kw)
            b["essence_parameters"]["frame_width"] = w
            b["essence_parameters"]["frame_height"] = h
            return b

        self.flows = {
            "v1": video(1920, 1080, label=self.label_a, source_id=self.shared_source,
                        tags={**g, "color": "red"}),
            "v2": video(1920, 1080, label=self.label_a, source_id=self.shared_source,
                        tags={**g, "color": "blue", "a.b": "dot", "x/y": "slash"}),
            "v3": video(1280, 720, label=self.label_b, source_id=self.shared_source, tags=dict(g)),
            "v4": video(1280, 720, label=self.label_b, codec="video/hevc", tags=dict(g)),
            "v5": video(3840, 2160, codec="video/raw", tags={**g, "color": ""}),
            "a1": make_flow("audio", label=self.label_a, tags={**g, "color": "red"}),
            "a2": make_flow("audio", codec="audio/mpeg", tags={**g, "a.b": "other"}),
            "i1": image(1920, 1080, label=self.label_a, tags=dict(g)),
            "i2": image(1280, 720, tags={**g, "color": "red"}),
            "d1": make_flow("data", label=self.label_b, tags={**g, "x/y": "slash"}),
            "m1": make_flow("multi", tags=dict(g)),
        }
        self.flows["v5"]["essence_parameters"]["unc_parameters"] = {"unc_type": "UYVY"}
        self.flows["v5"]["essence_parameters"].pop("avc_parameters")
        for name, body in self.flows.items():
            r = api.put(f"/flows/{body['id']}", json=body)
            check(r, 201, "flow.json")
        self.by_id = {b["id"]: name for name, b in self.flows.items()}

    def params(self, **extra):
        return {f"tag.{self.group}": self.value, **extra}

    def ids(self, *names):
        return sorted(self.flows[n]["id"] for n in names)

    def all_ids(self):
        return sorted(b["id"] for b in self.flows.values())

    def names(self, ids):
        return sorted(self.by_id.get(i, i) for i in ids)


# (case id, extra query params, expected dataset member names)
FLOW_FILTER_CASES = [
    ("none", {}, "v1 v2 v3 v4 v5 a1 a2 i1 i2 d1 m1"),
    ("format-video", {"format": FORMATS["video"]}, "v1 v2 v3 v4 v5"),
    ("format-audio", {"format": FORMATS["audio"]}, "a1 a2"),
    ("format-image", {"format": FORMATS["image"]}, "i1 i2"),
    ("format-data", {"format": FORMATS["data"]}, "d1"),
    ("format-multi", {"format": FORMATS["multi"]}, "m1"),
    ("codec-h264", {"codec": "video/h264"}, "v1 v2 v3"),
    ("codec-aac", {"codec": "audio/aac"}, "a1"),
    ("codec-jpeg", {"codec": "image/jpeg"}, "i1 i2"),
    ("codec-unused", {"codec": "video/vp9"}, ""),
    ("label-a", {"label": "{label_a}"}, "v1 v2 a1 i1"),
    ("label-b-spaces-unicode", {"label": "{label_b}"}, "v3 v4 d1"),
    ("label-unused", {"label": "no such label"}, ""),
    ("source-id", {"source_id": "{shared_source}"}, "v1 v2 v3"),
    ("source-id-unknown", {"source_id": "{random_id}"}, ""),
    ("tag-value", {"tag.color": "red"}, "v1 a1 i2"),
    ("tag-value-blue", {"tag.color": "blue"}, "v2"),
    ("tag-value-empty-string", {"tag.color": ""}, "v5"),
    ("tag-value-unused", {"tag.color": "green"}, ""),
    ("tag-exists-true", {"tag_exists.color": "true"}, "v1 v2 v5 a1 i2"),
    ("tag-exists-false", {"tag_exists.color": "false"}, "v3 v4 a2 i1 d1 m1"),
    ("tag-name-with-dot", {"tag.a.b": "dot"}, "v2"),
    ("tag-exists-name-with-dot", {"tag_exists.a.b": "true"}, "v2 a2"),
    ("tag-name-with-slash", {"tag.x/y": "slash"}, "v2 d1"),
    ("tag-exists-name-with-slash-false", {"tag_exists.x/y": "false"},
     "v1 v3 v4 v5 a1 a2 i1 i2 m1"),
    ("frame-width", {"frame_width": "1920"}, "v1 v2"),
    ("frame-height", {"frame_height": "720"}, "v3 v4"),
    ("frame-width-and-height", {"frame_width": "1920", "frame_height": "1080"}, "v1 v2"),
    ("frame-width-height-mismatch", {"frame_width": "1920", "frame_height": "720"}, ""),
    ("frame-width-unused", {"frame_width": "640"}, ""),
    ("format-and-label", {"format": FORMATS["video"], "label": "{label_a}"}, "v1 v2"),
    ("codec-and-tag", {"codec": "video/h264", "tag.color": "red"}, "v1"),
    ("audio-and-frame-width", {"format": FORMATS["audio"], "frame_width": "1920"}, ""),
    ("label-and-tag-exists", {"label": "{label_a}", "tag_exists.color": "false"}, "i1"),
    ("source-and-frame-height", {"source_id": "{shared_source}", "frame_height": "1080"}, "v1 v2"),
    ("two-tag-filters", {"tag.color": "red", "tag_exists.a.b": "false"}, "v1 a1 i2"),
    ("timerange-empty", {"timerange": "()"}, "v1 v2 v3 v4 v5 a1 a2 i1 i2 d1 m1"),
    ("timerange-empty-string", {"timerange": ""}, "v1 v2 v3 v4 v5 a1 a2 i1 i2 d1 m1"),
    ("timerange-bounded", {"timerange": "[0:0_10:0)"}, ""),
    ("timerange-tai-now", {"timerange": "[1700000000:0_1800000000:0)"}, ""),
    ("timerange-empty-and-format", {"timerange": "()", "format": FORMATS["audio"]}, "a1 a2"),
]


def resolve_case(ds, extra):
    subs = {"label_a": ds.label_a, "label_b": ds.label_b, "shared_source": ds.shared_source,
            "random_id": new_id()}
    return {k: v.format(**subs) if "{" in v else v for k, v in extra.items()}


# --------------------------------------------------------------------------------------------
# Segments, storage and media objects (test_segments*.py, test_storage.py, test_objects.py,
# test_deletion.py)
# --------------------------------------------------------------------------------------------

SEGMENT_LIST = {"type": "array", "items": {"$ref": "flow-segment.json"}}
NS = 1_000_000_000
INF = float("inf")

_TS_PATTERN = r"-?(?:0|[1-9][0-9]*):(?:0|[1-9][0-9]{0,8})"
_TIMERANGE_RE = re.compile(rf"^(?P<open>[\[(])?(?P<start>{_TS_PATTERN})?"
                           rf"(?P<sep>_(?P<end>{_TS_PATTERN})?)?(?P<close>[\])])?$")


def ts(ns: int) -> str:
    """Integer nanoseconds -> 7.0 timestamp (the sign covers the whole value)."""
    sec, nsec = divmod(abs(ns), NS)
    return f"{'-' if ns < 0 else ''}{sec}:{nsec}"


def parse_ts(text: str) -> int:
    neg = text.startswith("-")
    sec, nsec = text.lstrip("-").split(":")
    value = int(sec) * NS + int(nsec)
    return -value if neg else value


def parse_timerange(text: str):
    """A 7.0 timerange -> half-open (lo, hi) in integer ns (-INF/INF when unbounded), or None
    when the range is empty. Missing markers are inclusive; a bare timestamp is an instant."""
    m = _TIMERANGE_RE.match(text)
    if not m:
        raise ValueError(f"not a timerange: {text!r}")
    if m["start"] is None and m["sep"] is None:
        return None                                       # "", "()", ...
    lo = parse_ts(m["start"]) if m["start"] else -INF
    if m["sep"] is None:
        hi = lo                                           # single timestamp
    else:
        hi = parse_ts(m["end"]) if m["end"] else INF
    if lo != -INF and m["open"] == "(":
        lo += 1
    if hi != INF and m["close"] != ")":
        hi += 1
    return (lo, hi) if lo < hi else None


def tr_overlaps(a, b) -> bool:
    """Do two parsed timeranges (see parse_timerange) share at least one nanosecond?"""
    return a is not None and b is not None and a[0] < b[1] and b[0] < a[1]


def tr_covers(outer, inner) -> bool:
    """Is the non-empty parsed range `inner` completely inside `outer`?"""
    return outer is not None and inner is not None and outer[0] <= inner[0] and inner[1] <= outer[1]


def tr_extent(ranges):
    ranges = [r for r in ranges if r is not None]
    if not ranges:
        return None
    return (min(r[0] for r in ranges), max(r[1] for r in ranges))


def external_segment(timerange, object_id=None, label="ext", **fields):
    """A segment body for an object held outside the store (client-supplied get_urls)."""
    oid = object_id or unique("ext-obj-")
    body = {"object_id": oid, "timerange": timerange,
            "get_urls": [{"url": f"https://media.example.com/{oid}", "label": label}]}
    body.update(fields)
    return body


def allocate(session, flow_id, body=None, expect=201):
    """POST /flows/{id}/storage; returns the media_objects list (or the error body)."""
    r = session.post(f"/flows/{flow_id}/storage", json=body) if body is not None \
        else session.post(f"/flows/{flow_id}/storage")
    got = check(r, expect, "flow-storage.json")
    return got["media_objects"] if expect == 201 else got


def upload(session, media_object, data, expect=201):
    """PUT `data` to the media object's put_url with the content-type (and headers) it names."""
    put = media_object["put_url"]
    headers = dict(put.get("headers") or {})
    if "content-type" in put:
        headers["Content-Type"] = put["content-type"]
    r = session.put(put["url"], data=data, headers=headers)
    if expect is not None:
        expected = (expect,) if isinstance(expect, int) else tuple(expect)
        assert r.status_code in expected, f"upload: expected {expected}: {describe(r)}"
    return r


def stored_object(session, flow_id, data=None):
    """Allocate one object for the flow and upload `data` (random bytes by default).
    Returns (object_id, data)."""
    data = os.urandom(2048) if data is None else data
    [mo] = allocate(session, flow_id, {"limit": 1})
    upload(session, mo, data)
    return mo["object_id"], data


def post_segments(session, flow_id, segments, expect=201, schema=None):
    """POST one segment (dict) or an array; checks the status and returns the body."""
    r = session.post(f"/flows/{flow_id}/segments", json=segments)
    if expect == 200 and schema is None:
        schema = "flow-segment-bulk-failure.json"
    body = check(r, expect, schema)
    if expect == 201:
        assert r.content == b"", f"201 must have no body: {describe(r)}"
    return body


def get_segments(session, flow_id, **params):
    """GET /flows/{id}/segments (one page, validated)."""
    return check(session.get(f"/flows/{flow_id}/segments", params=params), 200, SEGMENT_LIST)
