"""PUT/GET/HEAD/DELETE /flows/{id} and GET|HEAD /flows filters."""
import copy
import datetime as dt
import json
from urllib.parse import quote

import pytest

from tams_helpers import (
    Api, BASIC_USER, DROP, FLOW_FILTER_CASES, FLOW_LIST, FORMAT_NAMES, FORMATS, MALFORMED_IDS, NIL_ID,
    UPPER_ID, UUID_RE, V7_ID,
    assert_head_twin, check, check_error_names, is_valid, make_flow, new_id, raw_request,
    resolve_case, schema_dir, validate,
)

SERVER_MANAGED = {"created", "metadata_updated", "segments_updated", "collected_by", "timerange",
                  "created_by", "updated_by"}



def get_flow(api, fid, **params):
    return check(api.get(f"/flows/{fid}", params=params), 200, "flow.json")


def assert_client_fields(sent, got):
    for k, v in sent.items():
        if k in SERVER_MANAGED:
            continue
        assert got.get(k) == v, f"field {k}: sent {v!r}, stored {got.get(k)!r}"


# ------------------------------------------------------------------------------------ create

@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_create_each_format(api, new_flow, fmt):
    body = new_flow(fmt, label=f"{fmt} flow", description="made by the tests",
                    tags={"kind": fmt}, generation=1)
    validate(body, "flow.json")
    r = api.put(f"/flows/{body['id']}", json=body)
    created = check(r, 201, "flow.json")
    assert created["id"] == body["id"]
    assert created["source_id"] == body["source_id"]
    assert created["format"] == FORMATS[fmt]
    assert "created" in created, "201 body must carry the server-set `created`"
    assert created["created_by"] == BASIC_USER
    assert_client_fields(body, created)
    got = get_flow(api, body["id"])
    assert_client_fields(body, got)
    assert got["created"] == created["created"]
    assert got["created_by"] == BASIC_USER
    for k in set(created) | set(got):
        if k != "timerange":
            assert got.get(k) == created.get(k), f"GET differs from the 201 body in {k}"


def _examples():
    d = schema_dir().parent / "examples"
    return sorted(d.glob("flow-get-200-*.json")) + sorted(d.glob("flow-put*.json"))


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_spec_examples_round_trip(api, path):
    body = json.loads(path.read_text())
    body["id"], body["source_id"] = new_id(), new_id()
    body.pop("flow_collection", None)     # members would have to exist
    r = api.put(f"/flows/{body['id']}", json=body)
    created = check(r, 201, "flow.json")
    for k in ("created", "metadata_updated", "segments_updated"):
        if k in body and k in created:
            assert created[k] != body[k], f"client-supplied {k} must be ignored"
    assert_client_fields(body, get_flow(api, body["id"]))


def test_unknown_top_level_property_accepted(api, new_flow):
    body = new_flow("video", x_vendor_extension={"a": 1})
    validate(body, "flow.json")   # flow-core does not forbid extra top-level properties
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")


def test_minimal_bodies(api):
    """Only the required fields of each format."""
    bodies = [
        {"id": new_id(), "source_id": new_id(), "format": FORMATS["video"], "codec": "video/h264",
         "essence_parameters": {"frame_width": 1, "frame_height": 1}},
        {"id": new_id(), "source_id": new_id(), "format": FORMATS["audio"], "codec": "audio/aac",
         "essence_parameters": {"sample_rate": 48000, "channels": 1}},
        {"id": new_id(), "source_id": new_id(), "format": FORMATS["image"], "codec": "image/png",
         "essence_parameters": {"frame_width": 10, "frame_height": 10}},
        {"id": new_id(), "source_id": new_id(), "format": FORMATS["data"],
         "codec": "application/json", "essence_parameters": {}},
        {"id": new_id(), "source_id": new_id(), "format": FORMATS["multi"]},
    ]
    for body in bodies:
        validate(body, "flow.json")
        created = check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
        assert_client_fields(body, created)
        got = get_flow(api, body["id"])
        for absent in ("label", "description", "max_bit_rate", "avg_bit_rate", "flow_collection",
                       "read_only"):
            if absent == "read_only":
                assert got.get("read_only", False) is False
            else:
                assert absent not in got, f"{absent} appeared from nowhere: {got}"


# ------------------------------------------------------------------------------------ replace

def test_replace_returns_204_without_body(api, create_flow):
    body = create_flow("video", label="first")
    body["label"] = "second"
    r = api.put(f"/flows/{body['id']}", json=body)
    check(r, 204)
    assert get_flow(api, body["id"])["label"] == "second"


def test_replace_is_full_replace(api, create_flow):
    body = create_flow("video", label="lbl", description="desc", tags={"a": "1", "b": "2"},
                       max_bit_rate=9000, avg_bit_rate=5000, generation=2,
                       segment_duration={"numerator": 2, "denominator": 1},
                       container_mapping={"track_index": 0})
    created = get_flow(api, body["id"])
    new = make_flow("video", id=body["id"], source_id=body["source_id"], tags={"c": "3"},
                    container=DROP)
    new["essence_parameters"] = {"frame_width": 1280, "frame_height": 720}
    check(api.put(f"/flows/{body['id']}", json=new), 204)
    got = get_flow(api, body["id"])
    for gone in ("label", "description", "max_bit_rate", "avg_bit_rate", "generation",
                 "segment_duration", "container_mapping", "container"):
        assert gone not in got, f"{gone} survived a full replace: {got}"
    assert got["tags"] == {"c": "3"}, "tags are replaced wholesale, never merged"
    assert got["essence_parameters"] == {"frame_width": 1280, "frame_height": 720}
    assert got["created"] == created["created"], "`created` must survive a replace"
    check(api.get(f"/flows/{body['id']}/label"), 404)
    check(api.get(f"/flows/{body['id']}/description"), 404)
    check(api.get(f"/flows/{body['id']}/max_bit_rate"), 404)
    assert check(api.get(f"/flows/{body['id']}/tags"), 200, "tags.json") == {"c": "3"}


def test_replace_without_tags_clears_tags(api, create_flow):
    body = create_flow("audio", tags={"a": "1"})
    body.pop("tags")
    check(api.put(f"/flows/{body['id']}", json=body), 204)
    got = get_flow(api, body["id"])
    assert got.get("tags", {}) == {}
    assert check(api.get(f"/flows/{body['id']}/tags"), 200, "tags.json") == {}


def test_replace_may_change_codec_and_essence(api, create_flow):
    body = create_flow("video")
    body["codec"] = "video/hevc"
    body["essence_parameters"]["frame_width"] = 3840
    check(api.put(f"/flows/{body['id']}", json=body), 204)
    got = get_flow(api, body["id"])
    assert got["codec"] == "video/hevc"
    assert got["essence_parameters"]["frame_width"] == 3840


def test_server_managed_fields_ignored(api, new_flow):
    stale = "2001-01-01T00:00:00Z"
    foreign = new_id()
    body = new_flow("video", created=stale, metadata_updated=stale, segments_updated=stale,
                    collected_by=[foreign], timerange="[0:0_10:0)", created_by="mallory",
                    updated_by="mallory")
    validate(body, "flow.json")
    created = check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    for got in (created, get_flow(api, body["id"]), get_flow(api, body["id"], include_timerange="true")):
        assert got["created"] != stale
        assert got.get("metadata_updated") != stale
        assert got.get("segments_updated") != stale
        assert foreign not in got.get("collected_by", [])
        assert got.get("timerange", "()") == "()", "a flow without segments has no content"
        assert got["created_by"] == BASIC_USER
        assert got.get("updated_by", BASIC_USER) == BASIC_USER
    # and on replace
    body["created"] = "2002-02-02T00:00:00Z"
    check(api.put(f"/flows/{body['id']}", json=body), 204)
    got = get_flow(api, body["id"])
    assert got["created"] == created["created"]
    assert foreign not in got.get("collected_by", [])


def test_metadata_version_kept_when_sent(api, new_flow):
    body = new_flow("data", metadata_version="client-v1")
    created = check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    assert created["metadata_version"] == "client-v1"
    assert get_flow(api, body["id"])["metadata_version"] == "client-v1"
    body["metadata_version"] = "client-v2"
    body["label"] = "changed"
    check(api.put(f"/flows/{body['id']}", json=body), 204)
    assert get_flow(api, body["id"])["metadata_version"] == "client-v2"


def test_metadata_version_generated_and_changes(api, create_flow):
    body = create_flow("video")
    v1 = get_flow(api, body["id"]).get("metadata_version")
    assert isinstance(v1, str) and v1, "server sets metadata_version when the client does not"
    body["label"] = "changed"
    check(api.put(f"/flows/{body['id']}", json=body), 204)
    v2 = get_flow(api, body["id"])["metadata_version"]
    assert v2 != v1


def _ts(value):
    return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def test_metadata_updated_not_before_created(api, create_flow):
    body = create_flow("audio")
    got = get_flow(api, body["id"])
    if "metadata_updated" in got:
        assert _ts(got["metadata_updated"]) >= _ts(got["created"])
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - _ts(got["created"])).total_seconds()) < 300, "`created` should be now (UTC)"


# ------------------------------------------------------------------------------------ invalid

def _set(path, value):
    def f(b):
        obj = b
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return f


def _pop(path):
    def f(b):
        obj = b
        for k in path[:-1]:
            obj = obj[k]
        obj.pop(path[-1])
    return f


INVALID_BODIES = [
    ("video-missing-codec", "video", _pop(["codec"]), ["codec"]),
    ("video-missing-essence", "video", _pop(["essence_parameters"]), ["essence_parameters"]),
    ("video-essence-not-object", "video", _set(["essence_parameters"], "x"), ["essence_parameters"]),
    ("video-frame-width-0", "video", _set(["essence_parameters", "frame_width"], 0), ["frame_width"]),
    ("video-frame-height-negative", "video", _set(["essence_parameters", "frame_height"], -5),
     ["frame_height"]),
    ("video-frame-width-string", "video", _set(["essence_parameters", "frame_width"], "1920"),
     ["frame_width"]),
    ("video-missing-frame-height", "video", _pop(["essence_parameters", "frame_height"]),
     ["frame_height"]),
    ("video-unknown-essence-property", "video",
     _set(["essence_parameters", "frobnicate"], 1), ["frobnicate", "essence_parameters"]),
    ("video-bad-interlace", "video", _set(["essence_parameters", "interlace_mode"], "sideways"),
     ["interlace_mode"]),
    ("video-frame-rate-no-numerator", "video",
     _set(["essence_parameters", "frame_rate"], {"denominator": 1}), ["frame_rate", "numerator"]),
    ("audio-missing-sample-rate", "audio", _pop(["essence_parameters", "sample_rate"]),
     ["sample_rate"]),
    ("audio-channels-0", "audio", _set(["essence_parameters", "channels"], 0), ["channels"]),
    ("audio-unknown-essence-property", "audio", _set(["essence_parameters", "frame_width"], 5),
     ["frame_width", "essence_parameters"]),
    ("audio-missing-codec", "audio", _pop(["codec"]), ["codec"]),
    ("image-missing-frame-width", "image", _pop(["essence_parameters", "frame_width"]),
     ["frame_width"]),
    ("image-video-only-property", "image",
     _set(["essence_parameters", "frame_rate"], {"numerator": 25}), ["frame_rate", "essence_parameters"]),
    ("data-missing-essence", "data", _pop(["essence_parameters"]), ["essence_parameters"]),
    ("data-unknown-essence-property", "data", _set(["essence_parameters", "colour"], "red"),
     ["colour", "essence_parameters"]),
    ("missing-format", "video", _pop(["format"]), ["format"]),
    ("bad-format", "video", _set(["format"], "urn:x-nmos:format:smell"), ["format"]),
    ("x-tams-image-format", "image", _set(["format"], "urn:x-tams:format:image"), ["format"]),
    ("missing-id", "video", _pop(["id"]), ["id"]),
    ("missing-source-id", "video", _pop(["source_id"]), ["source_id"]),
    ("source-id-upper-case", "video", _set(["source_id"], UPPER_ID), ["source_id"]),
    ("source-id-v7", "video", _set(["source_id"], V7_ID), ["source_id"]),
    ("source-id-nil", "video", _set(["source_id"], NIL_ID), ["source_id"]),
    ("source-id-int", "video", _set(["source_id"], 5), ["source_id"]),
    ("codec-no-slash", "video", _set(["codec"], "h264"), ["codec"]),
    ("codec-with-parameters", "video", _set(["codec"], "video/h264; profile=high"), ["codec"]),
    ("container-no-slash", "audio", _set(["container"], "mp2t"), ["container"]),
    ("label-int", "video", _set(["label"], 5), ["label"]),
    ("description-null", "video", _set(["description"], None), ["description"]),
    ("tags-array", "video", _set(["tags"], ["a"]), ["tags"]),
    ("tag-value-int", "video", _set(["tags"], {"a": 1}), ["tags", "a"]),
    ("tag-value-array-is-8x", "video", _set(["tags"], {"a": ["x", "y"]}), ["tags", "a"]),
    ("generation-negative", "video", _set(["generation"], -1), ["generation"]),
    ("read-only-string", "video", _set(["read_only"], "yes"), ["read_only"]),
    ("avg-bit-rate-negative", "video", _set(["avg_bit_rate"], -1), ["avg_bit_rate"]),
    ("max-bit-rate-fraction", "video", _set(["max_bit_rate"], 1.5), ["max_bit_rate"]),
    ("segment-duration-zero", "video", _set(["segment_duration"], {"numerator": 0}),
     ["segment_duration", "numerator"]),
    ("metadata-version-int", "video", _set(["metadata_version"], 5), ["metadata_version"]),
    ("flow-collection-object", "multi", _set(["flow_collection"], {}), ["flow_collection"]),
    ("flow-collection-missing-role", "multi", _set(["flow_collection"], [{"id": new_id()}]),
     ["flow_collection", "role"]),
    ("container-mapping-negative", "audio", _set(["container_mapping"], {"track_index": -1}),
     ["container_mapping", "track_index"]),
]


@pytest.mark.parametrize("case,fmt,mutate,names", INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES])
def test_invalid_body_400_names_field(api, case, fmt, mutate, names):
    body = make_flow(fmt)
    fid = body["id"]
    mutate(body)
    assert not is_valid(body, "flow.json"), "test bug: body is valid"
    r = api.put(f"/flows/{fid}", json=body)
    check_error_names(r, 400, *names, error_type="bad_request")
    check(api.get(f"/flows/{fid}"), 404)


def test_invalid_replace_keeps_old_flow(api, create_flow):
    body = create_flow("video", label="keep me")
    bad = copy.deepcopy(body)
    bad["essence_parameters"]["frame_width"] = 0
    bad["label"] = "lost"
    check_error_names(api.put(f"/flows/{body['id']}", json=bad), 400, "frame_width")
    assert get_flow(api, body["id"])["label"] == "keep me"


@pytest.mark.parametrize("bad", [UPPER_ID, V7_ID, NIL_ID, "not-a-uuid"],
                         ids=["upper", "v7", "nil", "not-a-uuid"])
def test_malformed_flow_id_in_path_and_body(api, bad):
    body = make_flow("video", id=bad)
    r = api.put(f"/flows/{bad}", json=body)
    check(r, (400, 404))


def test_path_id_differs_from_body_id(api, new_flow):
    body = new_flow("video")
    other = new_id()
    r = api.put(f"/flows/{other}", json=body)
    err = check(r, 400, error_type="bad_request")
    assert other in err["summary"] and body["id"] in err["summary"], \
        f"the error should name both ids: {err}"
    check(api.get(f"/flows/{other}"), 404)
    check(api.get(f"/flows/{body['id']}"), 404)


def test_format_change_of_existing_flow_400(api, create_flow):
    body = create_flow("video")
    audio = make_flow("audio", id=body["id"], source_id=new_id())
    check_error_names(api.put(f"/flows/{body['id']}", json=audio), 400, "format")
    assert get_flow(api, body["id"])["format"] == FORMATS["video"]


def test_format_conflict_with_existing_source_400(api, create_flow):
    video = create_flow("video")
    audio = make_flow("audio", source_id=video["source_id"])
    check_error_names(api.put(f"/flows/{audio['id']}", json=audio), 400, "format", "source")
    check(api.get(f"/flows/{audio['id']}"), 404)
    src = check(api.get(f"/sources/{video['source_id']}"), 200, "source.json")
    assert src["format"] == FORMATS["video"]


@pytest.mark.parametrize("data", [
    '{"id": ', 'not json', '', '[]', 'null', '"a string"', '42', 'true',
    '{"id": "x"}}', '{"a": 1, "a": }', '\ufeff{}',
], ids=["truncated", "not-json", "empty", "array", "null", "string", "number", "boolean",
        "trailing-garbage", "broken-object", "bom-empty-object"])
def test_put_flow_bad_json(api, data):
    fid = new_id()
    r = api.put(f"/flows/{fid}", data=data.encode(), headers={"Content-Type": "application/json"})
    check(r, 400, error_type="bad_request")
    check(api.get(f"/flows/{fid}"), 404)


def test_put_flow_array_body(api, new_flow):
    body = new_flow("video")
    r = api.put(f"/flows/{body['id']}", json=[body])
    check(r, 400, error_type="bad_request")


def test_put_flow_invalid_utf8(api, new_flow):
    body = new_flow("video")
    data = json.dumps(body).replace('"format"', '"label": "\xff", "format"').encode("latin-1")
    r = api.put(f"/flows/{body['id']}", data=data, headers={"Content-Type": "application/json"})
    check(r, 400)


# ------------------------------------------------------------------------------------ read only

def test_read_only_flow_rejects_put(api, create_flow):
    body = create_flow("video", read_only=True)
    assert get_flow(api, body["id"])["read_only"] is True
    changed = dict(body, label="changed")
    changed.pop("read_only")
    check(api.put(f"/flows/{body['id']}", json=changed), 403, error_type="read_only")
    # a full PUT cannot unlock, even when it says read_only false
    unlock = dict(body, read_only=False)
    check(api.put(f"/flows/{body['id']}", json=unlock), 403, error_type="read_only")
    check(api.delete(f"/flows/{body['id']}"), 403, error_type="read_only")
    got = get_flow(api, body["id"])
    assert got.get("label") is None and got["read_only"] is True
    check(api.put(f"/flows/{body['id']}/read_only", json=False), 204)
    check(api.put(f"/flows/{body['id']}", json=changed), 204)
    got = get_flow(api, body["id"])
    assert got["label"] == "changed"
    assert got.get("read_only", False) is False


# ------------------------------------------------------------------------------------ get / delete

def test_get_unknown_flow_404(api):
    check(api.get(f"/flows/{new_id()}"), 404, error_type="not_found")


@pytest.mark.parametrize("bad", MALFORMED_IDS, ids=range(len(MALFORMED_IDS)))
def test_get_malformed_flow_id(api, bad):
    check(api.get(f"/flows/{bad}"), (400, 404))
    check(api.head(f"/flows/{bad}"), (400, 404))
    check(api.get(f"/flows/{bad}/tags"), (400, 404))
    check(api.delete(f"/flows/{bad}"), (400, 404))


def test_delete_flow(api, create_flow):
    body = create_flow("audio")
    check(api.delete(f"/flows/{body['id']}"), 204)
    check(api.get(f"/flows/{body['id']}"), 404)
    check(api.get(f"/flows/{body['id']}/tags"), 404)
    check(api.delete(f"/flows/{body['id']}"), 404)
    # the id can be reused afterwards
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")


@pytest.mark.parametrize("params", [
    {"include_timerange": "maybe"}, {"include_timerange": "1x"},
    {"timerange": "garbage"}, {"timerange": "[1:040000000_2:0)"}, {"timerange": "[01:0_2:0)"},
    {"timerange": "[0:1000000000]"},
], ids=["include-maybe", "include-1x", "tr-garbage", "tr-leading-zero-ns", "tr-leading-zero-s",
        "tr-10-digit-ns"])
def test_get_flow_bad_query(api, create_flow, params):
    body = create_flow("video")
    name = next(iter(params))
    check_error_names(api.get(f"/flows/{body['id']}", params=params), 400, name)
    check(api.head(f"/flows/{body['id']}", params=params), 400)


def test_get_flow_include_timerange(api, create_flow):
    body = create_flow("video")
    got = get_flow(api, body["id"])
    assert "timerange" not in got, "timerange only with include_timerange=true"
    got = get_flow(api, body["id"], include_timerange="true")
    assert got.get("timerange", "()") == "()"
    got = get_flow(api, body["id"], include_timerange="true", timerange="[0:0_10:0)")
    assert got.get("timerange", "()") == "()"
    got = get_flow(api, body["id"], include_timerange="false")
    assert "timerange" not in got


# ------------------------------------------------------------------------------------ HEAD twins

def test_head_twins_flow_resources(api, create_flow):
    body = create_flow("video", label="l", description="d", tags={"t": "v"}, max_bit_rate=1,
                       avg_bit_rate=1)
    fid = body["id"]
    for path, status in [
        (f"/flows/{fid}", 200), (f"/flows/{fid}/tags", 200), (f"/flows/{fid}/tags/t", 200),
        (f"/flows/{fid}/tags/nope", 404), (f"/flows/{fid}/label", 200),
        (f"/flows/{fid}/description", 200), (f"/flows/{fid}/read_only", 200),
        (f"/flows/{fid}/max_bit_rate", 200), (f"/flows/{fid}/avg_bit_rate", 200),
        (f"/flows/{new_id()}", 404), (f"/flows/{new_id()}/label", 404),
        (f"/sources/{body['source_id']}", 200),
    ]:
        assert_head_twin(api, path, expect=status)
    bare = create_flow("audio")
    for sub in ("label", "description", "max_bit_rate", "avg_bit_rate"):
        assert_head_twin(api, f"/flows/{bare['id']}/{sub}", expect=404)
    assert_head_twin(api, f"/flows/{fid}", params={"include_timerange": "true"}, expect=200)


def test_head_twin_flow_listing(api, flow_dataset):
    g = assert_head_twin(api, "/flows", params=flow_dataset.params(limit=3), expect=200)
    assert g.headers.get("X-Paging-Limit") == "3"


# ------------------------------------------------------------------------------------ listing

@pytest.mark.parametrize("case,extra,expected", FLOW_FILTER_CASES,
                         ids=[c[0] for c in FLOW_FILTER_CASES])
def test_list_flows_filter(api, flow_dataset, case, extra, expected):
    ds = flow_dataset
    params = ds.params(limit=1000, **resolve_case(ds, extra))
    body = check(api.get("/flows", params=params), 200, FLOW_LIST)
    ids = [f["id"] for f in body]
    assert ids == sorted(ids), "flows are listed in ascending id order"
    assert ds.names(ids) == sorted(expected.split()), f"filter {params}"
    for f in body:
        name = ds.by_id[f["id"]]
        assert_client_fields(ds.flows[name], f)


def test_list_flows_percent_encoded_tag_names(api, flow_dataset):
    ds = flow_dataset
    q = f"tag.{ds.group}={ds.value}&limit=100"
    for target, expected in [
        (f"/flows?{q}&tag.x%2Fy=slash", ["d1", "v2"]),
        (f"/flows?{q}&tag.a%2Eb=dot", ["v2"]),
        (f"/flows?{q}&tag_exists.x%2fy=true", ["d1", "v2"]),
    ]:
        r = raw_request(api.base_url, "GET", target)
        body = check(r, 200, FLOW_LIST)
        assert ds.names(f["id"] for f in body) == expected, target


@pytest.mark.parametrize("tr", ["[0:0_10:0)", "(0:0_10:0]", "[0:0]", "_10:0)", "[5:0_"])
def test_list_flows_raw_and_encoded_timerange(api, flow_dataset, tr):
    ds = flow_dataset
    for value in (tr, quote(tr, safe="")):
        target = f"/flows?timerange={value}&tag.{ds.group}={ds.value}"
        body = check(raw_request(api.base_url, "GET", target), 200, FLOW_LIST)
        assert body == [], f"no flow has content yet: {target}"
    for value in ("()", "%28%29"):
        target = f"/flows?timerange={value}&tag.{ds.group}={ds.value}&limit=100"
        body = check(raw_request(api.base_url, "GET", target), 200, FLOW_LIST)
        assert sorted(f["id"] for f in body) == ds.all_ids()


@pytest.mark.parametrize("params,name", [
    ({"frame_width": "abc"}, "frame_width"),
    ({"frame_width": "1.5"}, "frame_width"),
    ({"frame_height": "1080px"}, "frame_height"),
    ({"frame_height": ""}, "frame_height"),
    ({"format": "bogus"}, "format"),
    ({"format": "urn:x-nmos:format:VIDEO"}, "format"),
    ({"source_id": "not-a-uuid"}, "source_id"),
    ({"source_id": UPPER_ID}, "source_id"),
    ({"source_id": V7_ID}, "source_id"),
    ({"tag_exists.color": "maybe"}, "tag_exists"),
    ({"tag_exists.color": ""}, "tag_exists"),
    ({"timerange": "garbage"}, "timerange"),
    ({"timerange": "[1:040000000_2:0)"}, "timerange"),
    ({"timerange": "[0:0_10:0)x"}, "timerange"),
    ({"timerange": "[+1:0_2:0)"}, "timerange"),
    ({"timerange": "[1:0_2:0_3:0)"}, "timerange"),
    ({"timerange": "[10000000000:0_10000000001:0)"}, ("timerange", "10000000000")),
    ({"codec": "h264"}, "codec"),
], ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else "")
def test_list_flows_bad_filter_400(api, params, name):
    names = (name,) if isinstance(name, str) else name
    check_error_names(api.get("/flows", params=params), 400, *names, error_type="bad_request")
    check(api.head("/flows", params=params), 400)


def test_list_flows_unknown_params_ignored(api, flow_dataset):
    ds = flow_dataset
    body = check(api.get("/flows", params=ds.params(limit=100, frobnicate="1", sort="x")),
                 200, FLOW_LIST)
    assert sorted(f["id"] for f in body) == ds.all_ids()


def test_list_flows_without_filters(api, flow_dataset):
    r = api.get("/flows")
    body = check(r, 200, FLOW_LIST)
    ids = [f["id"] for f in body]
    assert ids == sorted(ids)
    assert all(UUID_RE.match(i) for i in ids)
    assert r.headers.get("X-Paging-Limit") == "100", "default page limit is 100"
    assert 0 < len(body) <= 100


# ------------------------------------------------------------------------------------ odd but valid

def test_json_escapes_in_keys_and_values(api, new_flow):
    body = new_flow("data")
    text = json.dumps(body)[:-1] + ', "l\\u0061bel": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\/"}'
    r = api.put(f"/flows/{body['id']}", data=text.encode(),
                headers={"Content-Type": "application/json"})
    check(r, 201, "flow.json")
    assert get_flow(api, body["id"])["label"] == 'café 😀 "q" /'


def test_large_values_round_trip(api, new_flow):
    tags = {f"tag-{i:03d}": f"value {i} " + "x" * i for i in range(200)}
    body = new_flow("video", label="L" * 100_000, description="ü" * 20_000, tags=tags)
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    got = get_flow(api, body["id"])
    assert got["label"] == body["label"] and got["description"] == body["description"]
    assert got["tags"] == tags
    assert check(api.get(f"/flows/{body['id']}/tags"), 200, "tags.json") == tags


# ------------------------------------------------------------------------------------ concurrency

def _parallel(base_url, jobs, workers=16):
    """Run callables `job(session)` on `workers` threads, each with its own connection."""
    from concurrent.futures import ThreadPoolExecutor
    import threading
    local = threading.local()

    def run(job):
        if not hasattr(local, "s"):
            local.s = Api(base_url)
        return job(local.s)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, jobs))


def test_concurrent_creates_of_one_flow(api, new_flow):
    body = new_flow("video")
    statuses = _parallel(api.base_url, [lambda s: s.put(f"/flows/{body['id']}", json=body).status_code
                                        for _ in range(24)])
    assert sorted(statuses) == [201] + [204] * 23, statuses
    get_flow(api, body["id"])


def test_concurrent_flows_on_one_new_source(api):
    sid = new_id()
    bodies = [make_flow("audio", source_id=sid) for _ in range(24)]
    statuses = _parallel(api.base_url, [lambda s, b=b: s.put(f"/flows/{b['id']}", json=b).status_code
                                        for b in bodies])
    assert statuses == [201] * 24
    src = check(api.get(f"/sources/{sid}"), 200, "source.json")
    assert src["format"] == FORMATS["audio"]
    listed = check(api.get("/flows", params={"source_id": sid}), 200, FLOW_LIST)
    assert sorted(f["id"] for f in listed) == sorted(b["id"] for b in bodies)


def test_concurrent_tag_writes_are_not_lost(api, create_flow):
    fid = create_flow("video")["id"]
    statuses = _parallel(api.base_url, [lambda s, i=i: s.put(f"/flows/{fid}/tags/t{i}", json=str(i)).status_code
                                        for i in range(40)])
    assert statuses == [204] * 40
    tags = check(api.get(f"/flows/{fid}/tags"), 200, "tags.json")
    assert tags == {f"t{i}": str(i) for i in range(40)}


def test_concurrent_create_and_delete_keep_sources_consistent(api):
    sid = new_id()
    first = [make_flow("data", source_id=sid) for _ in range(12)]
    for b in first:
        check(api.put(f"/flows/{b['id']}", json=b), 201, "flow.json")
    later = [make_flow("data", source_id=sid) for _ in range(12)]
    jobs = [lambda s, b=b: s.delete(f"/flows/{b['id']}").status_code for b in first]
    jobs += [lambda s, b=b: s.put(f"/flows/{b['id']}", json=b).status_code for b in later]
    jobs = [j for pair in zip(jobs[:12], jobs[12:]) for j in pair]
    statuses = _parallel(api.base_url, jobs)
    assert sorted(statuses) == [201] * 12 + [204] * 12
    listed = check(api.get("/flows", params={"source_id": sid}), 200, FLOW_LIST)
    assert sorted(f["id"] for f in listed) == sorted(b["id"] for b in later)
    check(api.get(f"/sources/{sid}"), 200, "source.json")
    # and the source goes away with the last of them, even when deleted concurrently
    _parallel(api.base_url, [lambda s, b=b: check(s.delete(f"/flows/{b['id']}"), 204) for b in later])
    check(api.get(f"/sources/{sid}"), 404)
