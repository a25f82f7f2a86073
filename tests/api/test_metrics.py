"""GET /metrics (Prometheus text), who may read it (metrics_access), and /health/*."""
import re
import shutil
import socket

import pytest
import requests

from tams_helpers import Api, TOKEN, check, db_metrics_endpoint, make_flow, new_id, unique

SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(\{(?P<labels>(?:[^"}]|"(?:[^"\\]|\\.)*")*)\})? (?P<value>\S+)$')
LABEL = re.compile(r'(?P<k>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<v>(?:[^"\\]|\\.)*)"')


def parse(text):
    """Parses the text format strictly: every line is HELP, TYPE or a sample of a declared
    family; returns ({(name, frozenset(labels)): value}, {family: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name = m["name"]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample before its TYPE: {line!r}"
        labels = frozenset((lm["k"], lm["v"]) for lm in LABEL.finditer(m["labels"] or ""))
        samples[(name, labels)] = float(m["value"])
    return samples, types


def scrape(session):
    r = session.get("/metrics")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


def metrics_ok(resp):
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text[:300]}"
    parse(resp.text)


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_format_parses_and_names_every_family(api):
    samples, types = scrape(api)
    for family, kind in {
        "tams_http_requests_total": "counter",
        "tams_http_request_duration_seconds": "histogram",
        "tams_http_response_size_bytes": "histogram",
        "tams_http_requests_in_flight": "gauge",
        "tams_db_query_duration_seconds": "histogram",
        "tams_db_pool_connections": "gauge",
        "tams_cache_hits_total": "counter",
        "tams_cache_misses_total": "counter",
        "tams_cache_evictions_total": "counter",
        "tams_webhook_deliveries_total": "counter",
        "tams_stored": "gauge",
        "process_resident_memory_bytes": "gauge",
        "process_open_fds": "gauge",
    }.items():
        assert types.get(family) == kind, f"{family}: {types.get(family)}"
    assert value(samples, "process_resident_memory_bytes") > 1_000_000
    assert value(samples, "process_open_fds") >= 3
    # The scrape itself is in flight while the text is produced.
    assert value(samples, "tams_http_requests_in_flight") >= 1


def test_requests_are_labelled_by_route_template_not_raw_path(api):
    flow = make_flow("data")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201)
    before, _ = scrape(api)
    for _ in range(3):
        check(api.get(f"/flows/{flow['id']}"), 200)
    check(api.get(f"/flows/{new_id()}"), 404)
    samples, _ = scrape(api)
    ok = value(samples, "tams_http_requests_total", method="GET", route="/flows/{flowId}",
               status="2xx")
    missing = value(samples, "tams_http_requests_total", method="GET", route="/flows/{flowId}",
                    status="4xx")
    assert ok - value(before, "tams_http_requests_total", method="GET", route="/flows/{flowId}",
                      status="2xx") == 3
    assert missing - value(before, "tams_http_requests_total", method="GET",
                           route="/flows/{flowId}", status="4xx") == 1
    routes = {dict(k[1]).get("route") for k in samples if k[0] == "tams_http_requests_total"}
    assert not any(flow["id"] in (r or "") for r in routes), routes
    # Latency and size histograms move with the count.
    assert value(samples, "tams_http_request_duration_seconds_count", method="GET",
                 route="/flows/{flowId}") >= 4
    assert value(samples, "tams_http_response_size_bytes_bucket", method="GET",
                 route="/flows/{flowId}", le="+Inf") >= 4


def test_unknown_paths_share_one_series(api):
    before, _ = scrape(api)
    for _ in range(2):
        check(api.get(f"/no-such-thing/{unique()}"), 404)
    samples, _ = scrape(api)
    key = dict(method="GET", route="(unmatched)", status="4xx")
    assert value(samples, "tams_http_requests_total", **key) - \
        value(before, "tams_http_requests_total", **key) == 2


def test_database_queries_pool_and_stored_counts(api):
    before, _ = scrape(api)
    flow = make_flow("data")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201)
    segs = [{"object_id": unique("o-"), "timerange": f"[{i}:0_{i + 1}:0)",
             "get_urls": [{"url": f"https://example.com/{i}"}]} for i in range(3)]
    check(api.post(f"/flows/{flow['id']}/segments", json=segs), 201)
    samples, _ = scrape(api)
    endpoint, role = db_metrics_endpoint()
    assert value(samples, "tams_db_query_duration_seconds_count", endpoint=endpoint,
                 query="kInsertSegment") - value(before, "tams_db_query_duration_seconds_count",
                                                 endpoint=endpoint, query="kInsertSegment") == 3
    assert value(samples, "tams_stored", kind="segments") - \
        value(before, "tams_stored", kind="segments") == 3
    assert value(samples, "tams_stored", kind="flows") - value(before, "tams_stored", kind="flows") == 1
    assert value(samples, "tams_stored", kind="sources") - \
        value(before, "tams_stored", kind="sources") == 1
    assert ("tams_db_pool_connections",
            frozenset({("endpoint", endpoint), ("role", role), ("state", "idle")})) in samples
    check(api.delete(f"/flows/{flow['id']}"), (202, 204))
    after, _ = scrape(api)
    assert value(after, "tams_stored", kind="segments") == value(before, "tams_stored", kind="segments")
    assert value(after, "tams_stored", kind="flows") == value(before, "tams_stored", kind="flows")


def test_presigned_urls_are_counted(api):
    flow = make_flow("data")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201)
    [backend] = check(api.get("/service/storage-backends"), 200)
    before, _ = scrape(api)
    check(api.post(f"/flows/{flow['id']}/storage", json={"limit": 2}), 201)
    samples, _ = scrape(api)
    key = dict(storage_id=backend["id"], method="PUT")
    assert value(samples, "tams_presigned_urls_total", **key) - \
        value(before, "tams_presigned_urls_total", **key) == 2


def test_cache_counters_move(api):
    flow = make_flow("data")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201)
    before, _ = scrape(api)
    for _ in range(3):
        check(api.get(f"/flows/{flow['id']}"), 200)
    samples, _ = scrape(api)
    hits = value(samples, "tams_cache_hits_total", cache="flows") - \
        value(before, "tams_cache_hits_total", cache="flows")
    misses = value(samples, "tams_cache_misses_total", cache="flows") - \
        value(before, "tams_cache_misses_total", cache="flows")
    assert (misses, hits) == (1, 2)


def local_non_loopback_address():
    """An address of this machine that is not loopback (the one a packet to the outside would
    leave from), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _free_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def serve_on_all_addresses(tams_server, tmp_path, name, env=None):
    """A server listening on 0.0.0.0 (so that it can be reached from a non-loopback address)."""
    port = _free_port()
    data = tmp_path / f"{name}-data"
    return tams_server(env=env, port=port, data_dir=data, default_args=False, name=name,
                       args=["--listen", f"0.0.0.0:{port}", "--data-dir", str(data)])


def test_loopback_access_is_the_default(anon, tams_server, tmp_path):
    """From 127.0.0.1 no credentials are needed; from another address the read scope is."""
    metrics_ok(anon.get("/metrics"))
    address = local_non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    srv = serve_on_all_addresses(tams_server, tmp_path, "all")
    remote = Api(f"http://{address}:{srv.port}", auth=None)
    check(remote.get("/metrics"), 401)
    remote.auth = ("test", "secret-pass")
    metrics_ok(remote.get("/metrics"))
    # Credentials without the read scope are not enough from afar; loopback still needs none.
    narrow = serve_on_all_addresses(tams_server, tmp_path, "narrow",
                                    env={"TAMS_AUTH_STATIC_SCOPES": "tams-api/write"})
    check(Api(f"http://{address}:{narrow.port}").get("/metrics"), 403)
    metrics_ok(Api(narrow.base_url, auth=None).get("/metrics"))


def test_authenticated_access_asks_everybody(tams_server):
    srv = tams_server(env={"TAMS_METRICS_ACCESS": "authenticated"})
    check(Api(srv.base_url, auth=None).get("/metrics"), 401)
    metrics_ok(Api(srv.base_url, auth=("test", "secret-pass")).get("/metrics"))
    r = requests.get(srv.base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200


def test_public_access_asks_nobody(tams_server):
    srv = tams_server(env={"TAMS_METRICS_ACCESS": "public"})
    metrics_ok(Api(srv.base_url, auth=None).get("/metrics"))


def test_bad_metrics_access_stops_the_start(tams_server):
    from tams_helpers import ServerFailed, TamsServer
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        srv = TamsServer(d, env={"TAMS_METRICS_ACCESS": "everyone"})
        with pytest.raises(ServerFailed):
            srv.start()
        assert "TAMS_METRICS_ACCESS" in srv.stderr() and "loopback" in srv.stderr()


def test_health_needs_no_credentials(anon):
    assert check(anon.get("/health/live"), 200) == {"status": "live"}
    assert check(anon.get("/health/ready"), 200) == {"status": "ready"}
    h = anon.head("/health/ready")
    assert h.status_code == 200 and h.content == b""


def test_ready_is_503_naming_the_storage_when_it_is_gone(tams_server):
    srv = tams_server()
    anon = Api(srv.base_url, auth=None)
    check(anon.get("/health/ready"), 200)
    shutil.rmtree(srv.data_dir / "media")
    # A deliberate 503: plain requests, not the session that fails tests on 5xx.
    r = requests.get(srv.base_url + "/health/ready", timeout=10)
    assert r.status_code == 503
    assert r.headers.get("Retry-After") == "1"
    body = check(r, 503, error_type="unavailable")
    assert "storage" in body["summary"] and "database" not in body["summary"]
    assert str(srv.data_dir) not in body["summary"]  # paths go to the log only
    assert check(anon.get("/health/live"), 200) == {"status": "live"}


def test_docs_and_dashboard_name_only_real_metrics(api):
    """docs/metrics.md lists every family the server exposes, and the Grafana dashboard queries
    only families that exist."""
    import json
    from tams_helpers import REPO_ROOT
    flow = make_flow("data")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201)
    check(api.post(f"/flows/{flow['id']}/storage", json={"limit": 1}), 201)
    _, types = scrape(api)
    docs = (REPO_ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", docs, re.MULTILINE))
    assert set(types) <= documented, f"undocumented: {set(types) - documented}"
    dashboard = json.loads((REPO_ROOT / "deploy" / "grafana" / "tams.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {re.sub(r"_(bucket|sum|count)$", "", m)
            for e in exprs for m in re.findall(r"\b((?:tams|process)_[a-z_]+)\b", e)}
    assert used <= documented and used <= set(types) | {"tams_presigned_urls_total"}, \
        f"dashboard names unknown metrics: {used - set(types)}"
