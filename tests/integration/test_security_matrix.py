"""The security matrix, generated from the OpenAPI document so that a new
endpoint is covered the day it is registered: without a session (401), with a
member session on staff endpoints (refused), with another member's ids (404),
oversized bodies (413)."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests.integration.test_gateway import full_suite, gateway, login  # noqa: F401 - fixtures
from tests.support.waiting import wait_for

LOGIN_ENDPOINTS = {("POST", "/api/v1/session"), ("POST", "/api/v1/staff/session")}


def operations(base):
    spec = requests.get(f"{base}/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def fill(path: str, ids: dict | None = None) -> str:
    def value(match):
        name = match.group(1)
        if ids and name in ids:
            return ids[name]
        if name.endswith("_id"):
            return str(uuid.uuid4())
        if name == "year":
            return "2026"
        if name == "file_number":
            return "1234567"
        return "x"
    return re.sub(r"\{(\w+)\}", value, path)


def call(session, method, url, **kwargs):
    if method in ("POST", "PUT", "PATCH"):
        kwargs.setdefault("json", {})
    return session.request(method, url, timeout=15, **kwargs)


def test_every_protected_endpoint_refuses_a_request_without_session(full_suite):  # noqa: F811
    checked = []
    for method, path, op in operations(full_suite):
        if "401" not in op["responses"] or (method, path) in LOGIN_ENDPOINTS:
            continue
        response = call(requests.Session(), method, f"{full_suite}{fill(path)}")
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.json()["error"]["code"] in ("login_required", "unauthorized",
                                                    "staff_login_required")
        checked.append(path)
    assert len(checked) >= 15


def test_a_member_session_opens_no_staff_endpoint(full_suite):  # noqa: F811
    member = login(full_suite)
    checked = 0
    for method, path, op in operations(full_suite):
        if not path.startswith("/api/v1/staff/") or (method, path) in LOGIN_ENDPOINTS:
            continue
        if method == "DELETE" and path.endswith("/session"):
            continue
        response = call(member, method, f"{full_suite}{fill(path)}")
        assert response.status_code in (401, 403), (method, path, response.status_code)
        checked += 1
    assert checked >= 3


def test_another_members_ids_are_not_found(full_suite):  # noqa: F811
    owner = login(full_suite, "1234567")
    r = owner.post(f"{full_suite}/api/v1/declarations",
                   json={"year": 2026, "professional_income": "40000", "conventioned_income": None})
    declaration_id = r.json()["id"]
    done = wait_for(lambda: (lambda d: d if d["complete"] else None)(
        owner.get(f"{full_suite}/api/v1/declarations/{declaration_id}").json()))
    ids = {"declaration_id": declaration_id,
           "document_id": next(s["document_id"] for s in done["steps"] if s.get("document_id"))}
    other = login(full_suite, "7654321")
    checked = 0
    for method, path, op in operations(full_suite):
        names = set(re.findall(r"\{(\w+)\}", path))
        if not names & set(ids) or path.startswith("/api/v1/staff/"):
            continue
        url = f"{full_suite}{fill(path, ids)}"
        assert call(owner, method, url).status_code < 400, (method, path)
        response = call(other, method, url)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "not_found"
        checked += 1
    assert checked >= 2


def test_every_body_is_bounded(full_suite):  # noqa: F811
    member = login(full_suite)
    checked = 0
    for method, path, op in operations(full_suite):
        if "413" not in op["responses"]:
            continue
        if path.startswith("/api/v1/staff/") and (method, path) not in LOGIN_ENDPOINTS:
            continue  # a member is refused there before the body is read (see above)
        response = member.request(method, f"{full_suite}{fill(path)}", data="x" * 40000,
                                  headers={"Content-Type": "application/json"}, timeout=15)
        assert response.status_code == 413, (method, path, response.status_code)
        checked += 1
    assert checked >= 8
