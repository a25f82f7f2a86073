"""Read-after-write through the caches (flow and source documents, segment pages): every write
path that changes a flow, a source or segments is visible to the next read of the same instance.
Each test reads first, so that the value is cached before the write."""
import threading

from tams_helpers import Api, check, make_flow, new_id, unique


def put_flow(api, **fields):
    flow = make_flow("data", **fields)
    check(api.put(f"/flows/{flow['id']}", json=flow), 201)
    return flow


def get_flow(api, flow_id):
    return check(api.get(f"/flows/{flow_id}"), 200, "flow.json")


def get_source(api, source_id):
    return check(api.get(f"/sources/{source_id}"), 200, "source.json")


def segment(i, object_id=None):
    return {"object_id": object_id or unique("o-"), "timerange": f"[{i}:0_{i + 1}:0)",
            "get_urls": [{"url": f"https://example.com/{i}"}]}


def tail(api, flow_id, **params):
    """The newest segments, asked for twice: the segment-page cache keeps a page from its second
    request on, so the next read after a write would see the cached page if invalidation failed."""
    params = {"reverse_order": "true", "limit": "3", **params}
    first = check(api.get(f"/flows/{flow_id}/segments", params=params), 200)
    again = check(api.get(f"/flows/{flow_id}/segments", params=params), 200)
    assert again == first
    return again


def test_flow_put_replaces_the_cached_document(api):
    flow = put_flow(api, label="one")
    assert get_flow(api, flow["id"])["label"] == "one"
    flow["label"] = "two"
    check(api.put(f"/flows/{flow['id']}", json=flow), 204)
    assert get_flow(api, flow["id"])["label"] == "two"


def test_flow_property_writes_and_deletes(api):
    flow = put_flow(api)
    fid = flow["id"]
    for prop, val in [("label", "L"), ("description", "D"), ("max_bit_rate", 5000),
                      ("avg_bit_rate", 4000)]:
        assert prop not in get_flow(api, fid)
        check(api.put(f"/flows/{fid}/{prop}", json=val), 204)
        assert get_flow(api, fid)[prop] == val
        check(api.get(f"/flows/{fid}/{prop}"), 200)
        check(api.delete(f"/flows/{fid}/{prop}"), 204)
        assert prop not in get_flow(api, fid)


def test_flow_tags(api):
    flow = put_flow(api)
    fid = flow["id"]
    assert get_flow(api, fid).get("tags", {}) == {}
    check(api.put(f"/flows/{fid}/tags/genre", json="news"), 204)
    assert get_flow(api, fid)["tags"] == {"genre": "news"}
    assert check(api.get(f"/flows/{fid}/tags"), 200) == {"genre": "news"}
    check(api.put(f"/flows/{fid}/tags/genre", json="sport"), 204)
    assert check(api.get(f"/flows/{fid}/tags/genre"), 200) == "sport"
    check(api.delete(f"/flows/{fid}/tags/genre"), 204)
    assert get_flow(api, fid).get("tags", {}) == {}


def test_read_only_changes(api):
    flow = put_flow(api)
    fid = flow["id"]
    assert get_flow(api, fid).get("read_only", False) is False
    check(api.put(f"/flows/{fid}/read_only", json=True), 204)
    assert get_flow(api, fid)["read_only"] is True
    check(api.put(f"/flows/{fid}/tags/x", json="y"), 403)
    check(api.put(f"/flows/{fid}/read_only", json=False), 204)
    assert get_flow(api, fid)["read_only"] is False
    check(api.put(f"/flows/{fid}/tags/x", json="y"), 204)


def test_collections_update_the_members_collected_by(api):
    member = put_flow(api)
    collector = put_flow(api)
    assert "collected_by" not in get_flow(api, member["id"])
    coll = [{"id": member["id"], "role": "video"}]
    check(api.put(f"/flows/{collector['id']}/flow_collection", json=coll), 204)
    assert get_flow(api, member["id"])["collected_by"] == [collector["id"]]
    check(api.delete(f"/flows/{collector['id']}/flow_collection"), 204)
    assert "collected_by" not in get_flow(api, member["id"])
    # Through a full PUT of the collector, and through deleting it.
    collector["flow_collection"] = coll
    check(api.put(f"/flows/{collector['id']}", json=collector), 204)
    assert get_flow(api, member["id"])["collected_by"] == [collector["id"]]
    get_source(api, member["source_id"])
    check(api.delete(f"/flows/{collector['id']}"), 204)
    assert "collected_by" not in get_flow(api, member["id"])
    assert "collected_by" not in get_source(api, member["source_id"])


def test_source_collections_follow_flow_collections(api):
    member = put_flow(api)
    collector = put_flow(api)
    assert "collected_by" not in get_source(api, member["source_id"])
    assert "source_collection" not in get_source(api, collector["source_id"])
    check(api.put(f"/flows/{collector['id']}/flow_collection",
                  json=[{"id": member["id"], "role": "audio"}]), 204)
    assert get_source(api, member["source_id"])["collected_by"] == [collector["source_id"]]
    assert get_source(api, collector["source_id"])["source_collection"] == \
        [{"id": member["source_id"], "role": "audio"}]


def test_source_writes(api):
    flow = put_flow(api)
    sid = flow["source_id"]
    assert "label" not in get_source(api, sid)
    check(api.put(f"/sources/{sid}/label", json="cam 1"), 204)
    assert get_source(api, sid)["label"] == "cam 1"
    check(api.put(f"/sources/{sid}/description", json="wide"), 204)
    assert get_source(api, sid)["description"] == "wide"
    check(api.put(f"/sources/{sid}/tags/site", json="studio"), 204)
    assert get_source(api, sid)["tags"] == {"site": "studio"}
    check(api.delete(f"/sources/{sid}/tags/site"), 204)
    check(api.delete(f"/sources/{sid}/label"), 204)
    got = get_source(api, sid)
    assert "label" not in got and got.get("tags", {}) == {}


def test_flow_moving_source_and_deletion(api):
    flow = put_flow(api)
    old_source = flow["source_id"]
    get_source(api, old_source)
    flow["source_id"] = new_id()
    check(api.put(f"/flows/{flow['id']}", json=flow), 204)
    check(api.get(f"/sources/{old_source}"), 404)  # its last flow left it
    assert get_flow(api, flow["id"])["source_id"] == flow["source_id"]
    get_source(api, flow["source_id"])
    check(api.delete(f"/flows/{flow['id']}"), 204)
    check(api.get(f"/flows/{flow['id']}"), 404)
    check(api.get(f"/sources/{flow['source_id']}"), 404)


def test_segment_registration_and_deletion_reach_the_tail(api):
    flow = put_flow(api)
    fid = flow["id"]
    assert tail(api, fid) == []
    updated_before = get_flow(api, fid).get("segments_updated")
    check(api.post(f"/flows/{fid}/segments", json=[segment(0), segment(1)]), 201)
    assert [s["timerange"] for s in tail(api, fid)] == ["[1:0_2:0)", "[0:0_1:0)"]
    assert get_flow(api, fid).get("segments_updated") != updated_before
    check(api.post(f"/flows/{fid}/segments", json=segment(2)), 201)
    assert [s["timerange"] for s in tail(api, fid)] == ["[2:0_3:0)", "[1:0_2:0)", "[0:0_1:0)"]
    # The same query again: answered from the cache, still current.
    assert len(tail(api, fid)) == 3
    check(api.delete(f"/flows/{fid}/segments", params={"timerange": "[2:0_3:0)"}), 204)
    assert [s["timerange"] for s in tail(api, fid)] == ["[1:0_2:0)", "[0:0_1:0)"]
    # Deleting the flow removes its pages too.
    check(api.delete(f"/flows/{fid}"), 204)
    assert tail(api, fid) == []


def test_a_bulk_post_with_failures_still_invalidates(api):
    flow = put_flow(api)
    fid = flow["id"]
    check(api.post(f"/flows/{fid}/segments", json=segment(0)), 201)
    assert len(tail(api, fid)) == 1
    body = check(api.post(f"/flows/{fid}/segments", json=[segment(0), segment(5)]), 200)
    assert len(body["failed_segments"]) == 1
    assert [s["timerange"] for s in tail(api, fid)] == ["[5:0_6:0)", "[0:0_1:0)"]


def test_concurrent_writes_and_reads_never_go_back(base_url):
    """Writers set a tag and read it back at once while readers hammer the same flow and tail:
    every read-after-write sees its own write. Bounded: 4 writers x 40 writes."""
    setup = Api(base_url)
    flow = put_flow(setup)
    fid = flow["id"]
    stop = threading.Event()
    errors = []

    def reader():
        with Api(base_url) as s:
            while not stop.is_set():
                s.get(f"/flows/{fid}")
                s.get(f"/flows/{fid}/segments", params={"reverse_order": "true", "limit": "3"})

    def writer(n):
        try:
            with Api(base_url) as s:
                for i in range(40):
                    value = f"w{n}-{i}"
                    check(s.put(f"/flows/{fid}/tags/w{n}", json=value), 204)
                    got = check(s.get(f"/flows/{fid}"), 200)["tags"][f"w{n}"]
                    if got != value:
                        errors.append(f"tag w{n}: wrote {value}, read {got}")
                    start = n * 1000 + i
                    check(s.post(f"/flows/{fid}/segments", json=segment(start)), 201)
                    page = check(s.get(f"/flows/{fid}/segments",
                                       params={"timerange": f"[{start}:0_{start + 1}:0)"}), 200)
                    if len(page) != 1:
                        errors.append(f"segment {start}: read {page}")
        except AssertionError as e:
            errors.append(str(e))

    readers = [threading.Thread(target=reader) for _ in range(3)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(120)
    stop.set()
    for t in readers:
        t.join(30)
    assert not errors, errors[:5]
    final = check(setup.get(f"/flows/{fid}"), 200)
    assert {k: v for k, v in final["tags"].items()} == {f"w{n}": f"w{n}-39" for n in range(4)}
    assert int(setup.get(f"/flows/{fid}/segments", params={"limit": 1000})
               .headers["X-Paging-Count"]) == 160
    setup.close()
