"""Property-based checks of the API against its own OpenAPI schema (schemathesis): every check
schemathesis has (no server error, status codes, headers and bodies as documented, invalid data
rejected, unsupported methods refused, ...), whatever the inputs.

One check is left out: ``positive_data_acceptance`` (a schema-valid request must be accepted).
Some of the API's rules join several fields (west < east, year_to >= year_from, a WMS REQUEST
among its other parameters), which JSON Schema cannot state; such requests are rightly refused
with a 4xx that says why."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS

from ecointegrity.web import ApiSettings, create_app


@pytest.fixture(scope="module")
def schema(demo_outputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    app = create_app(demo_outputs / "products", f"sqlite:///{root / 's.sqlite'}", root / "animations",
                     ApiSettings(max_animation_px=128, max_frames=5, max_slice_pixels=250_000, secret="s"))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors_and_schema_conformance(schema, report):
    checks = [c for c in CHECKS.get_all() if c.__name__ != "positive_data_acceptance"]
    assert len(checks) >= 10 and any(c.__name__ == "not_a_server_error" for c in checks)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            # a schema-valid request may still be refused (an unknown year, too many frames):
            # what must never happen is a 5xx or an answer the schema does not describe
            case.call_and_validate(checks=checks)

        check()
        checked.append(operation.label)
    report(f"schemathesis: {len(checked)} operations x 8 generated requests, {len(checks)} checks "
           "(all but positive_data_acceptance): no 5xx, no violation")
    assert len(checked) >= 10
