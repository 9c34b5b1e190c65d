"""JSON API handlers (``/api/v1/...``): validate, call the services, answer.

Each handler takes the gateway context (``ctx``: backends, settings) and the
request; errors are raised and turned into the one error format by
``web.api_errors``.
"""
from __future__ import annotations

import uuid

import eventlet

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from carpimko.errors import InvalidRequest, Unauthorized

from . import openapi, progress, sessions, web
from .schemas import (DeclarationAcceptedSchema, DeclarationListSchema, DeclarationProgressSchema,
                      DeclarationSchema, DocumentListSchema, HealthSchema, LoginSchema,
                      SessionSchema)

_IDEMPOTENCY_NS = uuid.UUID("0e4b6c52-8f0d-4f3c-b2a1-5d9e3c7a1f20")


def _load(schema, data: dict) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidRequest("invalid request", exc.messages) from None


def require_session(ctx, request) -> dict:
    """The member's live session (kept by this gateway copy a few seconds:
    ``sessions.py``), or ``LoginRequired``."""
    session = sessions.resolve(ctx, sessions.request_token(ctx, request))
    if not session:
        raise web.LoginRequired("login required", {})
    return session


def rate_limited_login(ctx, request, file_number: str, password: str) -> dict:
    """Log in through accounts, counting failures per client (429 past the limit),
    and end any session the browser already had (no session fixation: the
    session token is always a new one, the old one no longer works)."""
    client = ctx.client(request)
    if ctx.limiter is not None:
        ctx.limiter.attempt("login", client)
    result = ctx.backends.call("accounts", "login", file_number, password)
    if ctx.limiter is not None:
        ctx.limiter.refund("login", client)
    previous = request.cookies.get(web.cookie_name(ctx.cookie_secure))
    if previous:
        end_session(ctx, previous)
    return result


def end_session(ctx, token: str, method: str = "logout"):
    """Log the token's session out in accounts (``method``: ``logout`` or
    ``franceconnect_logout``); this gateway copy forgets it before answering,
    whatever the answer (the other copies are told by accounts)."""
    try:
        return ctx.backends.call("accounts", method, token)
    finally:
        sessions.forget(ctx, token=token)


def login(ctx, request) -> Response:
    data = _load(LoginSchema(), web.json_body(request))
    result = rate_limited_login(ctx, request, data["file_number"], data["password"])
    response = web.json_response({"member": result["member"]})
    web.set_session_cookie(response, result["token"], ctx.cookie_secure, ctx.session_seconds)
    return response


def logout(ctx, request) -> Response:
    web.check_origin(request)
    token = request.cookies.get(web.cookie_name(ctx.cookie_secure))
    if token:
        end_session(ctx, token)
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
    pool = eventlet.GreenPool(2)  # documents and notifications answer side by side
    pending_documents = pool.spawn(ctx.backends.call, "documents", "documents_for_correlation",
                                   file_number, declaration_id)
    pending_notifications = pool.spawn(ctx.backends.call, "notifications", "for_correlation",
                                       file_number, declaration_id)
    try:
        declaration = ctx.backends.call("contributions", "get_declaration", file_number,
                                        declaration_id)
    finally:
        documents = pending_documents.wait()
        notifications = pending_notifications.wait()
    return progress.with_steps(declaration, documents, notifications)


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
    """Kept for callers of the old name: downloads live in ``documents_pages``
    (always an attachment, RFC 6266 filename, nosniff, no-store)."""
    from . import documents_pages
    return documents_pages.download(ctx, request, document_id)


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


def openapi_document(ctx, request) -> Response:
    response = web.json_response(openapi.document(web.cookie_name(ctx.cookie_secure)))
    response.headers["Cache-Control"] = "no-cache"
    return response


# -- the OpenAPI description of the endpoints above (see gateway/openapi.py) ---------------
openapi.register("POST", "/api/v1/session", summary="Log in (sets the session cookie)",
                 tag="Session", body=LoginSchema, responses={200: SessionSchema},
                 errors=(401, 429), auth=False,
                 description="Failed attempts are limited per client (429 with Retry-After).")
openapi.register("DELETE", "/api/v1/session", summary="Log out (ends the session server-side)",
                 tag="Session", responses={204: None}, errors=(403,), auth=False)
openapi.register("GET", "/api/v1/me", summary="The logged-in member", tag="Session",
                 responses={200: SessionSchema})
openapi.register("POST", "/api/v1/declarations", summary="Declare a year's income",
                 tag="Déclarations", body=DeclarationSchema,
                 responses={202: DeclarationAcceptedSchema},
                 description="Amounts are decimal strings. An `Idempotency-Key` header makes "
                             "retries safe. Follow `status_url` for the progress.")
openapi.register("GET", "/api/v1/declarations", summary="The member's declarations",
                 tag="Déclarations", responses={200: DeclarationListSchema})
openapi.register("GET", "/api/v1/declarations/<declaration_id>",
                 summary="A declaration, its assessment and its progress through the chain",
                 tag="Déclarations", responses={200: DeclarationProgressSchema}, errors=(404,))
openapi.register("GET", "/api/v1/documents", summary="The member's documents", tag="Documents",
                 responses={200: DocumentListSchema})
openapi.register("GET", "/api/v1/documents/<document_id>/content",
                 summary="A document's PDF (its owner only)", tag="Documents",
                 responses={200: "application/pdf"}, errors=(404,))
openapi.register("GET", "/health", summary="Each service up or down", tag="Exploitation",
                 responses={200: HealthSchema, 503: HealthSchema}, auth=False,
                 description="503 (same body) when a service is down.")

__all__ = ["Unauthorized"]
