"""Fixtures for the black-box TAMS API tests.

A session-scoped server (fresh data dir, basic user test:secret-pass, token test-token-1) serves
most tests; `tams_server` starts extra servers with special configuration for one test.
Binary: $TAMS_BINARY (default <repo>/build/tams). Schemas: $TAMS_SPEC_DIR or
../shared/tams-spec/api/schemas.
"""
from __future__ import annotations

import pytest

from tams_helpers import (
    Api, FIVE_XX, FlowDataset, ServerFailed, TamsServer, check, make_flow, new_id, unique,
    validate,
)


@pytest.fixture(autouse=True)
def _no_5xx():
    """No request in any test may get a 5xx answer."""
    FIVE_XX.clear()
    yield
    assert not FIVE_XX, "server answered 5xx:\n" + "\n".join(FIVE_XX)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = TamsServer(tmp_path_factory.mktemp("tams-main"))
    try:
        srv.start()
    except ServerFailed as e:
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def base_url(server):
    return server.base_url


@pytest.fixture(scope="session")
def api(base_url):
    """Session with basic auth test:secret-pass."""
    s = Api(base_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def anon(base_url):
    """Session without credentials."""
    s = Api(base_url, auth=None)
    yield s
    s.close()


@pytest.fixture
def tams_server(tmp_path):
    """Factory: tams_server(env={...}, args=[...], credentials=True, data_dir=None, wait=True)
    starts a separate server for this test; all are stopped at teardown."""
    started = []

    def start(env=None, args=(), credentials=True, data_dir=None, wait=True, port=None,
              default_args=True, name=None):
        workdir = tmp_path / (name or f"srv{len(started)}")
        srv = TamsServer(workdir, data_dir=data_dir, env=env, args=args,
                         credentials=credentials, port=port, default_args=default_args)
        started.append(srv)
        try:
            srv.start(wait=wait)
        except ServerFailed as e:
            pytest.fail(str(e), pytrace=False)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def new_flow():
    """Factory for valid Flow bodies: new_flow("video"|"audio"|"data"|"image"|"multi", **fields)."""
    return make_flow


@pytest.fixture
def create_flow(api):
    """PUT a new Flow on the session server (expects 201) and return the request body."""
    def create(format="video", session=None, **fields):
        body = make_flow(format, **fields)
        r = (session or api).put(f"/flows/{body['id']}", json=body)
        check(r, 201, "flow.json")
        return body
    return create


@pytest.fixture
def tag():
    """A unique (name, value) tag pair to isolate listings between tests."""
    return unique("grp_"), unique("v")


@pytest.fixture
def fresh_id():
    return new_id


@pytest.fixture(scope="session")
def flow_dataset(api):
    """Eleven Flows of all formats under one unique group tag (see tams_helpers.FlowDataset)."""
    return FlowDataset(api)


@pytest.fixture(scope="session")
def validate_schema():
    """validate_schema(body, "flow.json") -> raises AssertionError listing every violation.
    The schema may also be an inline schema that $refs the spec files, e.g. tams_helpers.FLOW_LIST."""
    return validate


@pytest.fixture(scope="session")
def check_response():
    """tams_helpers.check(resp, status, schema=None, error_type=None) as a fixture."""
    return check
