"""The member's delivery log: what the fund sent, by which channel, when, and
whether it went out (JSON and page)."""
from __future__ import annotations

from marshmallow import Schema, fields

from . import api, openapi, web


class DeliverySchema(Schema):
    id = fields.UUID(required=True)
    channel = fields.String(required=True, metadata={"enum": ["email", "post"]})
    kind = fields.String(required=True)
    title = fields.String(required=True)
    document_id = fields.UUID(allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["sent", "failed"]})
    note = fields.String(required=True, metadata={"description": "why post, why it failed (French)"})
    sent_at = fields.DateTime(required=True)


class DeliveryLogSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)


openapi.register("GET", "/api/v1/notifications", summary="The member's delivery log: what the "
                 "fund sent, by which channel, when, and whether it went out",
                 tag="Notifications", responses={200: DeliveryLogSchema})


def _log(ctx, request) -> tuple[dict, list[dict]]:
    session = api.require_session(ctx, request)
    return session, ctx.backends.call("notifications", "delivery_log",
                                      session["member"]["file_number"])


def api_delivery_log(ctx, request):
    _, items = _log(ctx, request)
    return web.json_response({"items": items})


def delivery_log_page(ctx, request):
    session, items = _log(ctx, request)
    return web.render("notifications/delivery_log.html", items=items,
                      member=session["member"], csrf_token=session["csrf_token"])
