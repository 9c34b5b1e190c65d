"""Secure messaging, JSON API (members under ``/api/v1/messages``, advisors
under ``/api/v1/staff/messages``) and the helpers the pages share.

Members reach their own threads only: the file number always comes from the
session, and the messaging service answers 404 for anyone else's thread (the
same answer as an unknown id). Advisors authenticate with the staff cookie;
the staff member's login and role (resolved by accounts) go to messaging,
which checks the role's permission and audits the access: no staff session
401, a role without the permission 403. The JSON API carries text only (the
16 KiB JSON limit); attachments are sent through the pages' multipart forms.
"""
from __future__ import annotations

import base64
import uuid

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from werkzeug.wrappers import Response

from carpimko.errors import InvalidRequest, NotFound, Unauthorized

from . import account_api, api, messages, openapi, web
from .schemas import _Out
from .documents_pages import content_disposition

CATEGORIES = ["cotisations", "retraite", "prevoyance", "compte", "autre"]
STATUSES = ["open", "awaiting_member", "answered", "closed"]


# -- errors ----------------------------------------------------------------------------------
def wording(code: str) -> str:
    """French wording of a messaging field error code (``[messaging]`` in fr.toml)."""
    table = messages.catalogue().get("messaging", {})
    if code in table:
        return table[code]
    fields_table = messages.catalogue()["fields"]
    return fields_table.get(code, code)


def translated(exc: InvalidRequest) -> InvalidRequest:
    """The service's field codes in French; attachment problems already are."""
    return InvalidRequest(exc.message, {name: [wording(c) for c in codes]
                                        for name, codes in exc.fields.items()})


def call(ctx, method: str, *args, **kwargs):
    try:
        return ctx.backends.call("messaging", method, *args, **kwargs)
    except InvalidRequest as exc:
        raise translated(exc) from None


def staff_call(ctx, method: str, actor: dict, *args, **kwargs):
    """A staff RPC: a role without the permission becomes 403."""
    try:
        return call(ctx, method, actor, *args, **kwargs)
    except Unauthorized:
        raise web.Forbidden("role not allowed", {}) from None


def check_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound("unknown id", {}) from None


def attachment_response(content: dict) -> Response:
    return Response(base64.b64decode(content["content_base64"]), mimetype=content["media_type"],
                    headers={"Content-Disposition": content_disposition(content["filename"]),
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def actor_of(staff: dict) -> dict:
    return {"login": staff["staff"]["login"], "role": staff["staff"]["role"]}


def staff_actor(ctx, request) -> dict:
    token = request.cookies.get(account_api.staff_cookie(ctx), "")
    if not token:
        raise web.LoginRequired("staff login required", {})
    staff = ctx.backends.call("accounts", "resolve_staff_session", token)
    if not staff:
        raise web.LoginRequired("staff login required", {})
    return actor_of(staff)


# -- schemas ----------------------------------------------------------------------------------
class _In(Schema):
    class Meta:
        unknown = RAISE


_BODY = validate.Length(min=1, max=8000, error="Le message doit faire de 1 à 8 000 caractères.")


class NewThreadSchema(_In):
    category = fields.String(required=True, validate=validate.OneOf(
        CATEGORIES, error="Thème inconnu : cotisations, retraite, prevoyance, compte ou autre."))
    subject = fields.String(required=True, validate=validate.Length(
        min=1, max=150, error="L'objet doit faire de 1 à 150 caractères."))
    body = fields.String(required=True, validate=_BODY)
    message_id = fields.UUID(load_default=None, metadata={
        "description": "chosen by the client: resending the same id adds nothing"})


class NewMessageSchema(_In):
    body = fields.String(required=True, validate=_BODY)
    message_id = fields.UUID(load_default=None)


class StaffReplySchema(NewMessageSchema):
    await_member = fields.Boolean(load_default=False, metadata={
        "description": "the fund asks the member something (status awaiting_member)"})


class AssignSchema(_In):
    login = fields.String(required=True, allow_none=True, validate=validate.Length(min=3, max=64))


class CloseSchema(_In):
    outcome = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf(["corrected", "confirmed"],
                                                    error="corrected ou confirmed."), metadata={
                                "description": "required for a thread opened by a career flag"})


class AttachmentOut(_Out):
    id = fields.UUID()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()


class MessageOut(_Out):
    id = fields.UUID()
    author_kind = fields.String(metadata={"enum": ["member", "fund", "note"]})
    author = fields.String()
    body = fields.String()
    created_at = fields.DateTime()
    attachments = fields.List(fields.Nested(AttachmentOut))


class ThreadSummaryOut(_Out):
    id = fields.UUID()
    category = fields.String(metadata={"enum": CATEGORIES})
    category_label = fields.String()
    subject = fields.String()
    status = fields.String(metadata={"enum": STATUSES})
    status_label = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    expected_reply_on = fields.Date(allow_none=True)
    unread = fields.Boolean()
    career_year = fields.Integer(allow_none=True, metadata={
        "description": "the career year this thread is about (opened by a flag)"})


class ThreadOut(ThreadSummaryOut):
    messages = fields.List(fields.Nested(MessageOut))
    history = fields.List(fields.Dict(), metadata={"description": "at, kind, status, detail"})


class ThreadListOut(_Out):
    items = fields.List(fields.Nested(ThreadSummaryOut))


def _load(schema: Schema, request) -> dict:
    try:
        return schema.load(web.json_body(request))
    except ValidationError as exc:
        raise InvalidRequest("invalid body", exc.messages) from None


def _message_id(data: dict) -> str:
    return str(data.get("message_id") or uuid.uuid4())


# -- members ----------------------------------------------------------------------------------
def api_threads(ctx, request):
    session = api.require_session(ctx, request)
    return web.json_response({"items": call(ctx, "member_threads",
                                            session["member"]["file_number"])})


def api_start_thread(ctx, request):
    session = api.require_session(ctx, request)
    data = _load(NewThreadSchema(), request)
    view = call(ctx, "start_thread", session["member"]["file_number"], data["category"],
                data["subject"], data["body"], _message_id(data), None)
    return web.json_response(view, 201)


def api_thread(ctx, request, thread_id):
    session = api.require_session(ctx, request)
    return web.json_response(call(ctx, "member_thread", session["member"]["file_number"],
                                  check_uuid(thread_id)))


def api_reply(ctx, request, thread_id):
    session = api.require_session(ctx, request)
    data = _load(NewMessageSchema(), request)
    return web.json_response(call(ctx, "member_reply", session["member"]["file_number"],
                                  check_uuid(thread_id), data["body"], _message_id(data), None),
                             201)


def api_attachment(ctx, request, thread_id, attachment_id):
    session = api.require_session(ctx, request)
    return attachment_response(call(ctx, "member_attachment", session["member"]["file_number"],
                                    check_uuid(thread_id), check_uuid(attachment_id)))


# -- advisors ---------------------------------------------------------------------------------
def api_staff_inbox(ctx, request):
    actor = staff_actor(ctx, request)
    args = request.args
    category = args.get("category") or None
    status = args.get("status") or None
    if category and category not in CATEGORIES:
        raise InvalidRequest("unknown category", {"category": [wording("message_category")]})
    if status and status not in STATUSES:
        raise InvalidRequest("unknown status", {"status": [wording("message_status")]})
    return web.json_response(staff_call(ctx, "staff_inbox", actor, category, status,
                                        args.get("assigned_to")))


def api_staff_thread(ctx, request, thread_id):
    actor = staff_actor(ctx, request)
    return web.json_response(staff_call(ctx, "staff_thread", actor, check_uuid(thread_id)))


def api_staff_reply(ctx, request, thread_id):
    actor = staff_actor(ctx, request)
    data = _load(StaffReplySchema(), request)
    return web.json_response(staff_call(ctx, "staff_reply", actor, check_uuid(thread_id),
                                        data["body"], _message_id(data), None,
                                        data["await_member"]), 201)


def api_staff_note(ctx, request, thread_id):
    actor = staff_actor(ctx, request)
    data = _load(NewMessageSchema(), request)
    return web.json_response(staff_call(ctx, "staff_note", actor, check_uuid(thread_id),
                                        data["body"], _message_id(data)), 201)


def api_staff_assign(ctx, request, thread_id):
    actor = staff_actor(ctx, request)
    data = _load(AssignSchema(), request)
    return web.json_response(staff_call(ctx, "staff_assign", actor, check_uuid(thread_id),
                                        data["login"]))


def api_staff_close(ctx, request, thread_id):
    actor = staff_actor(ctx, request)
    data = _load(CloseSchema(), request)
    return web.json_response(staff_call(ctx, "staff_close", actor, check_uuid(thread_id),
                                        data["outcome"]))


def api_staff_attachment(ctx, request, thread_id, attachment_id):
    actor = staff_actor(ctx, request)
    return attachment_response(staff_call(ctx, "staff_attachment", actor, check_uuid(thread_id),
                                          check_uuid(attachment_id)))


def api_response_times(ctx, request):
    actor = staff_actor(ctx, request)
    return web.json_response(staff_call(ctx, "response_times", actor,
                                        request.args.get("days", "90")))


# -- OpenAPI ----------------------------------------------------------------------------------
_T = "Messagerie"
openapi.register("GET", "/api/v1/messages/threads", tag=_T, summary="The member's threads",
                 responses={200: ThreadListOut})
openapi.register("POST", "/api/v1/messages/threads", tag=_T, body=NewThreadSchema,
                 summary="Write to the fund (a new thread; attachments through the page form)",
                 responses={201: ThreadOut})
openapi.register("GET", "/api/v1/messages/threads/<thread_id>", tag=_T, errors=(404,),
                 summary="A thread of the member's (marks the fund's replies read)",
                 responses={200: ThreadOut})
openapi.register("POST", "/api/v1/messages/threads/<thread_id>/messages", tag=_T,
                 body=NewMessageSchema, errors=(404, 409), responses={201: ThreadOut},
                 summary="Reply in one of the member's threads (409 once closed)")
openapi.register("GET", "/api/v1/messages/threads/<thread_id>/attachments/<attachment_id>",
                 tag=_T, errors=(404,), responses={200: "application/octet-stream"},
                 summary="Download an attachment (PDF, JPEG or PNG) of the member's thread")
openapi.register("GET", "/api/v1/staff/messages/threads", tag="Agents", auth=False,
                 summary="Advisors' inbox (?category=, ?status=, ?assigned_to=), audited",
                 errors=(400, 401, 403), responses={200: "application/json"})
openapi.register("GET", "/api/v1/staff/messages/threads/<thread_id>", tag="Agents", auth=False,
                 summary="A thread with internal notes and history (advisor, audited)",
                 errors=(401, 403, 404), responses={200: "application/json"})
openapi.register("POST", "/api/v1/staff/messages/threads/<thread_id>/replies", tag="Agents",
                 auth=False, body=StaffReplySchema, errors=(401, 403, 404, 409),
                 summary="Reply to the member (emits message_posted)",
                 responses={201: "application/json"})
openapi.register("POST", "/api/v1/staff/messages/threads/<thread_id>/notes", tag="Agents",
                 auth=False, body=NewMessageSchema, errors=(401, 403, 404),
                 summary="Internal note, never shown to the member",
                 responses={201: "application/json"})
openapi.register("PUT", "/api/v1/staff/messages/threads/<thread_id>/assignment", tag="Agents",
                 auth=False, body=AssignSchema, errors=(401, 403, 404),
                 summary="Assign the thread to an advisor (null: unassign)",
                 responses={200: "application/json"})
openapi.register("POST", "/api/v1/staff/messages/threads/<thread_id>/close", tag="Agents",
                 auth=False, body=CloseSchema, errors=(401, 403, 404),
                 summary="Close the thread (a career flag's needs the outcome)",
                 responses={200: "application/json"})
openapi.register("GET", "/api/v1/staff/messages/threads/<thread_id>/attachments/<attachment_id>",
                 tag="Agents", auth=False, errors=(401, 403, 404),
                 summary="Download an attachment (advisor, audited)",
                 responses={200: "application/octet-stream"})
openapi.register("GET", "/api/v1/staff/messages/response-times", tag="Agents", auth=False,
                 summary="First-response times by category (supervisor or admin)",
                 errors=(400, 401, 403), responses={200: "application/json"})
