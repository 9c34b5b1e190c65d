"""The "Ma carrière" page (issue #6): the record year by year (chart and table), the retirement estimate with its
assumptions, the what-if form (GET, so a what-if can be bookmarked), flagging a year and asking for the statement."""
from __future__ import annotations

from carpimko.errors import Conflict, InvalidRequest

from . import api, charts, messages, web
from .career_api import WHAT_IF_PARAMS, call, career_field, estimate_for, translate, what_if_args

MAX_COMMENT = 4000


def _page(ctx, session, args: dict, status: int = 200, flag_errors: dict | None = None,
          flag_values: dict | None = None, notice: str | None = None):
    file_number = session["member"]["file_number"]
    record = call(ctx, "career_record", file_number)
    values = {name: (args.get(name) or "").strip() for name in WHAT_IF_PARAMS}
    errors: dict = {}
    estimate, estimate_problem = None, None
    try:
        estimate = estimate_for(ctx, file_number, what_if_args(args))
    except InvalidRequest as exc:
        if "birth_date" in exc.fields:  # no estimate possible (birth date outside the age table): say so
            estimate_problem = exc.fields["birth_date"][0]
        else:
            errors = {name: problems[0] for name, problems in exc.fields.items()}
            estimate = estimate_for(ctx, file_number, None)
            status = 400
    return web.render("career/career.html", status=status, record=record, estimate=estimate,
                      estimate_problem=estimate_problem,
                      chart=charts.quarters_and_points(record["years"]), legend=charts.CAREER_LEGEND,
                      values=values, errors=errors, flag_errors=flag_errors or {}, flag_values=flag_values or {},
                      notice=notice, member=session["member"], csrf_token=session["csrf_token"])


def _contributors_only(session: dict):
    """Survivors and annuitants have no career record of their own here."""
    if session["member"]["status"] == "survivor":
        return web.render("error.html", status=403, status_code=403, code="not_a_contributor",
                          message=messages.error("not_a_contributor"), member=session["member"],
                          csrf_token=session["csrf_token"])
    return None


def career(ctx, request):
    """``GET /ma-carriere``."""
    session = api.require_session(ctx, request)
    refused = _contributors_only(session)
    if refused is not None:
        return refused
    notice = None
    career_messages = messages.catalogue()["career"]
    flagged = request.args.get("signale", "")
    if flagged.isdigit():
        notice = career_messages["flagged"].format(year=flagged)
    elif request.args.get("releve") == "demande":
        notice = career_messages["statement_requested"]
    args = {k: v for k, v in request.args.items() if k not in ("signale", "releve")}
    return _page(ctx, session, args, notice=notice)


def flag(ctx, request, year: int):
    """``POST /ma-carriere/<year>/signaler``: the member flags a year with a comment."""
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    comment = (request.form.get("comment") or "").strip()
    try:
        if not comment:
            raise InvalidRequest("invalid flag", {"comment": ["required"]})
        call(ctx, "flag_career_year", session["member"]["file_number"], year, comment)
    except InvalidRequest as exc:
        fields = translate(exc).fields
        message = (fields.get("comment") or fields.get("year") or [messages.field("invalid")])[0]
        return _page(ctx, session, {}, status=400, flag_errors={year: message},
                     flag_values={year: comment})
    except Conflict:
        return _page(ctx, session, {}, status=409, flag_errors={year: career_field("under_review")},
                     flag_values={year: comment})
    return web.redirect(f"/ma-carriere?signale={year}#annee-{year}")


def request_statement(ctx, request):
    """``POST /ma-carriere/releve``: the career statement PDF, soon in "Mes documents"."""
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    call(ctx, "request_career_statement", session["member"]["file_number"])
    return web.redirect("/ma-carriere?releve=demande")
