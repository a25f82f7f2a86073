"""GET|HEAD /, GET|HEAD|POST /service, GET|HEAD /service/storage-backends, unknown paths/methods."""
import pytest

from tams_helpers import ROOT_LIST, assert_head_twin, check, new_id, unique


def test_root_lists_endpoints(api):
    body = check(api.get("/"), 200, ROOT_LIST)
    for name in ("service", "flows", "sources"):
        assert name in body, body
    assert len(body) == len(set(body)), body


def test_root_head_twin(api):
    assert_head_twin(api, "/", expect=200)


def test_service_get(api):
    body = check(api.get("/service"), 200, "service.json")
    assert body["type"].startswith("urn:x-tams:service"), body
    assert body["api_version"] == "7.0"
    assert "media_store" not in body, "service.media_store was removed in 7.0"


def test_service_head_twin(api):
    assert_head_twin(api, "/service", expect=200)


def test_service_post_updates_name_and_description(api):
    name, desc = unique("svc-"), "Test store " + unique()
    r = api.post("/service", json={"name": name, "description": desc})
    check(r, 200)
    body = check(api.get("/service"), 200, "service.json")
    assert body["name"] == name
    assert body["description"] == desc
    assert body["api_version"] == "7.0"
    assert body["type"].startswith("urn:x-tams:service")


def test_service_post_type_and_version_not_writable(api):
    before = check(api.get("/service"), 200, "service.json")
    r = api.post("/service", json={"name": unique("svc-"), "type": "urn:x-evil", "api_version": "9.9"})
    check(r, (200, 400))
    after = check(api.get("/service"), 200, "service.json")
    assert after["type"] == before["type"]
    assert after["api_version"] == "7.0"


@pytest.mark.parametrize("data", [
    '{"name": 5}',
    '{"description": ["x"]}',
    '{"name": null}',
    '{"name": "x"',
    'not json',
    '',
    '[]',
    '"name"',
    '42',
    'null',
], ids=["name-int", "description-array", "name-null", "truncated", "not-json", "empty",
        "array", "string", "number", "null"])
def test_service_post_invalid(api, data):
    before = check(api.get("/service"), 200, "service.json")
    r = api.post("/service", data=data, headers={"Content-Type": "application/json"})
    check(r, 400, error_type="bad_request")
    after = check(api.get("/service"), 200, "service.json")
    assert after.get("name") == before.get("name")
    assert after.get("description") == before.get("description")


def test_storage_backends(api):
    body = check(api.get("/service/storage-backends"), 200, "storage-backends-list.json")
    assert isinstance(body, list)
    assert sum(1 for b in body if b.get("default_storage")) <= 1, "at most one default backend"


def test_storage_backends_head_twin(api):
    assert_head_twin(api, "/service/storage-backends", expect=200)


@pytest.mark.parametrize("path", ["/nope", "/flow", "/flows/" + new_id() + "/nope",
                                  "/service/nope", "/sources/" + new_id() + "/nope"],
                         ids=["nope", "flow", "flow-sub", "service-sub", "source-sub"])
def test_unknown_path_404(api, path):
    check(api.get(path), 404, error_type="not_found")
    check(api.head(path), 404)


METHOD_CASES = [
    ("DELETE", "/service"),
    ("PUT", "/service"),
    ("POST", "/flows"),
    ("DELETE", "/flows"),
    ("PATCH", "/flows/{flow}"),
    ("POST", "/flows/{flow}"),
    ("POST", "/sources"),
    ("PUT", "/sources/{source}"),
    ("DELETE", "/sources/{source}"),
    ("POST", "/flows/{flow}/label"),
    ("DELETE", "/flows/{flow}/read_only"),
    ("PUT", "/flows/{flow}/tags"),
    ("DELETE", "/sources/{source}/tags"),
    ("POST", "/service/storage-backends"),
]


@pytest.mark.parametrize("method,path", METHOD_CASES, ids=[f"{m} {p}" for m, p in METHOD_CASES])
def test_method_not_allowed(api, create_flow, method, path):
    body = create_flow("video")
    path = path.format(flow=body["id"], source=body["source_id"])
    r = api.request(method, path, json={})
    check(r, 405, error_type="method_not_allowed")
    assert r.headers.get("Allow"), "405 must carry an Allow header (RFC 9110)"
    check(api.get(f"/flows/{body['id']}"), 200, "flow.json")
