"""JSON API of the contributions area (simulator, schedules, payments): handlers taking the gateway
context and the request, errors raised and turned into the one error format by ``web.api_errors``."""
from __future__ import annotations

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields
from werkzeug.wrappers import Response

from carpimko.errors import InvalidRequest, NotFound

from . import api, messages, openapi, web

SIMULATION_PARAMS = ("year", "income", "conventioned_income", "activity_start")

# English field errors of the contributions service that the shared catalogue rules do not cover.
_EXTRA_FIELD_RULES = (
    ("not a date", "not_a_date"), ("Not affiliated", "not_affiliated_yet"),
    ("must be one of half_yearly", "frequency"), ("invalid IBAN", "iban"), ("invalid BIC", "bic"),
    ("BIC country", "bic_country"), ("too long", "too_long"),
)


def translate(exc: InvalidRequest) -> InvalidRequest:
    """The same error with every field message in French (catalogue keys), for API and pages."""
    fields = {}
    for name, problems in exc.fields.items():
        text = " ".join(problems if isinstance(problems, list) else [str(problems)])
        code = next((c for needle, c in _EXTRA_FIELD_RULES if needle.lower() in text.lower()), None)
        fields[name] = [messages.field(code)] if code else problems
    return InvalidRequest(exc.args[0] if exc.args else "invalid request", fields)


def simulation_args(request) -> dict:
    """The simulator's query parameters; an unknown parameter is an error (a typo would be silently ignored)."""
    unknown = sorted(set(request.args) - set(SIMULATION_PARAMS))
    if unknown:
        raise InvalidRequest("unknown parameter", {name: ["Unknown field."] for name in unknown})
    return {name: request.args.get(name) or None for name in SIMULATION_PARAMS}


def simulate(ctx, request) -> Response:
    """``GET /api/v1/simulations/contributions``: public, no session."""
    args = simulation_args(request)
    try:
        view = ctx.backends.call("contributions", "simulate", args["year"], args["income"],
                                 args["conventioned_income"], args["activity_start"])
    except InvalidRequest as exc:
        raise translate(exc) from None
    response = web.json_response(view)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# -- member-scoped: Mes cotisations, Mon échéancier, mandate ------------------------------------------------------

class FrequencySchema(Schema):
    class Meta:
        unknown = RAISE

    frequency = fields.String(required=True)


class MandateSchema(Schema):
    class Meta:
        unknown = RAISE

    iban = fields.String(required=True)
    bic = fields.String(load_default=None, allow_none=True)
    holder = fields.String(required=True)


def _file_number(ctx, request) -> str:
    return api.require_session(ctx, request)["member"]["file_number"]


def _load(schema: Schema, request) -> dict:
    try:
        return schema.load(web.json_body(request))
    except ValidationError as exc:
        raise InvalidRequest("invalid request", exc.messages) from None


def _call(ctx, method: str, *args):
    try:
        return ctx.backends.call("contributions", method, *args)
    except InvalidRequest as exc:
        raise translate(exc) from None


def _check_year(year: int) -> None:
    """A year no schedule or assessment can have is simply not found (and never reaches a database)."""
    if not 2000 <= year <= 2100:
        raise NotFound(f"no contributions for {year}", {})


def contributions(ctx, request) -> Response:
    """``GET /api/v1/contributions``: each year, newest first."""
    return web.json_response({"items": _call(ctx, "contributions_overview", _file_number(ctx, request))})


def contributions_year(ctx, request, year: int) -> Response:
    file_number = _file_number(ctx, request)
    _check_year(year)
    items = _call(ctx, "contributions_overview", file_number)
    for item in items:
        if item["year"] == year:
            return web.json_response(item)
    raise NotFound(f"no contributions for {year}", {})


def schedules(ctx, request) -> Response:
    """``GET /api/v1/schedules``: every year's schedule, balance and the "up to date" status."""
    return web.json_response(_call(ctx, "schedules", _file_number(ctx, request)))


def schedule(ctx, request, year: int) -> Response:
    file_number = _file_number(ctx, request)
    _check_year(year)
    return web.json_response(_call(ctx, "get_schedule", file_number, year))


def change_schedule(ctx, request, year: int) -> Response:
    file_number = _file_number(ctx, request)
    _check_year(year)
    data = _load(FrequencySchema(), request)
    return web.json_response(_call(ctx, "change_schedule", file_number, year, data["frequency"]))


def mandate(ctx, request) -> Response:
    return web.json_response({"mandate": _call(ctx, "get_mandate", _file_number(ctx, request))})


def set_mandate(ctx, request) -> Response:
    file_number = _file_number(ctx, request)
    data = _load(MandateSchema(), request)
    return web.json_response({"mandate": _call(ctx, "set_mandate", file_number, data["iban"], data["bic"],
                                               data["holder"])})


# -- OpenAPI descriptions (see gateway/openapi.py) -----------------------------------------------------------------

class _Out(Schema):
    class Meta:
        unknown = INCLUDE


class SimulationLineSchema(_Out):
    scheme = fields.String(required=True, metadata={"enum": ["base_t1", "base_t2", "complementary", "asv",
                                                             "invalidity_death"]})
    base = fields.String(required=True, metadata={"example": "40000.00"})
    rate = fields.String(required=True, allow_none=True, metadata={"example": "8.73"})
    amount = fields.String(required=True, metadata={"example": "3492.00"})


class SimulationSchema(_Out):
    year = fields.Integer(required=True)
    base = fields.String(required=True)
    lines = fields.List(fields.Nested(SimulationLineSchema), required=True)
    total = fields.String(required=True, metadata={"example": "9126.00"})


class ContributionsYearSchema(_Out):
    year = fields.Integer(required=True)
    status = fields.String(required=True)
    final = fields.Boolean(required=True)
    total = fields.String(required=True)
    lines = fields.List(fields.Dict(), required=True)
    changes = fields.Dict(required=True, allow_none=True)


class ContributionsListSchema(_Out):
    items = fields.List(fields.Nested(ContributionsYearSchema), required=True)


class ScheduleSchema(_Out):
    year = fields.Integer(required=True)
    frequency = fields.String(required=True)
    total = fields.String(required=True)
    instalments = fields.List(fields.Dict(), required=True)
    status = fields.Dict(required=True)


class SchedulesSchema(_Out):
    up_to_date = fields.Boolean(required=True)
    reason = fields.String(required=True)
    to_pay_now = fields.String(required=True)
    schedules = fields.List(fields.Nested(ScheduleSchema), required=True)


class MandateViewSchema(_Out):
    mandate = fields.Dict(required=True, allow_none=True)


openapi.register("GET", "/api/v1/simulations/contributions", summary="Simulate a year's contributions (public)",
                 tag="Cotisations", responses={200: SimulationSchema}, errors=(400,), auth=False,
                 description="Query parameters: `year` and `income` (required), `conventioned_income` "
                             "(conventionnés: adds the ASV), `activity_start` (YYYY-MM-DD). Amounts are "
                             "decimal strings.")
openapi.register("GET", "/api/v1/contributions", summary="Each year's contributions, explained",
                 tag="Cotisations", responses={200: ContributionsListSchema})
openapi.register("GET", "/api/v1/contributions/<int:year>", summary="One year's contributions and what changed",
                 tag="Cotisations", responses={200: ContributionsYearSchema}, errors=(404,))
openapi.register("GET", "/api/v1/schedules", summary="Payment schedules, balance and the up-to-date status",
                 tag="Cotisations", responses={200: SchedulesSchema})
openapi.register("GET", "/api/v1/schedules/<int:year>", summary="One year's payment schedule",
                 tag="Cotisations", responses={200: ScheduleSchema}, errors=(404,))
openapi.register("PUT", "/api/v1/schedules/<int:year>", summary="Change a year's payment frequency",
                 tag="Cotisations", body=FrequencySchema, responses={200: ScheduleSchema}, errors=(404,),
                 description="`frequency`: monthly, quarterly or half_yearly. Only future instalments change.")
openapi.register("GET", "/api/v1/mandate", summary="The SEPA direct-debit mandate (IBAN masked)",
                 tag="Cotisations", responses={200: MandateViewSchema})
openapi.register("PUT", "/api/v1/mandate", summary="Record the SEPA direct-debit mandate",
                 tag="Cotisations", body=MandateSchema, responses={200: MandateViewSchema})


# -- the member's estimate of the current year (monthly entries) ---------------------------------------------------

class EstimateSchema(Schema):
    class Meta:
        unknown = RAISE

    year = fields.Integer(required=True)
    months = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)


_ESTIMATE_RULES = (("month must be 1 to 12", "month"), ("at least one month", "empty"),
                   ("only the current year", "year"))


def translate_estimate(exc: InvalidRequest) -> InvalidRequest:
    """Field errors of the estimate in French: the estimate's own wording, then the shared rules."""
    wording = messages.catalogue()["cycle"]
    out = {}
    for name, problems in exc.fields.items():
        text = " ".join(problems if isinstance(problems, list) else [str(problems)])
        code = next((c for needle, c in _ESTIMATE_RULES if needle in text), None)
        out[name] = [wording[f"estimate_{code}"]] if code else messages.translate_field_errors({name: problems})[name]
    return InvalidRequest(exc.args[0] if exc.args else "invalid request", out)


def estimate(ctx, request) -> Response:
    """``GET /api/v1/estimate``: the monthly entries of the current year, their sum and the year's call."""
    return web.json_response({"estimate": _call(ctx, "get_estimate", _file_number(ctx, request))})


def save_estimate(ctx, request) -> Response:
    """``PUT /api/v1/estimate``: replace the monthly entries of the current year; adjusts the year's call."""
    file_number = _file_number(ctx, request)
    data = _load(EstimateSchema(), request)
    try:
        view = ctx.backends.call("contributions", "save_estimate", file_number, data["year"], data["months"])
    except InvalidRequest as exc:
        raise translate_estimate(exc) from None
    return web.json_response({"estimate": view})


class EstimateViewSchema(_Out):
    estimate = fields.Dict(required=True)


openapi.register("GET", "/api/v1/estimate", summary="The estimate of the current year's income",
                 tag="Cotisations", responses={200: EstimateViewSchema},
                 description="`months`: month number to amount entered; `total` their sum; `locked` once the "
                             "year's income is declared; `call` the year's current call.")
openapi.register("PUT", "/api/v1/estimate", summary="Enter the monthly fees of the current year",
                 tag="Cotisations", body=EstimateSchema, responses={200: EstimateViewSchema}, errors=(409,),
                 description="`months` maps 1-12 to decimal amounts; they replace the previous entries and "
                             "the year's provisional call is adjusted on their sum (409 once the year is "
                             "declared). If the real income proves more than a third above the estimate, a "
                             "10 % surcharge on the contributions avoided applies at regularisation.")
