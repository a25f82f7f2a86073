"""Flow property sub-resources: tags, label, description, read_only, max/avg_bit_rate
(flow_collection is in test_collections.py)."""
import pytest

from tams_helpers import (
    BASIC_USER, BIT_RATE, BOOLEAN, STRING, assert_head_twin, check, new_id,
)

NOT_A_STRING = [("int", "5"), ("null", "null"), ("object", '{"a": "b"}'), ("array", '["x"]'),
                ("bool", "true"), ("unquoted", "proxy"), ("empty", ""), ("truncated", '"abc')]
NOT_A_BOOL = [("string-true", '"true"'), ("one", "1"), ("zero", "0"), ("null", "null"),
              ("yes", '"yes"'), ("object", "{}"), ("unquoted-yes", "yes"), ("empty", "")]
NOT_A_BIT_RATE = [("negative", "-1"), ("string", '"5000"'), ("fraction", "1.5"), ("null", "null"),
                  ("bool", "true"), ("array", "[5]"), ("not-json", "fast"), ("empty", ""),
                  ("exponent-fraction", "2.5e0")]


def flow_of(api, fid):
    return check(api.get(f"/flows/{fid}"), 200, "flow.json")


def put_raw(api, path, data):
    return api.put(path, data=data.encode(), headers={"Content-Type": "application/json"})


# ------------------------------------------------------------------------------------ label / description

@pytest.mark.parametrize("prop", ["label", "description"])
def test_string_property_lifecycle(api, create_flow, prop):
    fid = create_flow("video")["id"]
    path = f"/flows/{fid}/{prop}"
    check(api.get(path), 404, error_type="not_found")
    check(api.head(path), 404)
    check(api.put(path, json="first value"), 204)
    assert check(api.get(path), 200, STRING) == "first value"
    assert flow_of(api, fid)[prop] == "first value"
    assert_head_twin(api, path, expect=200)
    check(api.put(path, json="Zoë ✓ \"quoted\" \\ / 😀"), 204)
    assert check(api.get(path), 200, STRING) == "Zoë ✓ \"quoted\" \\ / 😀"
    check(api.put(path, json=""), 204)
    assert check(api.get(path), 200, STRING) == ""
    check(api.delete(path), 204)
    check(api.get(path), 404, error_type="not_found")
    assert prop not in flow_of(api, fid)
    check(api.delete(path), (204, 404))


@pytest.mark.parametrize("prop", ["label", "description"])
@pytest.mark.parametrize("case,data", NOT_A_STRING, ids=[c for c, _ in NOT_A_STRING])
def test_string_property_invalid(api, create_flow, prop, case, data):
    fid = create_flow("audio", **{prop: "kept"})["id"]
    check(put_raw(api, f"/flows/{fid}/{prop}", data), 400, error_type="bad_request")
    assert check(api.get(f"/flows/{fid}/{prop}"), 200, STRING) == "kept"


@pytest.mark.parametrize("prop", ["label", "description", "tags", "tags/x", "read_only",
                                  "max_bit_rate", "avg_bit_rate", "flow_collection"])
def test_property_on_missing_flow_404(api, create_flow, prop):
    fid = new_id()
    check(api.get(f"/flows/{fid}/{prop}"), 404, error_type="not_found")
    check(api.head(f"/flows/{fid}/{prop}"), 404)
    member = create_flow("video")["id"] if prop == "flow_collection" else None
    values = {"read_only": True, "max_bit_rate": 5, "avg_bit_rate": 5,
              "flow_collection": [{"id": member, "role": "x"}]}
    if prop != "tags":
        check(api.put(f"/flows/{fid}/{prop}", json=values.get(prop, "v")), 404)
    if prop not in ("tags", "read_only"):
        check(api.delete(f"/flows/{fid}/{prop}"), 404)
    check(api.get(f"/flows/{fid}"), 404)


# ------------------------------------------------------------------------------------ tags

def test_tags_lifecycle(api, create_flow):
    fid = create_flow("video")["id"]
    assert check(api.get(f"/flows/{fid}/tags"), 200, "tags.json") == {}
    check(api.get(f"/flows/{fid}/tags/genre"), 404, error_type="not_found")
    check(api.put(f"/flows/{fid}/tags/genre", json="news"), 204)
    assert check(api.get(f"/flows/{fid}/tags/genre"), 200, STRING) == "news"
    check(api.put(f"/flows/{fid}/tags/genre", json="sport"), 204)
    assert check(api.get(f"/flows/{fid}/tags/genre"), 200, STRING) == "sport"
    check(api.put(f"/flows/{fid}/tags/other", json=""), 204)
    assert check(api.get(f"/flows/{fid}/tags"), 200, "tags.json") == {"genre": "sport", "other": ""}
    assert flow_of(api, fid)["tags"] == {"genre": "sport", "other": ""}
    assert_head_twin(api, f"/flows/{fid}/tags", expect=200)
    assert_head_twin(api, f"/flows/{fid}/tags/genre", expect=200)
    check(api.delete(f"/flows/{fid}/tags/genre"), 204)
    check(api.get(f"/flows/{fid}/tags/genre"), 404, error_type="not_found")
    assert check(api.get(f"/flows/{fid}/tags"), 200, "tags.json") == {"other": ""}
    check(api.delete(f"/flows/{fid}/tags/genre"), (204, 404))


def test_tags_merge_with_put_body_tags(api, create_flow):
    fid = create_flow("audio", tags={"a": "1"})["id"]
    check(api.put(f"/flows/{fid}/tags/b", json="2"), 204)
    assert check(api.get(f"/flows/{fid}/tags"), 200, "tags.json") == {"a": "1", "b": "2"}


@pytest.mark.parametrize("encoded,name", [
    ("a.b", "a.b"),
    ("x%2Fy", "x/y"),
    ("x%2fy", "x/y"),
    ("sp%20ace", "sp ace"),
    ("%C3%BCml%C3%A4ut", "ümläut"),
    ("_tams_segmentation_rate", "_tams_segmentation_rate"),
    ("a%2Eb.c", "a.b.c"),
    ("per%25cent", "per%cent"),
    ("q%3Fhash%23", "q?hash#"),
], ids=["dot", "slash", "slash-lower", "space", "utf8", "underscore", "encoded-dot", "percent",
        "query-chars"])
def test_tag_names_with_special_characters(api, create_flow, encoded, name):
    fid = create_flow("data")["id"]
    check(api.put(f"/flows/{fid}/tags/{encoded}", json="value"), 204)
    assert check(api.get(f"/flows/{fid}/tags"), 200, "tags.json") == {name: "value"}
    assert check(api.get(f"/flows/{fid}/tags/{encoded}"), 200, STRING) == "value"
    assert flow_of(api, fid)["tags"] == {name: "value"}
    # the same tag is found by the listing filter (name percent-encoded by requests)
    r = api.get("/flows", params={f"tag.{name}": "value", "source_id": flow_of(api, fid)["source_id"]})
    assert [f["id"] for f in check(r, 200, {"type": "array", "items": {"$ref": "flow.json"}})] == [fid]
    check(api.delete(f"/flows/{fid}/tags/{encoded}"), 204)
    assert check(api.get(f"/flows/{fid}/tags"), 200, "tags.json") == {}


@pytest.mark.parametrize("case,data", NOT_A_STRING + [("array-of-strings-is-8x", '["a", "b"]')],
                         ids=[c for c, _ in NOT_A_STRING] + ["array-of-strings-is-8x"])
def test_tag_value_invalid(api, create_flow, case, data):
    fid = create_flow("video", tags={"t": "kept"})["id"]
    check(put_raw(api, f"/flows/{fid}/tags/t", data), 400, error_type="bad_request")
    check(put_raw(api, f"/flows/{fid}/tags/new", data), 400, error_type="bad_request")
    assert check(api.get(f"/flows/{fid}/tags"), 200, "tags.json") == {"t": "kept"}


def test_tag_on_missing_flow(api):
    fid = new_id()
    check(api.get(f"/flows/{fid}/tags/x"), 404)
    check(api.put(f"/flows/{fid}/tags/x", json="v"), 404)
    check(api.delete(f"/flows/{fid}/tags/x"), 404)
    check(api.get(f"/flows/{fid}"), 404)


# ------------------------------------------------------------------------------------ read_only

def test_read_only_property(api, create_flow):
    fid = create_flow("video")["id"]
    assert check(api.get(f"/flows/{fid}/read_only"), 200, BOOLEAN) is False
    check(api.put(f"/flows/{fid}/read_only", json=True), 204)
    assert check(api.get(f"/flows/{fid}/read_only"), 200, BOOLEAN) is True
    assert flow_of(api, fid)["read_only"] is True
    assert_head_twin(api, f"/flows/{fid}/read_only", expect=200)
    check(api.put(f"/flows/{fid}/read_only", json=True), 204)   # PUT read_only never 403s
    check(api.put(f"/flows/{fid}/read_only", json=False), 204)
    assert check(api.get(f"/flows/{fid}/read_only"), 200, BOOLEAN) is False
    assert flow_of(api, fid).get("read_only", False) is False


@pytest.mark.parametrize("case,data", NOT_A_BOOL, ids=[c for c, _ in NOT_A_BOOL])
def test_read_only_invalid(api, create_flow, case, data):
    fid = create_flow("audio")["id"]
    check(put_raw(api, f"/flows/{fid}/read_only", data), 400, error_type="bad_request")
    assert check(api.get(f"/flows/{fid}/read_only"), 200, BOOLEAN) is False


# ------------------------------------------------------------------------------------ bit rates

@pytest.mark.parametrize("prop", ["max_bit_rate", "avg_bit_rate"])
def test_bit_rate_lifecycle(api, create_flow, prop):
    fid = create_flow("video")["id"]
    path = f"/flows/{fid}/{prop}"
    check(api.get(path), 404, error_type="not_found")
    check(api.put(path, json=5000), 204)
    assert check(api.get(path), 200, BIT_RATE) == 5000
    assert flow_of(api, fid)[prop] == 5000
    assert_head_twin(api, path, expect=200)
    check(api.put(path, json=0), 204)
    assert check(api.get(path), 200, BIT_RATE) == 0
    check(api.put(path, json=2**31), 204)
    assert check(api.get(path), 200, BIT_RATE) == 2**31
    check(api.delete(path), 204)
    check(api.get(path), 404, error_type="not_found")
    assert prop not in flow_of(api, fid)
    check(api.delete(path), (204, 404))


@pytest.mark.parametrize("prop", ["max_bit_rate", "avg_bit_rate"])
@pytest.mark.parametrize("case,data", NOT_A_BIT_RATE, ids=[c for c, _ in NOT_A_BIT_RATE])
def test_bit_rate_invalid(api, create_flow, prop, case, data):
    fid = create_flow("audio", **{prop: 128})["id"]
    check(put_raw(api, f"/flows/{fid}/{prop}", data), 400, error_type="bad_request")
    assert check(api.get(f"/flows/{fid}/{prop}"), 200, BIT_RATE) == 128


# ------------------------------------------------------------------------------------ versions

def _ops(member_id):
    return [
        ("put-tag", "PUT", "tags/new", "v"),
        ("put-existing-tag", "PUT", "tags/t", "changed"),
        ("delete-tag", "DELETE", "tags/t", None),
        ("put-label", "PUT", "label", "new label"),
        ("delete-label", "DELETE", "label", None),
        ("put-description", "PUT", "description", "new description"),
        ("delete-description", "DELETE", "description", None),
        ("put-max-bit-rate", "PUT", "max_bit_rate", 7),
        ("delete-max-bit-rate", "DELETE", "max_bit_rate", None),
        ("put-avg-bit-rate", "PUT", "avg_bit_rate", 7),
        ("delete-avg-bit-rate", "DELETE", "avg_bit_rate", None),
        ("put-flow-collection", "PUT", "flow_collection", [{"id": member_id, "role": "video"}]),
    ]


OP_NAMES = [o[0] for o in _ops(None)]


def _decorated_flow(api, create_flow):
    member = create_flow("video")
    body = create_flow("multi", label="l", description="d", tags={"t": "v"}, max_bit_rate=10,
                       avg_bit_rate=5)
    return body, member


@pytest.mark.parametrize("op", OP_NAMES)
def test_every_write_changes_metadata_version(api, create_flow, op):
    body, member = _decorated_flow(api, create_flow)
    fid = body["id"]
    _, method, sub, value = next(o for o in _ops(member["id"]) if o[0] == op)
    before = flow_of(api, fid)
    assert before.get("metadata_version"), "server sets metadata_version"
    r = api.request(method, f"/flows/{fid}/{sub}", json=value)
    check(r, 204)
    after = flow_of(api, fid)
    assert after.get("metadata_version") and after["metadata_version"] != before["metadata_version"]
    if "updated_by" in after:
        assert after["updated_by"] == BASIC_USER
    assert after["created"] == before["created"]


def test_read_only_toggle_changes_metadata_version(api, create_flow):
    fid = create_flow("video")["id"]
    v0 = flow_of(api, fid)["metadata_version"]
    check(api.put(f"/flows/{fid}/read_only", json=True), 204)
    v1 = flow_of(api, fid)["metadata_version"]
    assert v1 != v0
    check(api.put(f"/flows/{fid}/read_only", json=False), 204)


# ------------------------------------------------------------------------------------ read-only flow

@pytest.mark.parametrize("op", OP_NAMES + ["delete-flow-collection", "put-flow", "delete-flow"])
def test_read_only_flow_rejects_every_write(api, create_flow, op):
    body, member = _decorated_flow(api, create_flow)
    fid = body["id"]
    check(api.put(f"/flows/{fid}/flow_collection", json=[{"id": member["id"], "role": "v"}]), 204)
    check(api.put(f"/flows/{fid}/read_only", json=True), 204)
    before = flow_of(api, fid)
    if op == "delete-flow-collection":
        r = api.delete(f"/flows/{fid}/flow_collection")
    elif op == "put-flow":
        r = api.put(f"/flows/{fid}", json=dict(body, label="changed", read_only=True))
    elif op == "delete-flow":
        r = api.delete(f"/flows/{fid}")
    else:
        _, method, sub, value = next(o for o in _ops(member["id"]) if o[0] == op)
        r = api.request(method, f"/flows/{fid}/{sub}", json=value)
    check(r, 403, error_type="read_only")
    after = flow_of(api, fid)
    assert after == before, "a rejected write must not change anything"
    # reads still work, read_only can be unlocked, then writes succeed
    check(api.get(f"/flows/{fid}/tags"), 200, "tags.json")
    check(api.put(f"/flows/{fid}/read_only", json=False), 204)
    check(api.put(f"/flows/{fid}/label", json="writable again"), 204)
    assert flow_of(api, fid)["label"] == "writable again"


def test_created_read_only_via_put_body(api, create_flow):
    fid = create_flow("image", read_only=True)["id"]
    check(api.put(f"/flows/{fid}/tags/x", json="v"), 403, error_type="read_only")
    check(api.delete(f"/flows/{fid}/label"), 403, error_type="read_only")
    assert check(api.get(f"/flows/{fid}/read_only"), 200, BOOLEAN) is True
