"""JSON API handlers (``/api/v1/...``): validate, call the services, answer.

Each handler takes the gateway context (``ctx``: backends, settings) and the
request; errors are raised and turned into the one error format by
``web.api_errors``.
"""
from __future__ import annotations

import base64
import uuid

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from carpimko.errors import InvalidRequest, Unauthorized

from . import progress, web
from .schemas import DeclarationSchema, LoginSchema

_IDEMPOTENCY_NS = uuid.UUID("0e4b6c52-8f0d-4f3c-b2a1-5d9e3c7a1f20")


def _load(schema, data: dict) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidRequest("invalid request", exc.messages) from None


def require_session(ctx, request) -> dict:
    token = request.cookies.get(web.cookie_name(ctx.cookie_secure))
    session = ctx.backends.call("accounts", "resolve_session", token) if token else None
    if not session:
        raise web.LoginRequired("login required", {})
    return session


def login(ctx, request) -> Response:
    data = _load(LoginSchema(), web.json_body(request))
    result = ctx.backends.call("accounts", "login", data["file_number"], data["password"])
    response = web.json_response({"member": result["member"]})
    web.set_session_cookie(response, result["token"], ctx.cookie_secure, ctx.session_seconds)
    return response


def logout(ctx, request) -> Response:
    web.check_origin(request)
    token = request.cookies.get(web.cookie_name(ctx.cookie_secure))
    if token:
        ctx.backends.call("accounts", "logout", token)
    response = Response(status=204)
    web.clear_session_cookie(response, ctx.cookie_secure)
    return response


def me(ctx, request) -> Response:
    return web.json_response({"member": require_session(ctx, request)["member"]})


def declare(ctx, request) -> Response:
    session = require_session(ctx, request)
    data = _load(DeclarationSchema(), web.json_body(request))
    file_number = session["member"]["file_number"]
    key = request.headers.get("Idempotency-Key")
    declaration_id = str(uuid.uuid5(_IDEMPOTENCY_NS, f"{file_number}:{key}")) if key else None
    view = ctx.backends.call("contributions", "declare_income", file_number, data["year"],
                             data["professional_income"], data["conventioned_income"],
                             declaration_id=declaration_id)
    location = f"/api/v1/declarations/{view['id']}"
    return web.json_response({"id": view["id"], "status_url": location}, 202,
                             headers={"Location": location})


def declaration_with_progress(ctx, file_number: str, declaration_id: str) -> dict:
    declaration = ctx.backends.call("contributions", "get_declaration", file_number,
                                    declaration_id)
    documents = ctx.backends.call("documents", "documents_for_correlation", file_number,
                                  declaration_id)
    notifications = ctx.backends.call("notifications", "for_correlation", file_number,
                                      declaration_id)
    steps = progress.declaration_progress(declaration, documents, notifications)
    return {**declaration, "steps": steps, "complete": progress.is_complete(steps)}


def get_declaration(ctx, request, declaration_id: str) -> Response:
    session = require_session(ctx, request)
    _check_uuid(declaration_id)
    return web.json_response(declaration_with_progress(
        ctx, session["member"]["file_number"], declaration_id))


def list_declarations(ctx, request) -> Response:
    session = require_session(ctx, request)
    items = ctx.backends.call("contributions", "list_declarations",
                              session["member"]["file_number"])
    return web.json_response({"items": items})


def list_documents(ctx, request) -> Response:
    session = require_session(ctx, request)
    items = ctx.backends.call("documents", "list_documents", session["member"]["file_number"])
    for item in items:
        item["content_url"] = f"/api/v1/documents/{item['id']}/content"
    return web.json_response({"items": items})


def document_content(ctx, request, document_id: str, disposition: str = "attachment") -> Response:
    session = require_session(ctx, request)
    _check_uuid(document_id)
    doc = ctx.backends.call("documents", "get_content", session["member"]["file_number"],
                            document_id)
    filename = f"{doc['kind']}-{doc.get('year') or ''}-{doc['id'][:8]}.pdf".replace("--", "-")
    return Response(base64.b64decode(doc["content_base64"]), mimetype=doc["media_type"],
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"',
                             "X-Content-SHA256": doc["sha256"]})


def health(ctx, request) -> Response:
    services = ctx.backends.health()
    services["gateway"] = "up"
    up = all(state == "up" for state in services.values())
    return web.json_response({"status": "up" if up else "degraded", "services": services},
                             200 if up else 503)


def _check_uuid(value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        from carpimko.errors import NotFound
        raise NotFound("unknown id", {}) from None


__all__ = ["Unauthorized"]
