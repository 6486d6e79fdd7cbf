"""Property-based checks of the API against its own OpenAPI schema (schemathesis): no server
error (5xx) and no response that violates the schema, whatever the inputs."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from ecointegrity.web import ApiSettings, create_app


@pytest.fixture(scope="module")
def schema(demo_outputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    app = create_app(demo_outputs / "products", f"sqlite:///{root / 's.sqlite'}", root / "animations",
                     ApiSettings(max_animation_px=128, max_frames=5, max_slice_pixels=250_000, secret="s"))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors_and_schema_conformance(schema, report):
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            # a schema-valid request may still be refused (an unknown year, too many frames):
            # what must never happen is a 5xx or an answer the schema does not describe
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, content_type_conformance])

        check()
        checked.append(operation.label)
    report(f"schemathesis: {len(checked)} operations x 8 generated requests, no 5xx, no schema violation")
    assert len(checked) >= 10
