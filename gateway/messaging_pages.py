"""Secure messaging pages (French): "Mes messages" for members, the advisors'
inbox and thread pages under ``/agents/messages``, the supervisors' figures.

Forms are multipart (attachments), carry the CSRF token and a message id
chosen when the form is drawn (a resubmitted form posts nothing twice). The
request size is bounded before the form is parsed (the per-message limit plus
1 MiB of text); the messaging service checks every file and says which one is
refused and why. The dashboard block ``unread_messages`` lives here too.
"""
from __future__ import annotations

import base64
import uuid

from werkzeug.exceptions import RequestEntityTooLarge

from carpimko import config
from carpimko.errors import Conflict, InvalidRequest

from . import account_pages, api, messaging_api, pages, web
from .messaging_api import CATEGORIES, STATUSES, check_uuid, staff_call

CATEGORY_LABELS = {"cotisations": "Cotisations", "retraite": "Retraite",
                   "prevoyance": "Prévoyance, invalidité, décès",
                   "compte": "Compte et connexion", "autre": "Autre question"}
STATUS_LABELS = {"open": "En attente de réponse de la Carpimko",
                 "awaiting_member": "En attente de votre réponse",
                 "answered": "Répondu", "closed": "Clôturé"}
HISTORY_LABELS = {"opened": "Demande envoyée", "member_message": "Nouveau message de votre part",
                  "fund_reply": "Réponse de la Carpimko", "closed": "Demande clôturée",
                  "assigned": "Attribution", "note": "Note interne"}
MB = 1024 * 1024


@pages.dashboard_block("unread_messages")
def unread_messages(ctx, session):
    return ctx.backends.call("messaging", "unread_summary", session["member"]["file_number"])


def _limits(ctx) -> dict:
    """The attachment limits shown on the forms and bounding the request
    (the same CARPIMKO_ATTACHMENT_* settings the messaging service enforces)."""
    settings = config.load()
    return {"file_mb": settings.attachment_max_file_mb,
            "message_mb": settings.attachment_max_message_mb,
            "count": settings.attachment_max_count}


def _form_and_files(ctx, request) -> tuple[dict, list[dict]]:
    """The form fields and the attached files (base64 for the RPC); the body
    is refused past the per-message limit before being read."""
    request.max_content_length = int(_limits(ctx)["message_mb"] * MB) + MB
    try:
        form = request.form
        uploads = request.files.getlist("attachments")
    except RequestEntityTooLarge:
        limit = _limits(ctx)["message_mb"]
        raise InvalidRequest("too large", {"attachments": [
            f"Les fichiers joints dépassent {limit:g} Mo au total : envoyez-les en plusieurs "
            "messages."]}) from None
    files = []
    for upload in uploads:
        if not upload or not upload.filename:
            continue  # the empty part a browser sends when no file is chosen
        files.append({"filename": upload.filename,
                      "content_base64": base64.b64encode(upload.read()).decode("ascii")})
    return form, files


def _posting_timeout(ctx, files) -> float:
    """Checking, converting and scanning files takes longer than a plain RPC:
    30 s with attachments. Should the gateway give up anyway, the message id
    makes the member's second try return what the first one recorded."""
    return max(ctx.backends.timeout, 30.0) if files else ctx.backends.timeout


def _member(session: dict) -> dict:
    return {"member": session["member"], "csrf_token": session["csrf_token"]}


def _labels() -> dict:
    return {"category_labels": CATEGORY_LABELS, "status_labels": STATUS_LABELS,
            "history_labels": HISTORY_LABELS}


# -- members ----------------------------------------------------------------------------------
def inbox_page(ctx, request):
    session = api.require_session(ctx, request)
    threads = ctx.backends.call("messaging", "member_threads", session["member"]["file_number"])
    return web.render("messaging/threads.html", threads=threads, sent=request.args.get("envoye"),
                      **_labels(), **_member(session))


def _new_form(ctx, session, status=200, errors=None, values=None):
    return web.render("messaging/new.html", status=status, errors=errors or {},
                      values=values or {"message_id": str(uuid.uuid4())},
                      categories=CATEGORIES, limits=_limits(ctx), **_labels(), **_member(session))


def new_form(ctx, request):
    session = api.require_session(ctx, request)
    values = {"message_id": str(uuid.uuid4())}
    if request.args.get("categorie") in CATEGORIES:
        values["category"] = request.args["categorie"]
    return _new_form(ctx, session, values=values)


def _errors(exc: InvalidRequest) -> dict:
    return {name: list(problems) for name, problems in
            messaging_api.translated(exc).fields.items()}


def new_submit(ctx, request):
    session = api.require_session(ctx, request)
    try:
        form, files = _form_and_files(ctx, request)
    except InvalidRequest as exc:
        web.check_origin(request)
        return _new_form(ctx, session, 413, _errors(exc))
    web.check_csrf(request, session)
    values = {k: form.get(k, "") for k in ("category", "subject", "body", "message_id")}
    try:
        message_id = str(uuid.UUID(values["message_id"]))
    except ValueError:
        message_id = values["message_id"] = str(uuid.uuid4())
    try:
        view = ctx.backends.call("messaging", "start_thread", session["member"]["file_number"],
                                 values["category"], values["subject"], values["body"],
                                 message_id, files, timeout=_posting_timeout(ctx, files))
    except InvalidRequest as exc:
        return _new_form(ctx, session, 400, _errors(exc), values)
    return web.redirect(f"/messages/{view['id']}?envoye=1")


def _thread_page(ctx, session, thread_id, status=200, errors=None, values=None):
    view = ctx.backends.call("messaging", "member_thread", session["member"]["file_number"],
                             thread_id)
    return web.render("messaging/thread.html", status=status, thread=view, errors=errors or {},
                      values=values or {"message_id": str(uuid.uuid4())}, limits=_limits(ctx),
                      **_labels(), **_member(session))


def thread_page(ctx, request, thread_id):
    session = api.require_session(ctx, request)
    response = _thread_page(ctx, session, check_uuid(thread_id))
    return response


def reply_submit(ctx, request, thread_id):
    session = api.require_session(ctx, request)
    thread_id = check_uuid(thread_id)
    try:
        form, files = _form_and_files(ctx, request)
    except InvalidRequest as exc:
        web.check_origin(request)
        return _thread_page(ctx, session, thread_id, 413, _errors(exc))
    web.check_csrf(request, session)
    values = {"body": form.get("body", ""), "message_id": form.get("message_id", "")}
    try:
        message_id = str(uuid.UUID(values["message_id"]))
    except ValueError:
        message_id = values["message_id"] = str(uuid.uuid4())
    try:
        ctx.backends.call("messaging", "member_reply", session["member"]["file_number"],
                          thread_id, values["body"], message_id, files,
                          timeout=_posting_timeout(ctx, files))
    except InvalidRequest as exc:
        return _thread_page(ctx, session, thread_id, 400, _errors(exc), values)
    except Conflict:
        return _thread_page(ctx, session, thread_id, 409, {"form": [
            "Cette demande est clôturée : écrivez-nous dans une nouvelle demande."]}, values)
    return web.redirect(f"/messages/{thread_id}?envoye=1#fin")


def attachment(ctx, request, thread_id, attachment_id):
    session = api.require_session(ctx, request)
    return messaging_api.attachment_response(ctx.backends.call(
        "messaging", "member_attachment", session["member"]["file_number"],
        check_uuid(thread_id), check_uuid(attachment_id)))


# -- advisors ---------------------------------------------------------------------------------
def _staff(render):
    def page(ctx, request, *args):
        def with_staff(staff):
            return render(ctx, request, staff, messaging_api.actor_of(staff), *args)
        return account_pages._staff_page(ctx, request, with_staff)
    return page


def _check_staff_csrf(request, staff):
    account_pages._check_staff_csrf(request, staff)


def _staff_context(staff: dict) -> dict:
    return {"member": None, "staff": staff["staff"], "staff_csrf": staff["csrf_token"],
            **_labels()}


@_staff
def staff_inbox(ctx, request, staff, actor):
    category = request.args.get("categorie") or None
    status = request.args.get("statut") or None
    category = category if category in CATEGORIES else None
    status = status if status in STATUSES else None
    mine = request.args.get("moi") == "1"
    data = staff_call(ctx, "staff_inbox", actor, category, status,
                      actor["login"] if mine else None)
    return web.render("messaging/staff_inbox.html", threads=data["threads"],
                      counts=data["open_by_category"], category=category, status=status,
                      mine=mine, categories=CATEGORIES, statuses=STATUSES,
                      can_see_times=actor["role"] in ("supervisor", "admin"),
                      **_staff_context(staff))


def _staff_thread(ctx, staff, actor, thread_id, status=200, errors=None):
    view = staff_call(ctx, "staff_thread", actor, thread_id)
    return web.render("messaging/staff_thread.html", status=status, thread=view,
                      errors=errors or {}, message_id=str(uuid.uuid4()),
                      note_id=str(uuid.uuid4()), limits=_limits(ctx),
                      **_staff_context(staff))


@_staff
def staff_thread(ctx, request, staff, actor, thread_id):
    return _staff_thread(ctx, staff, actor, check_uuid(thread_id))


@_staff
def staff_reply(ctx, request, staff, actor, thread_id):
    thread_id = check_uuid(thread_id)
    try:
        form, files = _form_and_files(ctx, request)
    except InvalidRequest as exc:
        web.check_origin(request)
        return _staff_thread(ctx, staff, actor, thread_id, 413, _errors(exc))
    _check_staff_csrf(request, staff)
    try:
        message_id = str(uuid.UUID(form.get("message_id", "")))
    except ValueError:
        message_id = str(uuid.uuid4())
    try:
        staff_call(ctx, "staff_reply", actor, thread_id, form.get("body", ""), message_id, files,
                   form.get("await_member") == "1", timeout=_posting_timeout(ctx, files))
    except InvalidRequest as exc:
        return _staff_thread(ctx, staff, actor, thread_id, 400, _errors(exc))
    except Conflict:
        return _staff_thread(ctx, staff, actor, thread_id, 409,
                             {"form": ["Cette demande est clôturée."]})
    return web.redirect(f"/agents/messages/{thread_id}")


@_staff
def staff_note(ctx, request, staff, actor, thread_id):
    thread_id = check_uuid(thread_id)
    _check_staff_csrf(request, staff)
    try:
        message_id = str(uuid.UUID(request.form.get("message_id", "")))
    except ValueError:
        message_id = str(uuid.uuid4())
    try:
        staff_call(ctx, "staff_note", actor, thread_id, request.form.get("body", ""), message_id)
    except InvalidRequest as exc:
        return _staff_thread(ctx, staff, actor, thread_id, 400,
                             {"note": _errors(exc).get("body", ["Note incorrecte."])})
    return web.redirect(f"/agents/messages/{thread_id}")


@_staff
def staff_assign(ctx, request, staff, actor, thread_id):
    thread_id = check_uuid(thread_id)
    _check_staff_csrf(request, staff)
    login = (request.form.get("login") or "").strip() or None
    try:
        staff_call(ctx, "staff_assign", actor, thread_id, login)
    except InvalidRequest as exc:
        return _staff_thread(ctx, staff, actor, thread_id, 400,
                             {"login": _errors(exc).get("login", ["Identifiant incorrect."])})
    return web.redirect(f"/agents/messages/{thread_id}")


@_staff
def staff_close(ctx, request, staff, actor, thread_id):
    thread_id = check_uuid(thread_id)
    _check_staff_csrf(request, staff)
    try:
        staff_call(ctx, "staff_close", actor, thread_id, request.form.get("outcome") or None)
    except InvalidRequest as exc:
        return _staff_thread(ctx, staff, actor, thread_id, 400,
                             {"outcome": _errors(exc).get("outcome", ["Choix incorrect."])})
    return web.redirect(f"/agents/messages/{thread_id}")


@_staff
def staff_attachment(ctx, request, staff, actor, thread_id, attachment_id):
    return messaging_api.attachment_response(staff_call(
        ctx, "staff_attachment", actor, check_uuid(thread_id), check_uuid(attachment_id)))


@_staff
def response_times_page(ctx, request, staff, actor):
    days = request.args.get("jours", "90")
    days = days if days in ("7", "30", "90", "365") else "90"
    figures = staff_call(ctx, "response_times", actor, int(days))
    return web.render("messaging/staff_response_times.html", figures=figures, days=days,
                      **_staff_context(staff))
