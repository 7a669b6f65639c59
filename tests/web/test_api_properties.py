"""Property-based run of the intake API from its own OpenAPI schema (schemathesis builds the
Hypothesis strategies): whatever the body or path, valid by the schema or not, the API never
answers 5xx. Bounded (MAX_EXAMPLES per operation and mode) so the suite stays fast."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.web.conftest import WebStack

MAX_EXAMPLES = 50


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_intake_api_never_answers_5xx(web_stack: WebStack, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{web_stack.url}/openapi.json")
    operations = [r.ok() for r in schema.include(path_regex="^/api/").get_all_operations()]  # type: ignore[union-attr]
    assert {op.path for op in operations} == {
        "/api/v1/visa-approvals",
        "/api/v1/cases/{dossier}",
        "/api/v1/cases/{dossier}/reopen",
    }
    headers: dict[str, str] = {}
    for operation in operations:
        # Each operation with the token whose scope it needs, so the handler itself is run.
        token = web_stack.read_token if operation.method.upper() == "GET" else web_stack.token
        headers["Authorization"] = f"Bearer {token}"

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def never_5xx(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            assert response.status_code < 500, (case.method, case.path, response.text[:500])

        never_5xx()
