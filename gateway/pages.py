"""Server-rendered pages (French), progressive enhancement, no script needed.

The dashboard (Accueil) shows what exists today (latest declaration's progress,
latest documents, declarations, the chart of income and contributions) and has
reserved blocks that appear as soon as a module provides their data with one
decorated function (in its own module, imported by ``gateway/service.py``)::

    from gateway import pages

    @pages.dashboard_block("next_payment")
    def next_payment(ctx, session):            # -> dict, or None to hide the block
        return {"amount": "1234.00", "due_on": "2026-12-05", "url": "/cotisations/echeancier"}

Reserved blocks and the data their template (``home.html``) expects:

- ``next_payment``: ``{"amount", "due_on" (ISO date), "url"}``
- ``up_to_date``: ``{"up_to_date": bool, "balance" (amount owed, decimal string),
  "what_to_do" (French sentence), "url"}``
- ``unread_messages``: ``{"count": int, "latest": [{"subject", "received_at", "url"}], "url"}``

A block whose service is down shows "momentanément indisponible" instead of
failing the whole page.
"""
from __future__ import annotations

import logging
import re

import eventlet
from decimal import Decimal, InvalidOperation

from carpimko.errors import InvalidRequest, ServiceUnavailable, Unauthorized

from . import api, charts, messages, openapi, progress, sessions, web

log = logging.getLogger(__name__)

DASHBOARD_BLOCKS: dict = {}
RESERVED_BLOCKS = ("next_payment", "up_to_date", "unread_messages")
UNAVAILABLE = "unavailable"


def dashboard_block(name: str):
    """Register the loader of a dashboard block (see the module docstring)."""
    def register(func):
        DASHBOARD_BLOCKS[name] = func
        return func
    return register


def _optional(load, *args):
    """A dashboard part: its data, or ``UNAVAILABLE`` when its service is down."""
    try:
        return load(*args)
    except ServiceUnavailable as exc:
        log.warning("dashboard: %s", exc)
        return UNAVAILABLE

STEP_LABELS = {
    "declared": "Revenus déclarés",
    "contributions_recalculated": "Cotisations recalculées",
    "document_generated": "Relevé de cotisations disponible",
    "member_notified": "Vous avez été prévenu(e)",
}


def _member_context(session: dict) -> dict:
    return {"member": session["member"], "csrf_token": session["csrf_token"]}


def login_form(ctx, request):
    if sessions.resolve(ctx, sessions.request_token(ctx, request)):
        return web.redirect("/")
    return web.render("login.html", member=None, errors={}, values={})


def login_submit(ctx, request):
    web.check_origin(request)
    file_number = (request.form.get("file_number") or "").strip()
    password = request.form.get("password") or ""
    errors = {}
    if not file_number:
        errors["file_number"] = messages.field("required")
    elif not re.fullmatch(r"[0-9]{7}|[0-9]{9}", file_number):
        errors["file_number"] = messages.field("file_number")
    if not password:
        errors["password"] = messages.field("required")
    if not errors:
        try:
            result = api.rate_limited_login(ctx, request, file_number, password)
        except (Unauthorized, InvalidRequest):
            errors["form"] = messages.error("unauthorized")
        except web.TooManyRequests as exc:
            response = web.render("login.html", status=429, member=None,
                                  errors={"form": messages.error("too_many_requests")},
                                  values={"file_number": file_number})
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        else:
            response = web.redirect("/")
            web.set_session_cookie(response, result["token"], ctx.cookie_secure,
                                   ctx.session_seconds)
            return response
    return web.render("login.html", status=400 if "form" not in errors else 401, member=None,
                      errors=errors, values={"file_number": file_number})


def logout(ctx, request):
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    api.end_session(ctx, request.cookies.get(web.cookie_name(ctx.cookie_secure)))
    response = web.redirect("/connexion")
    web.clear_session_cookie(response, ctx.cookie_secure)
    return response


# The member's latest deliveries the dashboard asks for (side by side with the
# rest): the latest declaration's notice is among them unless this many
# messages went out after it, in which case it is asked by declaration.
RECENT_DELIVERIES = 20


def home(ctx, request):
    """The dashboard, in one round of calls after the session (kept by the
    gateway: ``sessions.py``): contributions (declarations and schedules in
    one RPC), documents, the member's recent deliveries and every block side
    by side. The latest declaration's progress is read off these lists
    rather than asked again (profiled: each RPC costs the gateway, RabbitMQ
    and the callee a few milliseconds of CPU, and a second round adds its
    wait to the page's)."""
    session = api.require_session(ctx, request)
    file_number = session["member"]["file_number"]
    pool = eventlet.GreenPool(3 + len(DASHBOARD_BLOCKS))  # the services answer side by side
    pending_docs = pool.spawn(_optional, ctx.backends.call, "documents", "list_documents",
                              file_number)
    pending_sent = pool.spawn(_optional, ctx.backends.call, "notifications", "delivery_log",
                              file_number, RECENT_DELIVERIES)
    pending_blocks = {name: pool.spawn(_optional, load, ctx, session)
                      for name, load in DASHBOARD_BLOCKS.items()}
    declarations = _optional(_declarations, ctx, file_number)
    documents = pending_docs.wait()
    sent = pending_sent.wait()
    latest = None
    if declarations and declarations != UNAVAILABLE:
        latest = _latest_progress(ctx, file_number, declarations[0], documents, sent)
    points = charts.points_from_declarations(declarations) if declarations != UNAVAILABLE else []
    blocks = {name: pending.wait() for name, pending in pending_blocks.items()}
    return web.render("home.html", declarations=declarations if declarations == UNAVAILABLE
                      else declarations[:10],
                      documents=documents if documents == UNAVAILABLE else documents[:5],
                      latest=latest, step_labels=STEP_LABELS, points=points,
                      chart=charts.income_and_contributions(points) if points else None,
                      legend=charts.LEGEND, blocks=blocks, UNAVAILABLE=UNAVAILABLE,
                      **_member_context(session))


def _declarations(ctx, file_number: str) -> list:
    """The member's declarations, from the one dashboard read of contributions
    (its schedules feed the blocks: ``contributions_pages``)."""
    return ctx.backends.read("contributions", "dashboard", file_number)["declarations"]


def _latest_progress(ctx, file_number: str, declaration: dict, documents, sent):
    """The latest declaration with its steps, from the lists already read:
    its documents, and the notices about them among the recent deliveries
    (``sent``); notifications is asked by declaration only when the recent
    deliveries were all newer ones."""
    if documents == UNAVAILABLE:
        return _optional(api.declaration_with_progress, ctx, file_number, declaration["id"])
    own = [d for d in documents if d.get("correlation_id") == declaration["id"]]
    notifications = []
    if any(d["kind"] == "contribution_statement" for d in own):
        if sent == UNAVAILABLE:
            return UNAVAILABLE
        own_ids = {d["id"] for d in own}
        notifications = [n for n in sent if n.get("document_id") in own_ids]
        if not notifications and len(sent) >= RECENT_DELIVERIES:
            notifications = _optional(ctx.backends.call, "notifications", "for_correlation",
                                      file_number, declaration["id"])
            if notifications == UNAVAILABLE:
                return UNAVAILABLE
    return progress.with_steps(declaration, own, notifications)


def api_docs(ctx, request):
    """The API's reference, rendered from the OpenAPI document (no script, no CDN)."""
    doc = openapi.document(web.cookie_name(ctx.cookie_secure))
    operations = [(path, method.upper(), op) for path, methods in doc["paths"].items()
                  for method, op in methods.items()]
    response = web.render("api_docs.html", doc=doc, operations=operations, member=None,
                          schemas=doc["components"]["schemas"])
    response.headers["Cache-Control"] = "no-cache"
    return response


def _contributors_only(session: dict):
    """Survivors and annuitants do not declare professional income."""
    if session["member"]["status"] == "survivor":
        return web.render("error.html", status=403, status_code=403, code="not_a_contributor",
                          message=messages.error("not_a_contributor"),
                          **_member_context(session))
    return None


def declare_form(ctx, request):
    session = api.require_session(ctx, request)
    refused = _contributors_only(session)
    if refused is not None:
        return refused
    years = ctx.backends.call("contributions", "declarable_years")
    return web.render("declare.html", years=years, errors={}, values={"year": str(years[-1])},
                      **_member_context(session))


def _parse_amount(raw: str, name: str, errors: dict, required: bool):
    text = (raw or "").replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    text = text.replace("€", "").replace(",", ".")
    if not text:
        if required:
            errors[name] = messages.field("required")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[name] = messages.field("not_a_number")
        return None
    if not value.is_finite():
        errors[name] = messages.field("not_a_number")
        return None
    if value < 0:
        errors[name] = messages.field("negative")
        return None
    return f"{value}"


def declare_submit(ctx, request):
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    refused = _contributors_only(session)
    if refused is not None:
        return refused
    years = ctx.backends.call("contributions", "declarable_years")
    values = {k: request.form.get(k, "") for k in ("year", "professional_income",
                                                    "conventioned_income")}
    errors: dict = {}
    year = int(values["year"]) if re.fullmatch(r"[0-9]{4}", values["year"]) else None
    if year not in years:
        errors["year"] = messages.field("unknown_year")
    income = _parse_amount(values["professional_income"], "professional_income", errors, True)
    conventioned = _parse_amount(values["conventioned_income"], "conventioned_income", errors,
                                 False)
    if not errors:
        try:
            view = ctx.backends.call("contributions", "declare_income",
                                     session["member"]["file_number"], year, income, conventioned)
        except InvalidRequest as exc:
            errors = {k: v[0] for k, v in messages.translate_field_errors(exc.fields).items()}
        else:
            return web.redirect(f"/revenus/declarations/{view['id']}")
    return web.render("declare.html", status=400, years=years, errors=errors, values=values,
                      **_member_context(session))


def declaration(ctx, request, declaration_id: str):
    session = api.require_session(ctx, request)
    api._check_uuid(declaration_id)
    view = api.declaration_with_progress(ctx, session["member"]["file_number"], declaration_id)
    return web.render("declaration.html", declaration=view, step_labels=STEP_LABELS,
                      **_member_context(session))


def not_found(ctx, request, path: str = ""):
    from carpimko.errors import NotFound
    raise NotFound("no such page", {})
