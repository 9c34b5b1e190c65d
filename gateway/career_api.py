"""JSON API of the career record (issue #6): the record, the retirement estimate with its what-ifs, flagging a
year, asking for the career statement. Errors become the one error format through ``web.api_errors``."""
from __future__ import annotations

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields
from werkzeug.wrappers import Response

from carpimko.errors import InvalidRequest, NotFound

from . import api, messages, openapi, web

WHAT_IF_PARAMS = ("future_income", "break_from", "break_to", "maternity_date", "retirement_date")

# English field errors of the career use cases, to the catalogue's French wording.
_CAREER_FIELD_RULES = (
    ("first day of a month", "first_of_month"), ("cannot start before", "before_legal_age"),
    ("must be a year", "year"), ("required for a career break", "break_both"),
    ("before the first year", "break_order"), ("past childbirth", "past_childbirth"),
    ("not in your career record", "unknown_year"), ("already under review", "under_review"),
    ("birth date before", "birth_date"), ("no later than", "too_late"), ("at most 4000 characters", "comment_too_long"),
)


def career_field(code: str) -> str:
    return messages.catalogue()["career_fields"][code]


def translate(exc: InvalidRequest) -> InvalidRequest:
    """The same error with every field message in French: the career wording first, then the shared rules."""
    out = {}
    for name, problems in exc.fields.items():
        text = " ".join(problems if isinstance(problems, list) else [str(problems)])
        code = next((c for needle, c in _CAREER_FIELD_RULES if needle.lower() in text.lower()), None)
        if code is None and name == "comment" and "required" in text:
            code = "comment_required"
        if code is None and "not a date" in text:
            out[name] = [messages.field("not_a_date")]
            continue
        out[name] = [career_field(code)] if code else messages.translate_field_errors({name: problems})[name]
    return InvalidRequest(exc.args[0] if exc.args else "invalid request", out)


def call(ctx, method: str, *args):
    try:
        return ctx.backends.call("contributions", method, *args)
    except InvalidRequest as exc:
        raise translate(exc) from None


def what_if_args(args) -> dict:
    """The what-if query parameters (empty ones ignored); an unknown parameter is an error."""
    unknown = sorted(set(args) - set(WHAT_IF_PARAMS))
    if unknown:
        raise InvalidRequest("unknown parameter", {name: [messages.field("unknown_field")] for name in unknown})
    return {name: (args.get(name) or "").strip() for name in WHAT_IF_PARAMS if (args.get(name) or "").strip()}


def estimate_for(ctx, file_number: str, what_if: dict | None) -> dict:
    birth_date = ctx.backends.call("accounts", "birth_date", file_number)
    return call(ctx, "retirement_estimate", file_number, birth_date, what_if or None)


class StatementBodySchema(Schema):
    """Nothing to send (``{}``): what the statement holds is the record itself."""

    class Meta:
        unknown = RAISE


class FlagSchema(Schema):
    class Meta:
        unknown = RAISE

    comment = fields.String(required=True)


def _file_number(ctx, request) -> str:
    return api.require_session(ctx, request)["member"]["file_number"]


def record(ctx, request) -> Response:
    """``GET /api/v1/career``: every year of the record and the totals."""
    return web.json_response(call(ctx, "career_record", _file_number(ctx, request)))


def estimate(ctx, request) -> Response:
    """``GET /api/v1/career/estimate``: the estimate; with what-if parameters, the what-if next to it."""
    file_number = _file_number(ctx, request)
    return web.json_response(estimate_for(ctx, file_number, what_if_args(request.args)))


def flag(ctx, request, year: int) -> Response:
    """``POST /api/v1/career/years/<year>/flag``: the year is wrong; a message thread opens with the fund."""
    file_number = _file_number(ctx, request)
    if not 1950 <= year <= 2100:
        raise NotFound(f"no career year {year}", {})
    try:
        data = FlagSchema().load(web.json_body(request))
    except ValidationError as exc:
        raise InvalidRequest("invalid request", messages.translate_field_errors(exc.messages)) from None
    return web.json_response(call(ctx, "flag_career_year", file_number, year, data["comment"]), status=201)


def request_statement(ctx, request) -> Response:
    """``POST /api/v1/career/statement``: the career statement PDF is prepared and appears in the documents."""
    file_number = _file_number(ctx, request)
    try:
        StatementBodySchema().load(web.json_body(request))
    except ValidationError as exc:
        raise InvalidRequest("invalid request", messages.translate_field_errors(exc.messages)) from None
    return web.json_response(call(ctx, "request_career_statement", file_number), status=202)


# -- OpenAPI descriptions ------------------------------------------------------------------------------------------

class _Out(Schema):
    class Meta:
        unknown = INCLUDE


class CareerYearSchema(_Out):
    year = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["provisional", "final"]})
    provisional_reasons = fields.List(fields.String(), required=True)
    income = fields.String(required=True, allow_none=True, metadata={
        "example": "40000.00", "description": "the declared income the year was regularised on; null for a year "
                                              "only called so far (see call)"})
    call = fields.Dict(required=True, allow_none=True, metadata={
        "description": "a year not regularised yet: the call it is known by (stage provisional or adjusted, "
                       "basis, income_year, income); its quarters and points are the call's"})
    contributions_called = fields.String(required=True, allow_none=True)
    contributions_paid = fields.String(required=True)
    quarters = fields.Integer(required=True)
    rb_points = fields.String(required=True, metadata={"example": "441.12"})
    rc_points = fields.String(required=True)
    asv_points = fields.String(required=True)
    credits = fields.List(fields.Dict(), required=True)
    flag = fields.Dict(required=True, allow_none=True)


class CareerRecordSchema(_Out):
    as_of = fields.Date(required=True)
    years = fields.List(fields.Nested(CareerYearSchema), required=True)
    totals = fields.Dict(required=True, metadata={"description": "totals of the final years only"})
    provisional_totals = fields.Dict(required=True, metadata={
        "description": "totals of the provisional years (listed in years), kept apart"})


class EstimateSchema(_Out):
    birth_date = fields.Date(required=True)
    legal_age = fields.Dict(required=True)
    legal_start = fields.Date(required=True)
    quarters_needed = fields.Integer(required=True)
    automatic_start = fields.Date(required=True)
    current = fields.Dict(required=True)
    assumptions = fields.List(fields.Dict(), required=True)
    what_if = fields.Dict(required=True, allow_none=True)


class FlagViewSchema(_Out):
    flag_id = fields.UUID(required=True)
    year = fields.Integer(required=True)
    status = fields.String(required=True)


class StatementRequestSchema(_Out):
    request_id = fields.UUID(required=True)


openapi.register("GET", "/api/v1/career", summary="The career record, year by year", tag="Carrière",
                 responses={200: CareerRecordSchema})
openapi.register("GET", "/api/v1/career/estimate", summary="Retirement estimate, with optional what-if",
                 tag="Carrière", responses={200: EstimateSchema}, errors=(400,),
                 description="What-if query parameters (all optional): `future_income` (a yearly amount), "
                             "`break_from` and `break_to` (years of a career break), `maternity_date` "
                             "(YYYY-MM-DD, this year or later), `retirement_date` (a first day of a month).")
openapi.register("POST", "/api/v1/career/years/<int:year>/flag", summary="Flag a year of the record as wrong",
                 tag="Carrière", body=FlagSchema, responses={201: FlagViewSchema}, errors=(404, 409),
                 description="Opens a message thread with the fund; send the supporting documents there.")
openapi.register("POST", "/api/v1/career/statement", summary="Ask for the career statement (PDF)",
                 tag="Carrière", body=StatementBodySchema, responses={202: StatementRequestSchema},
                 description="The statement appears in the documents (`GET /api/v1/documents`) within seconds.")
