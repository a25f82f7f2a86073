"""Flow collections (PUT/GET/DELETE /flows/{id}/flow_collection and flow_collection in Flow PUT)
and the inferred collected_by / source_collection fields."""
import pytest

from tams_helpers import (
    UPPER_ID, assert_head_twin, check, check_error_names, make_flow, new_id,
)


def flow_of(api, fid):
    return check(api.get(f"/flows/{fid}"), 200, "flow.json")


def source_of(api, sid):
    return check(api.get(f"/sources/{sid}"), 200, "source.json")


def collection_of(api, fid):
    r = api.get(f"/flows/{fid}/flow_collection")
    body = check(r, (200, 404), "flow-collection.json")
    return [] if r.status_code == 404 else body


def source_members(api, sid):
    return {(i["id"], i["role"]) for i in source_of(api, sid).get("source_collection", [])}


@pytest.fixture
def trio(api, create_flow):
    a = create_flow("video")
    b = create_flow("audio")
    m = create_flow("multi")
    return a, b, m


def test_collection_lifecycle(api, trio):
    a, b, m = trio
    coll = [{"id": a["id"], "role": "video"}, {"id": b["id"], "role": "audio"}]
    check(api.put(f"/flows/{m['id']}/flow_collection", json=coll), 204)
    assert check(api.get(f"/flows/{m['id']}/flow_collection"), 200, "flow-collection.json") == coll
    assert flow_of(api, m["id"])["flow_collection"] == coll
    assert_head_twin(api, f"/flows/{m['id']}/flow_collection", expect=200)
    # flows
    assert m["id"] in flow_of(api, a["id"]).get("collected_by", [])
    assert m["id"] in flow_of(api, b["id"]).get("collected_by", [])
    assert a["id"] not in flow_of(api, b["id"]).get("collected_by", [])
    # sources
    assert source_members(api, m["source_id"]) == {(a["source_id"], "video"), (b["source_id"], "audio")}
    assert m["source_id"] in source_of(api, a["source_id"]).get("collected_by", [])
    assert m["source_id"] in source_of(api, b["source_id"]).get("collected_by", [])
    # delete
    check(api.delete(f"/flows/{m['id']}/flow_collection"), 204)
    assert collection_of(api, m["id"]) == []
    assert "flow_collection" not in flow_of(api, m["id"]) or flow_of(api, m["id"])["flow_collection"] == []
    assert m["id"] not in flow_of(api, a["id"]).get("collected_by", [])
    assert m["id"] not in flow_of(api, b["id"]).get("collected_by", [])
    assert source_members(api, m["source_id"]) == set()
    assert m["source_id"] not in source_of(api, a["source_id"]).get("collected_by", [])


def test_unset_collection(api, create_flow):
    fid = create_flow("multi")["id"]
    r = api.get(f"/flows/{fid}/flow_collection")
    body = check(r, (200, 404), "flow-collection.json")
    if r.status_code == 200:
        assert body == []
    check(api.delete(f"/flows/{fid}/flow_collection"), (204, 404))


def test_collection_replace_updates_members(api, trio):
    a, b, m = trio
    check(api.put(f"/flows/{m['id']}/flow_collection", json=[{"id": a["id"], "role": "v"}]), 204)
    check(api.put(f"/flows/{m['id']}/flow_collection", json=[{"id": b["id"], "role": "a"}]), 204)
    assert collection_of(api, m["id"]) == [{"id": b["id"], "role": "a"}]
    assert m["id"] not in flow_of(api, a["id"]).get("collected_by", [])
    assert m["id"] in flow_of(api, b["id"]).get("collected_by", [])
    assert source_members(api, m["source_id"]) == {(b["source_id"], "a")}


def test_collection_in_flow_put_body(api, create_flow):
    a = create_flow("video")
    b = create_flow("data")
    coll = [{"id": a["id"], "role": "video"}, {"id": b["id"], "role": "subtitles"}]
    m = create_flow("multi", flow_collection=coll)
    assert flow_of(api, m["id"])["flow_collection"] == coll
    assert m["id"] in flow_of(api, a["id"]).get("collected_by", [])
    assert m["source_id"] in source_of(api, b["source_id"]).get("collected_by", [])
    # a full replace without flow_collection drops it
    m.pop("flow_collection")
    check(api.put(f"/flows/{m['id']}", json=m), 204)
    assert collection_of(api, m["id"]) == []
    assert m["id"] not in flow_of(api, a["id"]).get("collected_by", [])
    assert source_members(api, m["source_id"]) == set()


def test_collection_with_container_mapping(api, create_flow):
    a1 = create_flow("audio")
    a2 = create_flow("audio")
    v = create_flow("video")
    coll = [
        {"id": v["id"], "role": "video", "container_mapping": {"track_index": 0,
                                                               "mp2ts_container": {"pid": 256}}},
        {"id": a1["id"], "role": "audio-main",
         "container_mapping": {"track_index": 1, "format_track_index": 0,
                               "audio_track": {"channel_numbers": [0, 1]}}},
        {"id": a2["id"], "role": "audio-ad",
         "container_mapping": {"track_index": 2, "audio_track": {"channel_range": "0_1"}}},
    ]
    m = create_flow("multi")
    check(api.put(f"/flows/{m['id']}/flow_collection", json=coll), 204)
    assert check(api.get(f"/flows/{m['id']}/flow_collection"), 200, "flow-collection.json") == coll


def test_member_collected_by_several(api, create_flow):
    a = create_flow("video")
    m1 = create_flow("multi", flow_collection=[{"id": a["id"], "role": "v"}])
    m2 = create_flow("multi", flow_collection=[{"id": a["id"], "role": "v"}])
    got = flow_of(api, a["id"])["collected_by"]
    assert m1["id"] in got and m2["id"] in got and len(got) == len(set(got))
    src = source_of(api, a["source_id"])["collected_by"]
    assert m1["source_id"] in src and m2["source_id"] in src


def test_deleting_collector_clears_collected_by(api, trio):
    a, b, m = trio
    check(api.put(f"/flows/{m['id']}/flow_collection", json=[{"id": a["id"], "role": "v"}]), 204)
    check(api.delete(f"/flows/{m['id']}"), 204)
    assert m["id"] not in flow_of(api, a["id"]).get("collected_by", [])
    assert m["source_id"] not in source_of(api, a["source_id"]).get("collected_by", [])


def test_non_multi_flow_may_collect(api, create_flow):
    """Nothing in 7.0 restricts collections to multi Flows."""
    a = create_flow("audio")
    v = create_flow("video")
    check(api.put(f"/flows/{v['id']}/flow_collection", json=[{"id": a["id"], "role": "dub"}]), 204)
    assert v["id"] in flow_of(api, a["id"])["collected_by"]


@pytest.mark.parametrize("case", ["missing-member", "self", "no-role", "role-int", "not-array",
                                  "item-not-object", "upper-case-id", "id-missing", "not-json",
                                  "null", "bad-container-mapping"])
def test_invalid_collection_400(api, trio, case):
    a, b, m = trio
    good = [{"id": a["id"], "role": "video"}]
    check(api.put(f"/flows/{m['id']}/flow_collection", json=good), 204)
    missing = new_id()
    bodies = {
        "missing-member": ([{"id": missing, "role": "x"}], (missing, "flow_collection", "exist")),
        "self": ([{"id": m["id"], "role": "x"}], (m["id"], "flow_collection", "itself", "self")),
        "no-role": ([{"id": b["id"]}], ("role",)),
        "role-int": ([{"id": b["id"], "role": 1}], ("role",)),
        "not-array": ({"id": b["id"], "role": "x"}, ("flow_collection", "array")),
        "item-not-object": ([b["id"]], ("flow_collection", "object")),
        "upper-case-id": ([{"id": UPPER_ID, "role": "x"}], ("id", UPPER_ID)),
        "id-missing": ([{"role": "x"}], ("id",)),
        "not-json": (None, ("json",)),
        "null": ("null", ("flow_collection", "array", "null")),
        "bad-container-mapping": ([{"id": b["id"], "role": "x",
                                    "container_mapping": {"track_index": "one"}}], ("track_index",)),
    }
    value, names = bodies[case]
    if case == "not-json":
        r = api.put(f"/flows/{m['id']}/flow_collection", data=b"[{]",
                    headers={"Content-Type": "application/json"})
        check(r, 400, error_type="bad_request")
    elif case == "null":
        r = api.put(f"/flows/{m['id']}/flow_collection", data=b"null",
                    headers={"Content-Type": "application/json"})
        check(r, 400, error_type="bad_request")
    else:
        r = api.put(f"/flows/{m['id']}/flow_collection", json=value)
        check_error_names(r, 400, *names, error_type="bad_request")
    assert collection_of(api, m["id"]) == good, "a rejected PUT must not change the collection"
    assert m["id"] in flow_of(api, a["id"]).get("collected_by", [])


def test_flow_put_with_missing_member_400(api):
    missing = new_id()
    body = make_flow("multi", flow_collection=[{"id": missing, "role": "video"}])
    r = api.put(f"/flows/{body['id']}", json=body)
    check_error_names(r, 400, missing, "flow_collection", error_type="bad_request")
    check(api.get(f"/flows/{body['id']}"), 404)


def test_flow_put_collecting_itself_400(api):
    body = make_flow("multi")
    body["flow_collection"] = [{"id": body["id"], "role": "self"}]
    check(api.put(f"/flows/{body['id']}", json=body), 400, error_type="bad_request")
    check(api.get(f"/flows/{body['id']}"), 404)
