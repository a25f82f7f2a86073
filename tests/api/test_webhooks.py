"""Webhooks: GET|HEAD|POST /service/webhooks, the eight 7.0 event types delivered to a receiver on
127.0.0.1 (schema-valid bodies), filters and get_urls transforms, retries, the outbox surviving a
SIGKILL, address checks (SSRF) and a hanging receiver that must not slow the API."""
from __future__ import annotations

import copy
import json
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml

from tams_helpers import (
    Api, SEGMENT_LIST, TamsServer, ServerFailed, allocate, assert_head_twin, check,
    check_error_names, external_segment, get_segments, make_flow, new_id, post_segments,
    schema_dir, stored_object, unique, validate,
)

ALL_EVENTS = ["flows/created", "flows/updated", "flows/deleted", "flows/segments_added",
              "flows/segments_deleted", "sources/created", "sources/updated", "sources/deleted"]
WEBHOOK_LIST = {"type": "array", "items": {"$ref": "webhook.json"}}
ARRIVAL = 10.0   # seconds within which an event must arrive
LOOPBACK_ENV = {"TAMS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "TAMS_WEBHOOK_RETRY_BASE_MS": "50",
                "TAMS_WEBHOOK_TIMEOUT_MS": "2000"}


# --------------------------------------------------------------------------------------------
# Event schemas, from the `webhooks:` section of the OpenAPI document
# --------------------------------------------------------------------------------------------

UUID_SCHEMA = {"type": "string",
               "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"}


def _fallback_event_schema(event_type):
    """The shape the 7.0 YAML gives every event (used only when the YAML is not available)."""
    payload = {
        "flows/created": ({"flow": {"$ref": "flow.json"}}, ["flow"]),
        "flows/updated": ({"flow": {"$ref": "flow.json"}}, ["flow"]),
        "flows/deleted": ({"flow_id": UUID_SCHEMA}, ["flow_id"]),
        "flows/segments_added": ({"flow_id": UUID_SCHEMA, "segments": {
            "type": "array", "items": {"$ref": "flow-segment.json"}}}, ["flow_id", "segments"]),
        "flows/segments_deleted": ({"flow_id": UUID_SCHEMA, "timerange": {
            "$ref": "timerange.json"}}, ["flow_id", "timerange"]),
        "sources/created": ({"source": {"$ref": "source.json"}}, ["source"]),
        "sources/updated": ({"source": {"$ref": "source.json"}}, ["source"]),
        "sources/deleted": ({"source_id": UUID_SCHEMA}, ["source_id"]),
    }[event_type]
    return {"required": ["event_timestamp", "event_type", "event"], "properties": {
        "event_timestamp": {"type": "string", "format": "date-time"},
        "event_type": {"type": "string", "const": event_type},
        "event": {"type": "object", "properties": payload[0], "required": payload[1]}}}


def _rewrite_refs(node, uuid_schema):
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref.startswith("schemas/"):
                return {"$ref": ref[len("schemas/"):]}
            if ref == "#/components/schemas/uuid":
                return copy.deepcopy(uuid_schema)
            raise AssertionError(f"unexpected $ref in the webhooks section: {ref}")
        return {k: _rewrite_refs(v, uuid_schema) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, uuid_schema) for v in node]
    return node


def _load_event_schemas():
    path = schema_dir().parent / "TimeAddressableMediaStore.yaml"
    if not path.is_file():
        return {t: _fallback_event_schema(t) for t in ALL_EVENTS}, False
    doc = yaml.safe_load(path.read_text())
    uuid_schema = doc["components"]["schemas"]["uuid"]
    schemas = {}
    for event_type in ALL_EVENTS:
        body = doc["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
        schemas[event_type] = _rewrite_refs(body["schema"], uuid_schema)
    # 7.0 erratum (fixed in 8.0): segments_deleted declares event_type const
    # "flows/segments_added". We send the right name; the test's copy is patched.
    deleted = schemas["flows/segments_deleted"]["properties"]["event_type"]
    assert deleted["const"] in ("flows/segments_added", "flows/segments_deleted")
    deleted["const"] = "flows/segments_deleted"
    return schemas, True


EVENT_SCHEMAS, FROM_YAML = _load_event_schemas()


def validate_event(body):
    assert body.get("event_type") in EVENT_SCHEMAS, f"unknown event_type: {body}"
    validate(body, EVENT_SCHEMAS[body["event_type"]], f"{body['event_type']} event: ")


# --------------------------------------------------------------------------------------------
# A receiver on 127.0.0.1
# --------------------------------------------------------------------------------------------

class Receiver:
    """Records every POST; `fail_first` answers 500 to that many POSTs first, `status` is the
    answer after that (settable while running)."""

    def __init__(self, fail_first=0, status=200):
        self.posts = []            # dicts: path, headers, body (parsed JSON), raw
        self.fail_first = fail_first
        self.status = status
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.cond:
                    if receiver.fail_first > 0:
                        receiver.fail_first -= 1
                        status = 500
                    else:
                        status = receiver.status
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = None
                    receiver.posts.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body, "raw": raw, "status": status})
                    receiver.cond.notify_all()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def delivered(self, path=None):
        """Bodies answered 2xx (optionally only those POSTed to `path`), in arrival order."""
        with self.cond:
            return [p["body"] for p in self.posts
                    if 200 <= p["status"] < 300 and (path is None or p["path"] == path)]

    def wait_for(self, predicate, timeout=ARRIVAL, path=None, what="events"):
        """Waits until predicate(delivered bodies) is truthy; returns the delivered bodies."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                bodies = [p["body"] for p in self.posts
                          if 200 <= p["status"] < 300 and (path is None or p["path"] == path)]
                if predicate(bodies):
                    return bodies
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what} not delivered within {timeout}s; got: "
                                         + json.dumps(bodies)[:3000])
                self.cond.wait(left)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class HangingReceiver:
    """Accepts TCP connections (the kernel's backlog does) and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)

    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hang"

    def close(self):
        self.sock.close()


@pytest.fixture
def receiver():
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def wh_server(tmp_path_factory):
    """A server that may call receivers on 127.0.0.1, with fast retries."""
    srv = TamsServer(tmp_path_factory.mktemp("tams-webhooks"), env=LOOPBACK_ENV)
    try:
        srv.start()
    except ServerFailed as e:
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def wh(wh_server):
    s = wh_server.api()
    yield s
    s.close()


def register(session, url, events=ALL_EVENTS, expect=201, **fields):
    body = {"url": url, "events": list(events), **fields}
    r = session.post("/service/webhooks", json=body)
    got = check(r, expect, "webhook.json" if expect == 201 else None)
    if expect == 201:
        assert "api_key_value" not in got, got
    return got


def unregister(session, url, **fields):
    check(session.post("/service/webhooks", json={"url": url, "events": [], **fields}), 204)


def create_flow(session, fmt="video", **fields):
    body = make_flow(fmt, **fields)
    check(session.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    return body


def of_type(bodies, event_type, **match):
    out = []
    for b in bodies:
        if b["event_type"] != event_type:
            continue
        ev = b["event"]
        if all((ev.get(k) if k not in ("flow", "source") else None) == v or
               (k == "flow_id" and ev.get("flow", {}).get("id") == v) or
               (k == "source_id" and ev.get("source", {}).get("id") == v)
               for k, v in match.items()):
            out.append(b)
    return out


def about(body):
    """(event_type, id of the flow or source the event is about)."""
    ev = body["event"]
    subject = (ev.get("flow_id") or ev.get("flow", {}).get("id") or ev.get("source_id")
               or ev.get("source", {}).get("id"))
    return body["event_type"], subject


# --------------------------------------------------------------------------------------------
# /service and registration
# --------------------------------------------------------------------------------------------

def test_service_advertises_webhooks(api):
    body = check(api.get("/service"), 200, "service.json")
    assert {"name": "webhooks"} in body.get("event_stream_mechanisms", []), body


def test_webhooks_listing_and_head(api):
    check(api.get("/service/webhooks"), 200, WEBHOOK_LIST)
    assert_head_twin(api, "/service/webhooks", expect=200)


def test_webhooks_need_credentials(anon):
    check(anon.get("/service/webhooks"), 401)
    check(anon.post("/service/webhooks", json={"url": "http://93.184.216.34/", "events": []}), 401)


def test_webhooks_need_the_admin_scope(tams_server):
    srv = tams_server(env={"TAMS_AUTH_STATIC_SCOPES": "tams-api/read,tams-api/write"})
    s = srv.api()
    check(s.get("/service/webhooks"), 403, error_type="forbidden")
    check(s.head("/service/webhooks"), 403)
    check(s.post("/service/webhooks", json={"url": "http://93.184.216.34/", "events": []}), 403,
          error_type="forbidden")
    check(s.get("/service"), 200, "service.json")
    s.close()


@pytest.mark.parametrize("url,names", [
    ("http://127.0.0.1:9/hook", ["loopback"]),
    ("http://localhost:9/hook", ["loopback"]),
    ("http://[::1]:9/hook", ["loopback"]),
    ("http://10.1.2.3/hook", ["private"]),
    ("http://192.168.0.10/hook", ["private"]),
    ("http://172.16.5.4/hook", ["private"]),
    ("http://169.254.169.254/latest/meta-data", ["link-local"]),
    ("http://[fe80::1]/hook", ["link-local"]),
    ("http://0.0.0.0/hook", ["unspecified"]),
    ("http://[::ffff:127.0.0.1]/hook", ["loopback"]),
    ("ftp://93.184.216.34/hook", ["http"]),
    ("file:///etc/passwd", ["http"]),
    ("not a url", ["url"]),
    ("http:///nohost", ["host", "url"]),
    ("http://user:pw@93.184.216.34/", ["user"]),
], ids=["loopback-v4", "localhost", "loopback-v6", "10/8", "192.168/16", "172.16/12",
        "metadata-service", "fe80", "unspecified", "v4-mapped-loopback", "ftp", "file",
        "not-a-url", "no-host", "userinfo"])
def test_registration_refuses_unsafe_urls(api, url, names):
    """The session server has no allowlist: only public http(s) targets are accepted."""
    check_error_names(api.post("/service/webhooks", json={"url": url, "events": ALL_EVENTS}),
                      400, *names, error_type="bad_request")
    listed = check(api.get("/service/webhooks"), 200, WEBHOOK_LIST)
    assert url not in [w["url"] for w in listed]


def test_registration_accepts_public_address_then_removes_it(api):
    url = f"http://93.184.216.34/{unique('hook-')}"
    got = register(api, url, events=["flows/created"])
    assert got["url"] == url and got["events"] == ["flows/created"]
    unregister(api, url)
    assert url not in [w["url"] for w in check(api.get("/service/webhooks"), 200, WEBHOOK_LIST)]


@pytest.mark.parametrize("body,names", [
    ({"url": "URL", "events": ["flows/created", "flows/exploded"]}, ["flows/exploded"]),
    ({"url": "URL", "events": ["flows/created"], "flow_tags": {"a": "b"}}, ["flow_tags"]),
    ({"url": "URL", "events": ["flows/created"], "flow_ids": ["not-a-uuid"]}, ["flow_ids"]),
    ({"url": "URL", "events": "flows/created"}, ["events"]),
    ({"url": "URL"}, ["events"]),
    ({"events": ["flows/created"]}, ["url"]),
    ({"url": "URL", "events": ["flows/created"], "presigned": "yes"}, ["presigned"]),
    ({"url": "URL", "events": ["flows/created"], "api_key_value": "v"}, ["api_key_name"]),
    ({"url": "URL", "events": ["flows/created"], "api_key_name": "Bad Header"},
     ["api_key_name"]),
    ({"url": "URL", "events": ["flows/created"], "api_key_name": "Content-Type",
      "api_key_value": "text/plain"}, ["api_key_name"]),
    ({"url": "URL", "events": ["flows/created"], "api_key_name": "X-Key",
      "api_key_value": "a\r\nInjected: 1"}, ["api_key_value"]),
], ids=["unknown-event", "unknown-property", "bad-flow-id", "events-not-array", "no-events",
        "no-url", "presigned-not-bool", "value-without-name", "bad-header-name",
        "reserved-header", "header-injection"])
def test_registration_validation(wh, receiver, body, names):
    url = receiver().url()
    body = {k: (url if v == "URL" else v) for k, v in body.items()}
    check_error_names(wh.post("/service/webhooks", json=body), 400, *names,
                      error_type="bad_request")
    assert url not in [w["url"] for w in check(wh.get("/service/webhooks"), 200, WEBHOOK_LIST)]


@pytest.mark.parametrize("data", ["not json", "", "[]", '"x"', "null"])
def test_registration_body_not_an_object(wh, data):
    r = wh.post("/service/webhooks", data=data, headers={"Content-Type": "application/json"})
    check(r, 400, error_type="bad_request")


def test_identity_update_and_removal(wh, receiver):
    url = receiver().url()
    first = register(wh, url, events=["flows/created"], api_key_name="X-Api-Key",
                     api_key_value="secret-1", flow_ids=[new_id()])
    assert first["api_key_name"] == "X-Api-Key"
    listing = check(wh.get("/service/webhooks"), 200, WEBHOOK_LIST)
    mine = [w for w in listing if w["url"] == url]
    assert len(mine) == 1 and "api_key_value" not in mine[0], mine
    assert mine[0]["events"] == ["flows/created"]
    assert "secret-1" not in json.dumps(listing)

    # Same url + api_key_name: an update (201), still one registration.
    register(wh, url, events=["flows/created", "flows/deleted"], api_key_name="X-Api-Key",
             api_key_value="secret-2")
    mine = [w for w in check(wh.get("/service/webhooks"), 200, WEBHOOK_LIST) if w["url"] == url]
    assert len(mine) == 1, mine
    assert mine[0]["events"] == ["flows/created", "flows/deleted"]
    assert "flow_ids" not in mine[0], "an update replaces the registration as a whole"

    # Another api_key_name (or none) is another registration.
    register(wh, url, events=["sources/created"])
    mine = [w for w in check(wh.get("/service/webhooks"), 200, WEBHOOK_LIST) if w["url"] == url]
    assert len(mine) == 2, mine

    # events [] removes exactly the identified registration; removing again is still 204.
    unregister(wh, url, api_key_name="X-Api-Key")
    mine = [w for w in check(wh.get("/service/webhooks"), 200, WEBHOOK_LIST) if w["url"] == url]
    assert [w.get("api_key_name") for w in mine] == [None], mine
    unregister(wh, url, api_key_name="X-Api-Key")
    unregister(wh, url)
    assert url not in [w["url"] for w in check(wh.get("/service/webhooks"), 200, WEBHOOK_LIST)]


def test_duplicate_event_types_are_kept_once(wh, receiver):
    url = receiver().url()
    got = register(wh, url, events=["flows/created", "flows/created", "sources/created"])
    assert got["events"] == ["flows/created", "sources/created"]
    unregister(wh, url)


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------

def test_every_event_type_arrives_schema_valid(wh, receiver):
    rx = receiver()
    source_id = new_id()
    register(wh, rx.url(), api_key_name="X-Hook-Key", api_key_value="k3y-value",
             source_ids=[source_id])
    flow = create_flow(wh, "video", source_id=source_id)
    fid = flow["id"]
    check(wh.put(f"/flows/{fid}/tags/colour", json="red"), 204)
    check(wh.put(f"/flows/{fid}/label", json="a label"), 204)
    check(wh.put(f"/sources/{source_id}/tags/team", json="news"), 204)
    post_segments(wh, fid, [external_segment("[0:0_10:0)"), external_segment("[10:0_20:0)"),
                            external_segment("[20:0_30:0]")])
    check(wh.delete(f"/flows/{fid}/segments", params={"timerange": "[0:0_20:0)"}), 204)
    check(wh.delete(f"/flows/{fid}"), 204)

    bodies = rx.wait_for(lambda b: any(x["event_type"] == "sources/deleted" for x in b),
                         what="every event type")
    for b in bodies:
        validate_event(b)
    types = [b["event_type"] for b in bodies]
    assert set(types) == set(ALL_EVENTS), types
    assert types.index("sources/created") < types.index("flows/created")
    assert types.index("flows/deleted") < types.index("sources/deleted")
    assert types[-1] == "sources/deleted", types

    created = of_type(bodies, "flows/created")[0]["event"]["flow"]
    assert created["id"] == fid and created["source_id"] == source_id
    updates = [b["event"]["flow"] for b in of_type(bodies, "flows/updated")]
    assert any(u.get("tags", {}).get("colour") == "red" for u in updates), updates
    assert any(u.get("label") == "a label" for u in updates), updates
    source_updates = [b["event"]["source"] for b in of_type(bodies, "sources/updated")]
    assert any(s.get("tags", {}).get("team") == "news" for s in source_updates), source_updates
    assert of_type(bodies, "sources/created")[0]["event"]["source"]["id"] == source_id

    [added] = of_type(bodies, "flows/segments_added")
    assert added["event"]["flow_id"] == fid
    assert [s["timerange"] for s in added["event"]["segments"]] == \
        ["[0:0_10:0)", "[10:0_20:0)", "[20:0_30:0]"]
    validate(added["event"]["segments"], SEGMENT_LIST)
    deleted = of_type(bodies, "flows/segments_deleted")
    assert deleted[0]["event"] == {"flow_id": fid, "timerange": "[0:0_20:0)"}
    # Deleting the flow removed the last segment: its range ends inside that segment.
    assert deleted[-1]["event"]["timerange"] == "[20:0_30:0]"
    assert of_type(bodies, "flows/deleted")[0]["event"] == {"flow_id": fid}
    assert of_type(bodies, "sources/deleted")[0]["event"] == {"source_id": source_id}

    with rx.cond:
        posts = list(rx.posts)
    for p in posts:
        headers = {k.lower(): v for k, v in p["headers"].items()}
        assert headers.get("x-hook-key") == "k3y-value", headers
        assert headers.get("content-type", "").split(";")[0] == "application/json", headers
        assert "authorization" not in headers
    unregister(wh, rx.url(), api_key_name="X-Hook-Key")


def test_no_api_key_header_without_registration_key(wh, receiver):
    rx = receiver()
    source_id = new_id()
    register(wh, rx.url(), events=["flows/created"], source_ids=[source_id])
    create_flow(wh, source_id=source_id)
    rx.wait_for(lambda b: len(b) >= 1)
    with rx.cond:
        headers = {k.lower() for k in rx.posts[0]["headers"]}
    assert not {"x-hook-key", "authorization", "x-api-key"} & headers, headers
    unregister(wh, rx.url())


def test_source_changes_of_collections_are_events(wh, receiver):
    """A flow collection changes its source's source_collection and the members' collected_by:
    sources/updated and flows/updated for them."""
    rx = receiver()
    member = create_flow(wh, "audio")
    collector = create_flow(wh, "multi")
    register(wh, rx.url(), events=["flows/updated", "sources/updated"],
             source_ids=[member["source_id"], collector["source_id"]])
    check(wh.put(f"/flows/{collector['id']}/flow_collection",
                 json=[{"id": member["id"], "role": "audio"}]), 204)

    def seen(bodies):
        return {about(b) for b in bodies} >= {
            ("flows/updated", collector["id"]), ("flows/updated", member["id"]),
            ("sources/updated", collector["source_id"]), ("sources/updated", member["source_id"])}

    bodies = rx.wait_for(seen, what="collection updates")
    for b in bodies:
        validate_event(b)
    member_update = [b["event"]["flow"] for b in bodies
                     if about(b) == ("flows/updated", member["id"])][-1]
    assert member_update["collected_by"] == [collector["id"]]
    collector_source = [b["event"]["source"] for b in bodies
                        if about(b) == ("sources/updated", collector["source_id"])][-1]
    assert collector_source["source_collection"] == [{"id": member["source_id"], "role": "audio"}]
    unregister(wh, rx.url())


def test_filters(wh, receiver):
    rx = receiver()
    a = create_flow(wh, "video")
    b = create_flow(wh, "video")
    c = create_flow(wh, "multi", flow_collection=[{"id": a["id"], "role": "video"}])
    regs = {
        "flow_ids": {"flow_ids": [a["id"]]},
        "source_ids": {"source_ids": [b["source_id"]]},
        "flow_collected_by_ids": {"flow_collected_by_ids": [c["id"]]},
        "source_collected_by_ids": {"source_collected_by_ids": [c["source_id"]]},
        "both": {"flow_ids": [a["id"]], "source_ids": [b["source_id"]]},
        "none": {},
        "empty_flow_ids": {"flow_ids": []},
    }
    events = ["flows/updated", "sources/updated", "flows/segments_added"]
    for name, fields in regs.items():
        register(wh, rx.url(f"/{name}"), events=events, **fields)

    check(wh.put(f"/flows/{a['id']}/tags/t", json="1"), 204)
    check(wh.put(f"/flows/{b['id']}/tags/t", json="1"), 204)
    check(wh.put(f"/sources/{a['source_id']}/tags/t", json="1"), 204)
    check(wh.put(f"/sources/{b['source_id']}/tags/t", json="1"), 204)
    post_segments(wh, a["id"], external_segment("[0:0_1:0)"))
    post_segments(wh, b["id"], external_segment("[0:0_1:0)"))

    fa, fb = ("flows/updated", a["id"]), ("flows/updated", b["id"])
    sa, sb = ("sources/updated", a["source_id"]), ("sources/updated", b["source_id"])
    ga, gb = ("flows/segments_added", a["id"]), ("flows/segments_added", b["id"])
    expected = {
        "flow_ids": {fa, ga, sa, sb},                 # no effect on source events
        "source_ids": {fb, gb, sb},
        "flow_collected_by_ids": {fa, ga, sa, sb},    # no effect on source events
        "source_collected_by_ids": {fa, ga, sa},      # a's source is collected by c's source
        "both": {sb},                                 # AND: a flow event of a fails source_ids
        "none": {fa, fb, sa, sb, ga, gb},
        "empty_flow_ids": {sa, sb},                   # no flow passes an empty flow_ids
    }
    for name, want in expected.items():
        rx.wait_for(lambda bodies, want=want: {about(x) for x in bodies} >= want,
                    path=f"/{name}", what=f"events for {name}")
    time.sleep(1.0)   # anything unexpected would have arrived by now
    for name, want in expected.items():
        got = {about(x) for x in rx.delivered(f"/{name}")}
        # c's own creation happened before registration; updates to c are not triggered.
        assert got == want, f"{name}: got {sorted(got)}, expected {sorted(want)}"
    for name in regs:
        unregister(wh, rx.url(f"/{name}"))


def test_get_urls_transforms(wh, wh_server, receiver):
    rx = receiver()
    flow = create_flow(wh, "video")
    fid = flow["id"]
    backends = check(wh.get("/service/storage-backends"), 200, "storage-backends-list.json")
    storage_id = backends[0]["id"]
    cases = {
        "default": {},
        "no-urls": {"accept_get_urls": []},
        "not-presigned": {"presigned": False},
        "presigned": {"presigned": True},
        "verbose": {"verbose_storage": True},
        "storage-id": {"accept_storage_ids": [storage_id]},
        "label-ext": {"accept_get_urls": ["ext"]},
    }
    for name, fields in cases.items():
        register(wh, rx.url(f"/{name}"), events=["flows/segments_added"], flow_ids=[fid],
                 **fields)
    object_id, data = stored_object(wh, fid)
    segment = {"object_id": object_id, "timerange": "[0:0_1:0)",
               "get_urls": [{"url": "https://media.example.com/x", "label": "ext"}]}
    post_segments(wh, fid, segment)

    params = {
        "default": {}, "no-urls": {"accept_get_urls": ""}, "not-presigned": {"presigned": "false"},
        "presigned": {"presigned": "true"}, "verbose": {"verbose_storage": "true"},
        "storage-id": {"accept_storage_ids": storage_id}, "label-ext": {"accept_get_urls": "ext"},
    }
    for name in cases:
        [body] = rx.wait_for(lambda b: len(b) >= 1, path=f"/{name}", what=name)
        validate_event(body)
        [seg] = body["event"]["segments"]
        [expected] = get_segments(wh, fid, **params[name])
        strip = lambda urls: sorted((u["url"].split("?")[0], u.get("label"), u["presigned"],
                                     u.get("storage_id"), u.get("controlled")) for u in urls)
        assert strip(seg["get_urls"]) == strip(expected["get_urls"]), name
        assert {k: v for k, v in seg.items() if k != "get_urls"} == \
               {k: v for k, v in expected.items() if k != "get_urls"}, name
    no_urls = rx.delivered("/no-urls")[0]["event"]["segments"][0]
    assert no_urls["get_urls"] == []
    not_presigned = rx.delivered("/not-presigned")[0]["event"]["segments"][0]["get_urls"]
    assert not_presigned and all(u["presigned"] is False for u in not_presigned)
    # The default registration got a working, freshly signed URL.
    signed = [u for u in rx.delivered("/default")[0]["event"]["segments"][0]["get_urls"]
              if u["presigned"]]
    assert signed, "the controlled URL is presigned"
    got = requests.get(signed[0]["url"], timeout=10)
    assert got.status_code == 200 and got.content == data
    for name in cases:
        unregister(wh, rx.url(f"/{name}"))


def test_bulk_segments_added_lists_only_registered_segments(wh, receiver):
    rx = receiver()
    fid = create_flow(wh, "video")["id"]
    register(wh, rx.url(), events=["flows/segments_added"], flow_ids=[fid])
    post_segments(wh, fid, external_segment("[5:0_6:0)"))
    body = post_segments(wh, fid, [external_segment("[0:0_1:0)"),
                                   external_segment("[5:500000000_7:0)"),   # overlaps
                                   external_segment("[1:0_2:0)")], expect=200)
    assert len(body["failed_segments"]) == 1
    bodies = rx.wait_for(lambda b: len(b) >= 2, what="two segments_added events")
    for b in bodies:
        validate_event(b)
    assert [[s["timerange"] for s in b["event"]["segments"]] for b in bodies] == \
        [["[5:0_6:0)"], ["[0:0_1:0)", "[1:0_2:0)"]]
    # A request that registers nothing sends nothing.
    post_segments(wh, fid, [external_segment("[5:0_6:0)")], expect=200)
    time.sleep(0.5)
    assert len(rx.delivered()) == 2
    unregister(wh, rx.url())


def test_events_of_a_flow_arrive_in_order(wh, receiver):
    rx = receiver()
    fid = create_flow(wh, "video")["id"]
    register(wh, rx.url(), events=["flows/segments_added", "flows/segments_deleted"],
             flow_ids=[fid])
    for i in range(30):
        post_segments(wh, fid, external_segment(f"[{i}:0_{i + 1}:0)"))
        if i % 10 == 9:
            check(wh.delete(f"/flows/{fid}/segments",
                            params={"timerange": f"[{i}:0_{i + 1}:0)"}), 204)
    bodies = rx.wait_for(lambda b: len(b) >= 33, what="33 segment events")
    assert len(bodies) == 33, [about(b) for b in bodies]
    order = []
    for b in bodies:
        if b["event_type"] == "flows/segments_added":
            order.append(("add", b["event"]["segments"][0]["timerange"]))
        else:
            order.append(("del", b["event"]["timerange"]))
    expected = []
    for i in range(30):
        expected.append(("add", f"[{i}:0_{i + 1}:0)"))
        if i % 10 == 9:
            expected.append(("del", f"[{i}:0_{i + 1}:0)"))
    assert order == expected
    unregister(wh, rx.url())


def test_receiver_failing_first_attempts_still_gets_the_event(wh, receiver):
    rx = receiver(fail_first=2)
    source_id = new_id()
    register(wh, rx.url(), events=["flows/created"], source_ids=[source_id])
    fid = create_flow(wh, source_id=source_id)["id"]
    [body] = rx.wait_for(lambda b: len(b) >= 1, what="the retried event")
    assert body["event"]["flow"]["id"] == fid
    validate_event(body)
    with rx.cond:
        attempts = [p for p in rx.posts]
    assert [p["status"] for p in attempts] == [500, 500, 200]
    assert len({p["raw"] for p in attempts}) == 1, "every attempt sends the same event"
    unregister(wh, rx.url())


def test_gives_up_after_max_attempts_and_goes_on(tams_server, receiver):
    """A redirect is an answer like any non-2xx: not followed, retried, then given up."""
    srv = tams_server(env={**LOOPBACK_ENV, "TAMS_WEBHOOK_MAX_ATTEMPTS": "3"})
    s = srv.api()
    rx = receiver(status=307)
    register(s, rx.url(), events=["flows/created"])
    first = create_flow(s)["id"]
    deadline = time.monotonic() + ARRIVAL
    while time.monotonic() < deadline and "gave up" not in srv.output():
        time.sleep(0.1)
    assert "gave up" in srv.output(), srv.output()[-3000:]
    with rx.cond:
        assert len(rx.posts) == 3, [p["status"] for p in rx.posts]
        assert all(p["path"] == "/hook" for p in rx.posts), "redirects are not followed"
        rx.status = 200
    second = create_flow(s)["id"]
    bodies = rx.wait_for(lambda b: len(b) >= 1, what="the next event")
    assert [b["event"]["flow"]["id"] for b in bodies] == [second], "the failed one is not resent"
    assert first != second
    # The outcome is visible in the metrics too (the delivered count follows the receiver's
    # answer, so it may lag the arrival by a moment).
    def metrics():
        m = s.get("/metrics")
        assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain")
        return m.text, dict(line.rsplit(" ", 1) for line in m.text.splitlines()
                            if line.startswith("tams_"))
    deadline = time.monotonic() + ARRIVAL
    text, series = metrics()
    while (int(series['tams_webhook_deliveries_total{outcome="delivered"}']) < 1
           and time.monotonic() < deadline):
        time.sleep(0.05)
        text, series = metrics()
    assert int(series['tams_webhook_deliveries_total{outcome="given_up"}']) == 1, text
    assert int(series['tams_webhook_deliveries_total{outcome="failed_attempt"}']) == 3, text
    assert int(series['tams_webhook_deliveries_total{outcome="delivered"}']) == 1, text
    s.close()


def test_event_survives_sigkill_after_segment_post(tams_server, receiver):
    # The killed instance's lease on the registration (held while retrying) ends within 2 s,
    # then the restarted instance (a new lease owner) takes the registration over.
    env = {**LOOPBACK_ENV, "TAMS_WEBHOOK_RETRY_BASE_MS": "200", "TAMS_JOB_LEASE_SECONDS": "2"}
    srv = tams_server(env=env)
    s = srv.api()
    rx = receiver(status=503)          # nothing is accepted before the kill
    fid = create_flow(s)["id"]
    register(s, rx.url(), events=["flows/segments_added"], flow_ids=[fid])
    post_segments(s, fid, external_segment("[0:0_5:0)", object_id="kill-obj"))
    srv.proc.kill()                    # SIGKILL right after the 201
    srv.proc.wait()
    s.close()
    with rx.cond:
        rx.status = 200
    srv.start()
    # At least once: an attempt that reached the receiver just before the kill may be counted
    # as delivered too (its answer went to a dead socket), so the event may arrive twice.
    bodies = rx.wait_for(lambda b: len(b) >= 1, what="the event after the restart")
    for body in bodies:
        validate_event(body)
        assert body["event"]["flow_id"] == fid
        assert [x["object_id"] for x in body["event"]["segments"]] == ["kill-obj"]


def test_delivery_rechecks_the_address(tams_server, receiver, tmp_path):
    """A registration accepted under an allowlist is not delivered once the allowlist no
    longer admits its address (the check is repeated for every connection)."""
    data_dir = tmp_path / "recheck-data"
    srv = tams_server(env=LOOPBACK_ENV, data_dir=data_dir, name="recheck-1")
    s = srv.api()
    rx = receiver()
    register(s, rx.url(), events=["flows/created"])
    s.close()
    srv.stop()
    srv2 = tams_server(env={"TAMS_WEBHOOK_RETRY_BASE_MS": "50"}, data_dir=data_dir,
                       name="recheck-2")
    s2 = srv2.api()
    create_flow(s2)
    deadline = time.monotonic() + ARRIVAL
    while time.monotonic() < deadline and "refused to connect" not in srv2.output():
        time.sleep(0.1)
    assert "refused to connect" in srv2.output(), srv2.output()[-3000:]
    assert rx.delivered() == [] and not rx.posts
    s2.close()


def test_hanging_receiver_does_not_slow_the_api(tams_server, receiver):
    srv = tams_server(env={**LOOPBACK_ENV, "TAMS_WEBHOOK_TIMEOUT_MS": "10000"})
    s = srv.api()
    fid = create_flow(s)["id"]
    hanging = HangingReceiver()
    try:
        def median_latency(n=50):
            times = []
            for i in range(n):
                t0 = time.perf_counter()
                if i % 2:
                    check(s.put(f"/flows/{fid}/tags/n", json=str(i)), 204)
                else:
                    check(s.get(f"/flows/{fid}"), 200)
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        baseline = median_latency()
        register(s, hanging.url())
        # A healthy receiver registered too keeps getting its events meanwhile.
        rx = receiver()
        register(s, rx.url(), events=["flows/updated"], flow_ids=[fid])
        loaded = median_latency()
        assert loaded < max(5 * baseline, baseline + 0.05), (baseline, loaded)
        rx.wait_for(lambda b: len(b) >= 25, what="events for the healthy receiver")
        # The hanging receiver was really being called all along.
        hanging.sock.settimeout(5)
        conn, _ = hanging.sock.accept()
        conn.close()
    finally:
        hanging.close()
        s.close()
