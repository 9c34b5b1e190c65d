"""Server-rendered pages (French), progressive enhancement, no script needed."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from carpimko.errors import InvalidRequest, Unauthorized

from . import api, messages, web

STEP_LABELS = {
    "declared": "Revenus déclarés",
    "contributions_recalculated": "Cotisations recalculées",
    "document_generated": "Relevé de cotisations disponible",
    "member_notified": "Vous avez été prévenu(e)",
}


def _member_context(session: dict) -> dict:
    return {"member": session["member"], "csrf_token": session["csrf_token"]}


def login_form(ctx, request):
    token = request.cookies.get(web.cookie_name(ctx.cookie_secure))
    if token and ctx.backends.call("accounts", "resolve_session", token):
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
            result = ctx.backends.call("accounts", "login", file_number, password)
        except (Unauthorized, InvalidRequest):
            errors["form"] = messages.error("unauthorized")
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
    ctx.backends.call("accounts", "logout", request.cookies.get(web.cookie_name(ctx.cookie_secure)))
    response = web.redirect("/connexion")
    web.clear_session_cookie(response, ctx.cookie_secure)
    return response


def home(ctx, request):
    session = api.require_session(ctx, request)
    file_number = session["member"]["file_number"]
    declarations = ctx.backends.call("contributions", "list_declarations", file_number)
    documents = ctx.backends.call("documents", "list_documents", file_number)
    return web.render("home.html", declarations=declarations[:10], documents=documents[:10],
                      **_member_context(session))


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
