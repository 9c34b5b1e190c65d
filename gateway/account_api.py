"""Accounts over the JSON API: first login / forgotten password, "log out
everywhere", recent logins, the personal data export.

Anonymous endpoints check the request's origin (no session, so no CSRF
token) and are rate limited per client (``password_reset`` bucket).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from werkzeug.wrappers import Response

from carpimko.errors import InvalidRequest, NotFound, ServiceUnavailable, Unauthorized

from . import api, messages, sessions, web

RESET_ACCEPTED = ("Si ce numéro correspond à un dossier, nous vous envoyons de quoi choisir votre "
                  "mot de passe : un lien par courriel (valable 30 minutes) si une adresse vérifiée "
                  "est enregistrée, sinon un code par courrier (valable 15 jours).")


def french_fields(fields: dict) -> dict:
    """Field errors from accounts (catalogue keys or English) in French."""
    known = messages.catalogue()["fields"]
    out = {}
    for name, texts in (fields or {}).items():
        texts = texts if isinstance(texts, list) else [str(texts)]
        out[name] = [messages.field(t) if t in known
                     else messages.translate_field_errors({name: [t]})[name][0] for t in texts]
    return out


def call_translated(ctx, method: str, *args, **kwargs):
    try:
        return ctx.backends.call("accounts", method, *args, **kwargs)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, french_fields(exc.fields)) from None


def _text(data: dict, name: str, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise InvalidRequest("invalid request", {name: [messages.field("required")]})
    return value


def request_reset(ctx, request, file_number: str) -> None:
    """Ask accounts for a reset (rate limited per client); answers nothing."""
    if ctx.limiter is not None:
        ctx.limiter.attempt("password_reset", ctx.client(request))
    call_translated(ctx, "request_password_reset", file_number, ctx.client(request))


def api_request_reset(ctx, request) -> Response:
    data = web.json_body(request)
    request_reset(ctx, request, (_text(data, "file_number") or "").strip())
    return web.json_response({"message": RESET_ACCEPTED}, 202)


def api_reset_with_link(ctx, request) -> Response:
    data = web.json_body(request)
    result = call_translated(ctx, "set_password_with_link", _text(data, "token"),
                             _text(data, "password"), _text(data, "confirmation", False),
                             bool(data.get("end_sessions", True)), ctx.client(request))
    return web.json_response(result)


def api_reset_with_code(ctx, request) -> Response:
    data = web.json_body(request)
    if ctx.limiter is not None:
        ctx.limiter.attempt("password_reset", ctx.client(request))
    file_number = _text(data, "file_number").strip()
    try:
        result = call_translated(ctx, "set_password_with_code", file_number,
                                 _text(data, "code"), _text(data, "password"),
                                 _text(data, "confirmation", False),
                                 bool(data.get("end_sessions", True)), ctx.client(request))
    finally:  # the member's sessions may have ended: this copy asks accounts again
        sessions.forget(ctx, file_number=file_number)
    return web.json_response(result)


def api_logout_everywhere(ctx, request) -> Response:
    web.check_origin(request)
    session = api.require_session(ctx, request)
    token = request.cookies.get(web.cookie_name(ctx.cookie_secure))
    try:
        ended = ctx.backends.call("accounts", "logout_everywhere", token)
    finally:
        sessions.forget(ctx, file_number=session["member"]["file_number"])
    response = web.json_response({"sessions_ended": ended})
    web.clear_session_cookie(response, ctx.cookie_secure)
    return response


def api_recent_logins(ctx, request) -> Response:
    session = api.require_session(ctx, request)
    items = ctx.backends.call("accounts", "recent_logins", session["member"]["file_number"])
    return web.json_response({"items": items})


def personal_data(ctx, file_number: str) -> dict:
    """Everything the suite exposes about the member (GDPR access right)."""
    export = {"generated_at": datetime.now(timezone.utc).isoformat(),
              "accounts": ctx.backends.call("accounts", "export_personal_data", file_number)}
    for key, service, method in (("declarations", "contributions", "list_declarations"),
                                 ("documents", "documents", "list_documents"),
                                 ("notifications", "notifications", "delivery_log")):
        try:
            export[key] = ctx.backends.call(service, method, file_number)
        except ServiceUnavailable:
            export[key] = {"unavailable": True}
    try:  # the career record (issue #6): flagged years with their comments, credited periods
        export["career"] = ctx.backends.call("contributions", "career_record", file_number)
    except NotFound:  # not a contributor (survivor's pension, annuity)
        export["career"] = None
    except ServiceUnavailable:
        export["career"] = {"unavailable": True}
    return export


def api_personal_data(ctx, request) -> Response:
    session = api.require_session(ctx, request)
    data = personal_data(ctx, session["member"]["file_number"])
    response = Response(json.dumps(data, ensure_ascii=False, indent=2, default=str),
                        mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="carpimko-mes-donnees-{session["member"]["file_number"]}.json"')
    return response


# -- profile ---------------------------------------------------------------------------
PROFILE_FIELDS = ("email", "phone", "address")


def api_profile(ctx, request) -> Response:
    session = api.require_session(ctx, request)
    return web.json_response(ctx.backends.call("accounts", "get_profile",
                                               session["member"]["file_number"]))


def api_update_profile(ctx, request) -> Response:
    session = api.require_session(ctx, request)
    data = web.json_body(request)
    result = call_translated(ctx, "update_profile", session["member"]["file_number"], data,
                             ctx.client(request))
    return web.json_response(result)


def api_confirm_email(ctx, request) -> Response:
    data = web.json_body(request)
    result = ctx.backends.call("accounts", "confirm_email", _text(data, "token"),
                               ctx.client(request))
    if result is None:
        raise InvalidRequest("dead link", {"token": [messages.field("email_link_invalid")]})
    return web.json_response(result)


# -- OpenAPI descriptions ------------------------------------------------------------------
from marshmallow import Schema, fields  # noqa: E402

from . import openapi  # noqa: E402


class ResetRequestSchema(Schema):
    file_number = fields.String(required=True, metadata={"example": "1234567"})


class ResetAcceptedSchema(Schema):
    message = fields.String()


class LinkResetSchema(Schema):
    token = fields.String(required=True)
    password = fields.String(required=True)
    confirmation = fields.String()
    end_sessions = fields.Boolean(load_default=True)


class CodeResetSchema(Schema):
    file_number = fields.String(required=True)
    code = fields.String(required=True, metadata={"example": "ABC234-DEF567-GHJ789"})
    password = fields.String(required=True)
    confirmation = fields.String()
    end_sessions = fields.Boolean(load_default=True)


class PasswordSetSchema(Schema):
    sessions_ended = fields.Integer()
    notified_by = fields.String(metadata={"enum": ["email", "post"]})


class AddressSchema(Schema):
    line1 = fields.String()
    line2 = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    city = fields.String()
    country = fields.String()


class ProfilePatchSchema(Schema):
    email = fields.String()
    phone = fields.String(allow_none=True)
    address = fields.Nested(AddressSchema)


class TokenSchema(Schema):
    token = fields.String(required=True)


_TAG = "Compte"
openapi.register("POST", "/api/v1/password-reset", tag=_TAG, auth=False, body=ResetRequestSchema,
                 summary="First login or forgotten password: send a link (email) or a code (post)",
                 responses={202: ResetAcceptedSchema}, errors=(400, 429))
openapi.register("POST", "/api/v1/password-reset/link", tag=_TAG, auth=False,
                 body=LinkResetSchema, summary="Set the password with the email link's token",
                 responses={200: PasswordSetSchema}, errors=(400,))
openapi.register("POST", "/api/v1/password-reset/code", tag=_TAG, auth=False,
                 body=CodeResetSchema, summary="Set the password with the letter's code",
                 responses={200: PasswordSetSchema}, errors=(400, 429))
openapi.register("DELETE", "/api/v1/sessions", tag=_TAG, summary="Log out everywhere",
                 responses={200: "application/json"})
openapi.register("GET", "/api/v1/me/logins", tag=_TAG, summary="The member's recent logins",
                 responses={200: "application/json"})
openapi.register("GET", "/api/v1/me/profile", tag=_TAG, summary="The member's contact details",
                 responses={200: "application/json"})
openapi.register("PATCH", "/api/v1/me/profile", tag=_TAG, body=ProfilePatchSchema,
                 summary="Change email (confirmed by link), phone, postal address", errors=(400,),
                 responses={200: "application/json"})
openapi.register("POST", "/api/v1/profile/email-confirmation", tag=_TAG, auth=False,
                 body=TokenSchema, summary="Confirm a new email with its link's token",
                 errors=(400,), responses={200: "application/json"})
openapi.register("GET", "/api/v1/me/personal-data", tag=_TAG,
                 summary="Download the personal data the suite holds (GDPR)",
                 responses={200: "application/json"})


# -- staff (advisors, administrators): JSON only ------------------------------------------
def staff_cookie(ctx) -> str:
    return "__Host-carpimko_staff" if ctx.cookie_secure else "carpimko_staff"


def _staff_token(ctx, request) -> str:
    token = request.cookies.get(staff_cookie(ctx), "")
    if not token:
        raise web.LoginRequired("staff login required", {})
    return token


def api_staff_login(ctx, request) -> Response:
    data = web.json_body(request)
    if ctx.limiter is not None:
        ctx.limiter.attempt("login", ctx.client(request))
    result = ctx.backends.call("accounts", "staff_login", _text(data, "login"),
                               _text(data, "password"), _text(data, "totp"))
    if ctx.limiter is not None:
        ctx.limiter.refund("login", ctx.client(request))
    response = web.json_response({"staff": result["staff"]})
    response.set_cookie(staff_cookie(ctx), result["token"], max_age=8 * 3600, path="/",
                        secure=ctx.cookie_secure, httponly=True, samesite="Strict")
    return response


def api_staff_logout(ctx, request) -> Response:
    web.check_origin(request)
    token = request.cookies.get(staff_cookie(ctx), "")
    if token:
        ctx.backends.call("accounts", "staff_logout", token)
    response = Response(status=204)
    response.delete_cookie(staff_cookie(ctx), path="/", secure=ctx.cookie_secure)
    return response


def _forbidden_unless_staff(call):
    """A valid staff session without the role gets 403, no session 401."""
    try:
        return call()
    except Unauthorized as exc:
        if "role" in str(exc.message):
            raise web.Forbidden("role required", {}) from None
        raise


def api_staff_member(ctx, request, file_number: str) -> Response:
    token = _staff_token(ctx, request)
    _require_staff_session(ctx, token)
    return web.json_response(_forbidden_unless_staff(lambda: ctx.backends.call(
        "accounts", "staff_member_file", token, file_number)))


def api_staff_unlock(ctx, request, file_number: str) -> Response:
    web.check_origin(request)
    token = _staff_token(ctx, request)
    _require_staff_session(ctx, token)
    was_locked = _forbidden_unless_staff(lambda: ctx.backends.call(
        "accounts", "staff_unlock", token, file_number))
    return web.json_response({"file_number": file_number, "was_locked": was_locked})


def api_staff_create(ctx, request) -> Response:
    token = _staff_token(ctx, request)
    _require_staff_session(ctx, token)
    data = web.json_body(request)
    try:
        result = _forbidden_unless_staff(lambda: ctx.backends.call(
            "accounts", "staff_create", token, _text(data, "login"), _text(data, "display_name"),
            _text(data, "role"), _text(data, "password")))
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, french_fields(exc.fields)) from None
    return web.json_response(result, 201)


def _require_staff_session(ctx, token: str) -> dict:
    staff = ctx.backends.call("accounts", "resolve_staff_session", token)
    if not staff:
        raise web.LoginRequired("staff login required", {})
    return staff


# staff endpoints authenticate with the staff cookie, not the member's session
openapi.register("POST", "/api/v1/staff/session", tag="Agents", auth=False,
                 summary="Staff login: password + TOTP (sets the staff cookie)",
                 errors=(400, 401, 429), responses={200: "application/json"})
openapi.register("DELETE", "/api/v1/staff/session", tag="Agents", auth=False,
                 summary="Staff logout", responses={204: None})
openapi.register("GET", "/api/v1/staff/members/<file_number>", tag="Agents", auth=False,
                 summary="A member's file, for an advisor (audited)", errors=(400, 401, 403, 404),
                 responses={200: "application/json"})
openapi.register("POST", "/api/v1/staff/members/<file_number>/unlock", tag="Agents", auth=False,
                 summary="Unlock a member's account (advisor)", errors=(400, 401, 403),
                 responses={200: "application/json"})
openapi.register("POST", "/api/v1/staff/users", tag="Agents", auth=False,
                 summary="Create an advisor or administrator (admin)",
                 errors=(400, 401, 403, 409), responses={201: "application/json"})
