"""Property-based fuzzing of the JSON API against its own OpenAPI document
(schemathesis, generated from ``/openapi.json`` of the running suite): no 5xx,
and every response (status, content type, headers, body) conforms to the document."""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from ops.demo_data import DEMO_PASSWORD

pytestmark = pytest.mark.e2e

LOGOUTS = {("DELETE", "/api/v1/session"), ("DELETE", "/api/v1/sessions"),
           ("DELETE", "/api/v1/staff/session")}


@pytest.fixture(scope="module")
def api_schema(suite):
    document = requests.get(f"{suite.url}/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(document)


@pytest.fixture(scope="module")
def member(suite):
    session = requests.Session()
    r = session.post(f"{suite.url}/api/v1/session",
                     json={"file_number": "1234567", "password": DEMO_PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return session


def test_api_conforms_to_its_openapi_document(api_schema, suite, member):
    """Every documented operation, with generated inputs (schemathesis' own pytest
    loader does not support this pytest, so the operations are driven here)."""
    from hypothesis import given

    token = member.cookies["carpimko_session"]  # local http: no __Host- prefix

    @api_schema.auth()
    class SessionCookie:  # schemathesis knows the credentials, and checks they are enforced
        def get(self, case, context):
            return token

        def set(self, case, data, context):
            case.cookies = {**(case.cookies or {}), "carpimko_session": data}

    client = requests.Session()  # no cookie jar of its own: the case carries the cookie
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    tried, failures = [], []
    for operation in operations:
        if (operation.method.upper(), operation.path) in LOGOUTS:
            continue  # it would end the fuzzing session: tested on its own

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            # the schema cannot say which years have contribution rules, nor that the
            # conventioned income may not exceed the income: such data gets a 400 with
            # per-field messages, which the other checks still verify
            case.call_and_validate(base_url=suite.url, session=client, timeout=15,
                                   excluded_checks=[schemathesis.checks.positive_data_acceptance])

        label = f"{operation.method.upper()} {operation.path}"
        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - every operation is tried, failures listed
            failures.append(f"{label}: {exc}")
        tried.append(label)
    assert "POST /api/v1/declarations" in tried and "GET /api/v1/documents" in tried
    assert not failures, "\n\n".join(failures)
