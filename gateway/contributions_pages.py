"""Pages of the contributions area (French): the public simulator, Mes cotisations, Mon échéancier."""
from __future__ import annotations

from carpimko.errors import InvalidRequest, ServiceUnavailable

from . import api, formatting, messages, pages, sessions, web
from .contributions_api import SIMULATION_PARAMS, translate


def optional_session(ctx, request) -> dict | None:
    """The member when logged in (to show the navigation), else None; public pages never require it."""
    try:
        return sessions.resolve(ctx, sessions.request_token(ctx, request))
    except ServiceUnavailable:
        return None


def _amount_text(raw: str | None) -> str | None:
    """Accept what people type: spaces, narrow spaces, a comma for decimals, a euro sign."""
    if raw is None:
        return None
    text = raw.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace("€", "")
    return text.replace(",", ".") or None


def simulator(ctx, request):
    """``GET /simulateur``: the form, and the result with every line explained when the form was sent."""
    session = optional_session(ctx, request)
    member = {"member": session["member"], "csrf_token": session["csrf_token"]} if session else {"member": None}
    years = ctx.backends.call("contributions", "declarable_years")
    values = {name: (request.args.get(name) or "").strip() for name in SIMULATION_PARAMS}
    if not values["year"]:
        values["year"] = str(years[-1])
    errors: dict = {}
    result = None
    status = 200
    if request.args.get("income") is not None:
        try:
            result = ctx.backends.call(
                "contributions", "simulate", values["year"], _amount_text(values["income"]),
                _amount_text(values["conventioned_income"]), values["activity_start"] or None,
                explained=True)
        except InvalidRequest as exc:
            translated = messages.translate_field_errors(translate(exc).fields)
            errors = {name: problems[0] for name, problems in translated.items()}
            status = 400
    return web.render("contributions/simulator.html", status=status, years=years, values=values,
                      errors=errors, result=result, **member)


FREQUENCY_LABELS = {
    "monthly": "Mensuel (12 prélèvements)",
    "quarterly": "Trimestriel (4 prélèvements)",
    "half_yearly": "Semestriel (2 prélèvements)",
}


def _member(session: dict) -> dict:
    return {"member": session["member"], "csrf_token": session["csrf_token"]}


def contributions(ctx, request):
    """``GET /cotisations``: Mes cotisations."""
    session = api.require_session(ctx, request)
    years = ctx.backends.call("contributions", "contributions_overview", session["member"]["file_number"])
    return web.render("contributions/contributions.html", years=years, **_member(session))


def _schedule_page(ctx, session, status: int = 200, errors: dict | None = None, values: dict | None = None,
                   done: str | None = None):
    file_number = session["member"]["file_number"]
    overview = ctx.backends.call("contributions", "schedules", file_number)
    mandate = ctx.backends.call("contributions", "get_mandate", file_number)
    recovery_why, recovery_todo = recovery_texts(overview)
    return web.render("contributions/schedule.html", status=status, overview=overview, mandate=mandate,
                      recovery_why=recovery_why, recovery_todo=recovery_todo,
                      frequencies=FREQUENCY_LABELS, errors=errors or {}, values=values or {}, done=done,
                      **_member(session))


def schedules(ctx, request):
    """``GET /echeancier``: Mon échéancier, the balance and the "up to date" status, the SEPA mandate."""
    session = api.require_session(ctx, request)
    done = request.args.get("fait")
    return _schedule_page(ctx, session, done=done if done in ("frequence", "mandat") else None)


def change_schedule(ctx, request, year: int):
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    frequency = request.form.get("frequency", "")
    try:
        ctx.backends.call("contributions", "change_schedule", session["member"]["file_number"], year, frequency)
    except InvalidRequest as exc:
        translated = messages.translate_field_errors(translate(exc).fields)
        return _schedule_page(ctx, session, status=400,
                              errors={f"frequency_{year}": translated.get("frequency", [messages.field("invalid")])[0]})
    return web.redirect("/echeancier?fait=frequence")


def set_mandate(ctx, request):
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    values = {name: (request.form.get(name) or "").strip() for name in ("iban", "bic", "holder")}
    try:
        ctx.backends.call("contributions", "set_mandate", session["member"]["file_number"], values["iban"],
                          values["bic"] or None, values["holder"])
    except InvalidRequest as exc:
        translated = messages.translate_field_errors(translate(exc).fields)
        return _schedule_page(ctx, session, status=400, values=values,
                              errors={name: problems[0] for name, problems in translated.items()})
    return web.redirect("/echeancier?fait=mandat")


# -- dashboard blocks (Accueil): what is due next, and whether the member is up to date -----------

def _schedules_for(ctx, session) -> dict | None:
    if session["member"]["status"] == "survivor":
        return None
    # the dashboard's one read of contributions (declarations and schedules), shared with the page
    overview = ctx.backends.read("contributions", "dashboard", session["member"]["file_number"])["schedules"]
    return overview if overview["schedules"] else None


@pages.dashboard_block("next_payment")
def next_payment_block(ctx, session):
    overview = _schedules_for(ctx, session)
    if overview is None:
        return None
    upcoming = sorted((i for s in overview["schedules"] for i in s["instalments"]
                       if i["state"] in ("due", "future", "late")
                       and (i["state"] != "due" or i.get("unpaid"))), key=lambda i: i["due_date"])
    future = [i for i in upcoming if i["state"] == "future"]
    if not future:
        return None
    return {"amount": future[0]["amount"], "due_on": future[0]["due_date"], "url": "/echeancier"}


@pages.dashboard_block("up_to_date")
def up_to_date_block(ctx, session):
    overview = _schedules_for(ctx, session)
    if overview is None:
        return None
    why, what_to_do = recovery_texts(overview)
    return {"up_to_date": overview["up_to_date"], "balance": overview["to_pay_now"],
            "reason": overview["reason"], "why": why,
            "what_to_do": what_to_do or messages.catalogue()["dashboard"]["not_up_to_date"].format(
                amount=formatting.euros(overview["to_pay_now"])),
            "url": "/echeancier"}


def recovery_texts(overview: dict) -> tuple[str | None, str | None]:
    """Why the member is not up to date and what to do, when the fund recorded a payment plan or a formal
    notice (None, None otherwise: the general arrears wording applies)."""
    wording = messages.catalogue()["cycle"]
    amount = formatting.euros(overview["to_pay_now"])
    if overview.get("reason") == "payment_plan" and overview.get("payment_plans"):
        plans = overview["payment_plans"]
        first = plans[0]
        amounts = ", ".join(formatting.euros(a) for a in dict.fromkeys(first["instalment_amounts"]))
        return (wording["why_payment_plan"].format(years=", ".join(str(p["year"]) for p in plans)),
                wording["todo_payment_plan"].format(amounts=amounts, amount=amount,
                                                    first_due=formatting.day(first["first_due"])))
    if overview.get("reason") == "formal_notice" and overview.get("formal_notices"):
        notice = overview["formal_notices"][-1]
        return (wording["why_formal_notice"].format(sent_on=formatting.day(notice["sent_on"]),
                                                    year=notice["year"]),
                wording["todo_formal_notice"].format(amount=amount))
    return None, None


# -- Mes revenus: the estimate of the current year (monthly entries) -----------------------------------------------

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


def _estimate_page(ctx, session, status: int = 200, errors: dict | None = None, values: dict | None = None,
                   done: bool = False, locked_error: str | None = None):
    view = ctx.backends.call("contributions", "get_estimate", session["member"]["file_number"])
    values = values if values is not None else view["months"]
    return web.render("contributions/estimate.html", status=status, estimate=view, months=MONTHS,
                      values=values, errors=errors or {}, done=done, locked_error=locked_error,
                      **_member(session))


def estimate(ctx, request):
    """``GET /revenus/estimation``: the monthly fees of the current year, their sum and the call they give."""
    session = api.require_session(ctx, request)
    refused = pages._contributors_only(session)
    if refused is not None:
        return refused
    return _estimate_page(ctx, session, done=request.args.get("fait") == "1")


def save_estimate(ctx, request):
    """``POST /revenus/estimation``: store the monthly entries, then back to the page."""
    from carpimko.errors import Conflict
    from .contributions_api import translate_estimate
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    refused = pages._contributors_only(session)
    if refused is not None:
        return refused
    values = {str(m): (request.form.get(f"month_{m}") or "").strip() for m in range(1, 13)}
    year = request.form.get("year", "")
    try:
        ctx.backends.call("contributions", "save_estimate", session["member"]["file_number"],
                          int(year) if year.isdigit() else year,
                          {m: _amount_text(v) for m, v in values.items() if v})
    except InvalidRequest as exc:
        translated = translate_estimate(exc).fields
        errors = {name: problems[0] for name, problems in translated.items()}
        return _estimate_page(ctx, session, status=400, errors=errors, values=values)
    except Conflict:
        return _estimate_page(ctx, session, status=409, values=values,
                              locked_error=messages.catalogue()["cycle"]["estimate_locked"])
    return web.redirect("/revenus/estimation?fait=1")
