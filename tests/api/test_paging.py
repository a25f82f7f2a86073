"""Paging of GET|HEAD /flows and /sources (ADR 0010): limit, page, Link, X-Paging-* headers."""
from urllib.parse import parse_qsl, urlsplit

import pytest

from tams_helpers import (
    FLOW_FILTER_CASES, FLOW_LIST, SOURCE_LIST, TOKEN, Api, check, check_error_names, link_next,
    make_flow, resolve_case, unique, walk_pages,
)


class Bunch:
    """25 flows (each with its own source) under one unique flow tag and one unique source tag."""

    def __init__(self, api, n=25):
        self.tag = unique("pg_")
        self.flows = []
        for _ in range(n):
            body = make_flow("data", tags={self.tag: "1"})
            check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
            check(api.put(f"/sources/{body['source_id']}/tags/{self.tag}", json="1"), 204)
            self.flows.append(body)
        self.flow_ids = sorted(b["id"] for b in self.flows)
        self.source_ids = sorted(b["source_id"] for b in self.flows)


@pytest.fixture(scope="module")
def bunch(api):
    return Bunch(api)


@pytest.mark.parametrize("kind", ["flows", "sources"])
def test_follow_link_through_all_pages(api, bunch, kind):
    params = {f"tag.{bunch.tag}": "1", "limit": 7}
    schema = FLOW_LIST if kind == "flows" else SOURCE_LIST
    items, responses = walk_pages(api, f"/{kind}", params, schema=schema)
    ids = [i["id"] for i in items]
    expected = bunch.flow_ids if kind == "flows" else bunch.source_ids
    assert ids == expected, "every item exactly once, in ascending id order"
    assert [len(r.json()) for r in responses] == [7, 7, 7, 4]
    for r in responses:
        assert r.headers["X-Paging-Limit"] == "7"
    for r in responses[:-1]:
        assert r.headers.get("X-Paging-NextKey")
        assert link_next(r)
    assert "X-Paging-NextKey" not in responses[-1].headers
    assert "Link" not in responses[-1].headers or link_next(responses[-1]) is None


@pytest.mark.parametrize("kind", ["flows", "sources"])
def test_page_with_next_key(api, bunch, kind):
    params = {f"tag.{bunch.tag}": "1", "limit": 10}
    seen, page, pages = [], None, 0
    while True:
        q = dict(params, **({"page": page} if page else {}))
        r = api.get(f"/{kind}", params=q)
        body = check(r, 200, FLOW_LIST if kind == "flows" else SOURCE_LIST)
        seen += [i["id"] for i in body]
        pages += 1
        page = r.headers.get("X-Paging-NextKey")
        if not page:
            break
        assert pages < 10
    assert pages == 3
    assert seen == (bunch.flow_ids if kind == "flows" else bunch.source_ids)


@pytest.mark.parametrize("limit,pages", [(5, 5), (25, 1), (1, 25), (24, 2), (100, 1)])
def test_exact_page_counts(api, bunch, limit, pages):
    """No Link/NextKey when nothing follows, even when the last page is exactly full."""
    items, responses = walk_pages(api, "/flows", {f"tag.{bunch.tag}": "1", "limit": limit},
                                  check_head=False)
    assert [i["id"] for i in items] == bunch.flow_ids
    assert len(responses) == pages
    assert all(r.json() for r in responses), "no empty trailing page"


def test_link_keeps_access_token(base_url, bunch):
    s = Api(base_url, auth=None)
    params = {"access_token": TOKEN, f"tag.{bunch.tag}": "1", "limit": 10}
    items, responses = walk_pages(s, "/flows", params)
    assert [i["id"] for i in items] == bunch.flow_ids
    assert len(responses) == 3


def test_paging_stable_under_inserts(api, bunch):
    tag = unique("ins_")
    initial = []
    for _ in range(12):
        b = make_flow("audio", tags={tag: "1"})
        check(api.put(f"/flows/{b['id']}", json=b), 201, "flow.json")
        initial.append(b["id"])
    r = api.get("/flows", params={f"tag.{tag}": "1", "limit": 5})
    seen = [f["id"] for f in check(r, 200, FLOW_LIST)]
    nxt = link_next(r)
    for _ in range(6):   # concurrent inserts between pages
        b = make_flow("audio", tags={tag: "1"})
        check(api.put(f"/flows/{b['id']}", json=b), 201, "flow.json")
    while nxt:
        r = api.get(nxt)
        seen += [f["id"] for f in check(r, 200, FLOW_LIST)]
        nxt = link_next(r)
    assert len(seen) == len(set(seen)), "no flow twice"
    assert set(initial) <= set(seen), "no pre-existing flow skipped"
    assert seen == sorted(seen)


def test_default_and_maximum_limit(api, bunch):
    r = api.get("/flows", params={f"tag.{bunch.tag}": "1"})
    check(r, 200, FLOW_LIST)
    assert r.headers["X-Paging-Limit"] == "100"
    assert "X-Paging-NextKey" not in r.headers
    r = api.get("/flows", params={f"tag.{bunch.tag}": "1", "limit": 2147483647})
    check(r, 200, FLOW_LIST)
    assert r.headers["X-Paging-Limit"] == "1000", "limit above the maximum is clamped"
    r = api.get("/sources", params={f"tag.{bunch.tag}": "1", "limit": 5000})
    check(r, 200, SOURCE_LIST)
    assert r.headers["X-Paging-Limit"] == "1000"


def test_configured_limits(tams_server):
    srv = tams_server(env={"TAMS_PAGE_LIMIT_MAX": "5", "TAMS_PAGE_LIMIT_DEFAULT": "3"})
    api = srv.api()
    tag = unique("cfg_")
    ids, sids = [], []
    for _ in range(8):
        b = make_flow("video", tags={tag: "1"})
        check(api.put(f"/flows/{b['id']}", json=b), 201, "flow.json")
        ids.append(b["id"])
        sids.append(b["source_id"])
    for kind, expected, schema in (("flows", sorted(ids), FLOW_LIST),
                                   ("sources", sorted(sids), SOURCE_LIST)):
        r = api.get(f"/{kind}", params={"limit": 50})
        assert len(check(r, 200, schema)) == 5
        assert r.headers["X-Paging-Limit"] == "5"
        assert link_next(r)
        r = api.get(f"/{kind}")
        assert len(check(r, 200, schema)) == 3
        assert r.headers["X-Paging-Limit"] == "3"
        r = api.get(f"/{kind}", params={"limit": 4})
        assert len(check(r, 200, schema)) == 4
        assert r.headers["X-Paging-Limit"] == "4"
        items, responses = walk_pages(api, f"/{kind}", {"limit": 99}, schema=schema)
        assert [i["id"] for i in items] == expected
        assert [len(x.json()) for x in responses] == [5, 3]
        assert all(x.headers["X-Paging-Limit"] == "5" for x in responses)
        for x in responses[1:]:
            assert dict(parse_qsl(urlsplit(x.url).query)).get("limit") == "99", \
                "the Link keeps the client's limit parameter"


BAD_LIMITS = ["0", "-1", "abc", "1.5", "99999999999999999999", "2147483648", "", "1e2", "0x10",
              "7abc", "-0"]


@pytest.mark.parametrize("kind", ["flows", "sources"])
@pytest.mark.parametrize("limit", BAD_LIMITS, ids=[f"limit={x}" for x in BAD_LIMITS])
def test_bad_limit_400(api, kind, limit):
    check_error_names(api.get(f"/{kind}", params={"limit": limit}), 400, "limit",
                      error_type="bad_request")
    check(api.head(f"/{kind}", params={"limit": limit}), 400)


BAD_PAGES = ["garbage!!", "not a cursor", "AAAA", "\u00ff\u00fe", "x" * 300, "{}", "-1"]


@pytest.mark.parametrize("kind", ["flows", "sources"])
@pytest.mark.parametrize("page", BAD_PAGES, ids=range(len(BAD_PAGES)))
def test_bad_page_cursor_400(api, kind, page):
    check_error_names(api.get(f"/{kind}", params={"page": page}), 400, "page",
                      error_type="bad_request")
    check(api.head(f"/{kind}", params={"page": page}), 400)


def test_tampered_cursor_400(api, bunch):
    r = api.get("/flows", params={f"tag.{bunch.tag}": "1", "limit": 3})
    key = r.headers["X-Paging-NextKey"]
    for bad in (key[:-2], key + "!", key[::-1] if key[::-1] != key else key + "x"):
        r = api.get("/flows", params={f"tag.{bunch.tag}": "1", "limit": 3, "page": bad})
        check(r, (200, 400))  # opaque: a mutation may still decode; it must never be a 5xx
        if r.status_code == 200:
            check(r, 200, FLOW_LIST)


@pytest.mark.parametrize("case,extra,expected", FLOW_FILTER_CASES,
                         ids=[c[0] for c in FLOW_FILTER_CASES])
def test_paging_with_every_filter(api, flow_dataset, case, extra, expected):
    ds = flow_dataset
    params = ds.params(limit=2, **resolve_case(ds, extra))
    items, responses = walk_pages(api, "/flows", params)
    ids = [i["id"] for i in items]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert ds.names(ids) == sorted(expected.split())
    assert len(responses) == max(1, -(-len(ids) // 2))
