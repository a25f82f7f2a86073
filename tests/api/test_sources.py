"""Sources: implicit creation/deletion through Flows, GET|HEAD /sources filters, sub-resources."""
import pytest

from tams_helpers import (
    BASIC_USER, FORMAT_NAMES, FORMATS, MALFORMED_IDS, SOURCE_LIST, STRING, assert_head_twin,
    check, check_error_names, make_flow, new_id, unique, walk_pages,
)


def get_source(api, sid):
    return check(api.get(f"/sources/{sid}"), 200, "source.json")


def put_raw(api, path, data):
    return api.put(path, data=data.encode(), headers={"Content-Type": "application/json"})


# ------------------------------------------------------------------------------------ lifecycle

@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_source_created_implicitly(api, create_flow, fmt):
    body = create_flow(fmt, label="flow label")
    src = get_source(api, body["source_id"])
    assert src["id"] == body["source_id"]
    assert src["format"] == FORMATS[fmt]
    assert src.get("created_by") == BASIC_USER
    assert_head_twin(api, f"/sources/{body['source_id']}", expect=200)


def test_source_listed_once_for_many_flows(api, create_flow):
    sid = new_id()
    tagname = unique("st_")
    a = create_flow("video", source_id=sid)
    b = create_flow("video", source_id=sid)
    check(api.put(f"/sources/{sid}/tags/{tagname}", json="1"), 204)
    body = check(api.get("/sources", params={f"tag.{tagname}": "1"}), 200, SOURCE_LIST)
    assert [s["id"] for s in body] == [sid]
    flows = check(api.get("/flows", params={"source_id": sid}), 200,
                  {"type": "array", "items": {"$ref": "flow.json"}})
    assert sorted(f["id"] for f in flows) == sorted([a["id"], b["id"]])


def test_source_removed_with_last_flow(api, create_flow):
    sid = new_id()
    a = create_flow("audio", source_id=sid)
    b = create_flow("audio", source_id=sid)
    check(api.put(f"/sources/{sid}/label", json="will vanish"), 204)
    check(api.delete(f"/flows/{a['id']}"), 204)
    assert get_source(api, sid)["label"] == "will vanish"
    check(api.delete(f"/flows/{b['id']}"), 204)
    check(api.get(f"/sources/{sid}"), 404, error_type="not_found")
    check(api.head(f"/sources/{sid}"), 404)
    check(api.get(f"/sources/{sid}/tags"), 404)
    check(api.get(f"/sources/{sid}/label"), 404)
    listed = check(api.get("/sources", params={"label": "will vanish"}), 200, SOURCE_LIST)
    assert sid not in [s["id"] for s in listed]
    # a new flow brings it back, fresh
    create_flow("audio", source_id=sid)
    src = get_source(api, sid)
    assert "label" not in src


def test_source_survives_flow_replace(api, create_flow):
    body = create_flow("data")
    sid = body["source_id"]
    check(api.put(f"/sources/{sid}/description", json="keep"), 204)
    body["label"] = "replaced"
    check(api.put(f"/flows/{body['id']}", json=body), 204)
    assert get_source(api, sid)["description"] == "keep"


def test_get_unknown_source_404(api):
    check(api.get(f"/sources/{new_id()}"), 404, error_type="not_found")


@pytest.mark.parametrize("idx", range(len(MALFORMED_IDS)))
def test_get_malformed_source_id(api, idx):
    bad = MALFORMED_IDS[idx]
    check(api.get(f"/sources/{bad}"), (400, 404))
    check(api.head(f"/sources/{bad}"), (400, 404))
    check(api.get(f"/sources/{bad}/tags"), (400, 404))
    check(api.put(f"/sources/{bad}/label", json="x"), (400, 404))


# ------------------------------------------------------------------------------------ sub-resources

@pytest.mark.parametrize("prop", ["label", "description"])
def test_source_string_property_lifecycle(api, create_flow, prop):
    sid = create_flow("video")["source_id"]
    path = f"/sources/{sid}/{prop}"
    check(api.get(path), 404, error_type="not_found")
    check(api.head(path), 404)
    check(api.put(path, json="Big Buck Bunny ✓"), 204)
    assert check(api.get(path), 200, STRING) == "Big Buck Bunny ✓"
    assert get_source(api, sid)[prop] == "Big Buck Bunny ✓"
    assert_head_twin(api, path, expect=200)
    check(api.put(path, json="second"), 204)
    assert check(api.get(path), 200, STRING) == "second"
    check(api.delete(path), 204)
    check(api.get(path), 404, error_type="not_found")
    assert prop not in get_source(api, sid)
    check(api.delete(path), (204, 404))


@pytest.mark.parametrize("prop", ["label", "description", "tags/x"])
@pytest.mark.parametrize("data", ["5", "null", "{}", '["a"]', "true", "unquoted", ""],
                         ids=["int", "null", "object", "array", "bool", "unquoted", "empty"])
def test_source_property_invalid(api, create_flow, prop, data):
    sid = create_flow("audio")["source_id"]
    check(put_raw(api, f"/sources/{sid}/{prop}", data), 400, error_type="bad_request")
    check(api.get(f"/sources/{sid}/{prop}"), 404)


@pytest.mark.parametrize("prop", ["label", "description", "tags", "tags/x"])
def test_source_property_on_missing_source(api, prop):
    sid = new_id()
    check(api.get(f"/sources/{sid}/{prop}"), 404, error_type="not_found")
    check(api.head(f"/sources/{sid}/{prop}"), 404)
    if prop != "tags":
        check(api.put(f"/sources/{sid}/{prop}", json="v"), 404)
        check(api.delete(f"/sources/{sid}/{prop}"), 404)
    check(api.get(f"/sources/{sid}"), 404)


def test_source_tags_lifecycle(api, create_flow):
    sid = create_flow("image")["source_id"]
    assert check(api.get(f"/sources/{sid}/tags"), 200, "tags.json") == {}
    check(api.get(f"/sources/{sid}/tags/genre"), 404, error_type="not_found")
    check(api.put(f"/sources/{sid}/tags/genre", json="news"), 204)
    check(api.put(f"/sources/{sid}/tags/a.b", json="dot"), 204)
    check(api.put(f"/sources/{sid}/tags/x%2Fy", json="slash"), 204)
    assert check(api.get(f"/sources/{sid}/tags/genre"), 200, STRING) == "news"
    assert check(api.get(f"/sources/{sid}/tags/x%2Fy"), 200, STRING) == "slash"
    expected = {"genre": "news", "a.b": "dot", "x/y": "slash"}
    assert check(api.get(f"/sources/{sid}/tags"), 200, "tags.json") == expected
    assert get_source(api, sid)["tags"] == expected
    assert_head_twin(api, f"/sources/{sid}/tags", expect=200)
    assert_head_twin(api, f"/sources/{sid}/tags/a.b", expect=200)
    check(api.put(f"/sources/{sid}/tags/genre", json="sport"), 204)
    assert check(api.get(f"/sources/{sid}/tags/genre"), 200, STRING) == "sport"
    check(api.delete(f"/sources/{sid}/tags/genre"), 204)
    check(api.get(f"/sources/{sid}/tags/genre"), 404, error_type="not_found")
    check(api.delete(f"/sources/{sid}/tags/x%2Fy"), 204)
    assert check(api.get(f"/sources/{sid}/tags"), 200, "tags.json") == {"a.b": "dot"}


def test_source_and_flow_metadata_are_independent(api, create_flow):
    body = create_flow("video", label="flow label", tags={"ft": "1"})
    sid = body["source_id"]
    check(api.put(f"/sources/{sid}/label", json="source label"), 204)
    check(api.put(f"/sources/{sid}/tags/st", json="2"), 204)
    flow = check(api.get(f"/flows/{body['id']}"), 200, "flow.json")
    assert flow["label"] == "flow label" and flow["tags"] == {"ft": "1"}
    src = get_source(api, sid)
    assert src["label"] == "source label" and src["tags"] == {"st": "2"}


# ------------------------------------------------------------------------------------ listing

class SourceDataset:
    def __init__(self, api):
        self.group = unique("sg_")
        self.label_a = unique("SLa ")
        bodies = {
            "sv": make_flow("video"), "sa": make_flow("audio"), "si": make_flow("image"),
            "sd": make_flow("data"), "sm": make_flow("multi"),
        }
        extra_video = make_flow("video", source_id=bodies["sv"]["source_id"])
        for b in list(bodies.values()) + [extra_video]:
            check(api.put(f"/flows/{b['id']}", json=b), 201, "flow.json")
        self.sources = {n: b["source_id"] for n, b in bodies.items()}
        tags = {"sv": {"color": "red", "a.b": "dot"}, "sa": {"color": "blue"},
                "si": {"color": "red", "x/y": "slash"}, "sd": {}, "sm": {"color": ""}}
        labels = {"sv": self.label_a, "sa": self.label_a, "sd": "other"}
        for n, sid in self.sources.items():
            check(api.put(f"/sources/{sid}/tags/{self.group}", json="1"), 204)
            for k, v in tags[n].items():
                check(api.put(f"/sources/{sid}/tags/{k.replace('/', '%2F')}", json=v), 204)
            if n in labels:
                check(api.put(f"/sources/{sid}/label", json=labels[n]), 204)
        self.by_id = {v: k for k, v in self.sources.items()}

    def params(self, **extra):
        return {f"tag.{self.group}": "1", **extra}


@pytest.fixture(scope="module")
def source_dataset(api):
    return SourceDataset(api)


SOURCE_FILTER_CASES = [
    ("none", {}, "sv sa si sd sm"),
    ("format-video", {"format": FORMATS["video"]}, "sv"),
    ("format-image", {"format": FORMATS["image"]}, "si"),
    ("format-multi", {"format": FORMATS["multi"]}, "sm"),
    ("label", {"label": "{label_a}"}, "sv sa"),
    ("label-other", {"label": "other"}, "sd"),
    ("label-unused", {"label": "nothing"}, ""),
    ("tag", {"tag.color": "red"}, "sv si"),
    ("tag-empty-value", {"tag.color": ""}, "sm"),
    ("tag-exists", {"tag_exists.color": "true"}, "sv sa si sm"),
    ("tag-not-exists", {"tag_exists.color": "false"}, "sd"),
    ("tag-dot-name", {"tag.a.b": "dot"}, "sv"),
    ("tag-slash-name", {"tag.x/y": "slash"}, "si"),
    ("format-and-label", {"format": FORMATS["audio"], "label": "{label_a}"}, "sa"),
    ("format-and-tag", {"format": FORMATS["video"], "tag.color": "blue"}, ""),
    ("label-and-tag-exists", {"label": "{label_a}", "tag_exists.a.b": "false"}, "sa"),
]


@pytest.mark.parametrize("case,extra,expected", SOURCE_FILTER_CASES,
                         ids=[c[0] for c in SOURCE_FILTER_CASES])
def test_list_sources_filter(api, source_dataset, case, extra, expected):
    ds = source_dataset
    extra = {k: v.format(label_a=ds.label_a) for k, v in extra.items()}
    body = check(api.get("/sources", params=ds.params(limit=100, **extra)), 200, SOURCE_LIST)
    ids = [s["id"] for s in body]
    assert ids == sorted(ids), "sources are listed in ascending id order"
    assert sorted(ds.by_id[i] for i in ids) == sorted(expected.split())


@pytest.mark.parametrize("case,extra,expected", SOURCE_FILTER_CASES,
                         ids=[c[0] for c in SOURCE_FILTER_CASES])
def test_list_sources_filter_paged(api, source_dataset, case, extra, expected):
    ds = source_dataset
    extra = {k: v.format(label_a=ds.label_a) for k, v in extra.items()}
    items, responses = walk_pages(api, "/sources", ds.params(limit=1, **extra), schema=SOURCE_LIST)
    ids = [s["id"] for s in items]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert sorted(ds.by_id[i] for i in ids) == sorted(expected.split())
    assert len(responses) == max(1, len(ids))


def test_list_sources_head_twin(api, source_dataset):
    g = assert_head_twin(api, "/sources", params=source_dataset.params(limit=2), expect=200)
    assert g.headers.get("X-Paging-Limit") == "2"


@pytest.mark.parametrize("params,name", [
    ({"format": "bogus"}, "format"),
    ({"format": "video"}, "format"),
    ({"tag_exists.color": "maybe"}, "tag_exists"),
    ({"limit": "0"}, "limit"),
    ({"limit": "x"}, "limit"),
    ({"page": "garbage!"}, "page"),
], ids=["format-bogus", "format-short", "tag-exists-maybe", "limit-0", "limit-x", "page"])
def test_list_sources_bad_query(api, params, name):
    check_error_names(api.get("/sources", params=params), 400, name, error_type="bad_request")
    check(api.head("/sources", params=params), 400)


def test_list_sources_unfiltered(api, source_dataset):
    r = api.get("/sources")
    body = check(r, 200, SOURCE_LIST)
    ids = [s["id"] for s in body]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert r.headers.get("X-Paging-Limit") == "100"
