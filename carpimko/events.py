"""The event envelope and the versioned contracts of every event.

Every event on the bus has the same envelope::

    {"event_id", "type", "version", "occurred_at", "correlation_id",
     "causation_id", "member_id", "payload"}

``correlation_id`` is the id of what started the chain (the declaration id),
``causation_id`` the event that caused this one. The payload of each type is
validated by its marshmallow schema below; a consumer rejects what does not
validate (dead letter), never half-processes it. Money travels as decimal
strings with two places, dates as ISO strings.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate

from carpimko import fastload

EXCHANGE = "carpimko.events"
FILE_NUMBER = validate.Regexp(r"^(?:[0-9]{7}|[0-9]{9})\Z", error="file number must be 7 or 9 digits")


class MoneyField(fields.Decimal):
    """A euro amount with at most two decimals: more is an error, never rounded."""

    def _deserialize(self, value, attr, data, **kwargs):
        """One conversion and one check (the parent would convert and quantize again). A number too long to
        quantize (``1e30``) is "not a valid number", as the parent says: it used to escape as a raw
        ``decimal.InvalidOperation``, not an ``InvalidEvent``, so ``handlers`` did not dead-letter the event."""
        if value is True or value is False:
            raise self.make_error("invalid")
        try:
            exact = Decimal(str(value))
        except (InvalidOperation, ValueError, TypeError):
            raise self.make_error("invalid") from None
        if not exact.is_finite():
            return super()._deserialize(value, attr, data, **kwargs)  # NaN, infinities: the parent's rule
        try:
            cents = exact.quantize(self.places, rounding=self.rounding)
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if cents != exact:
            raise ValidationError("at most two decimal places")
        return cents


def Money(**kw):
    return MoneyField(places=2, as_string=True, allow_nan=False, **kw)


class InvalidEvent(Exception):
    """The message is not a valid event of a known type and version."""


class EnvelopeSchema(Schema):
    event_id = fields.UUID(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, format="iso")
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    causation_id = fields.String(required=True, allow_none=True, validate=validate.Length(max=64))
    member_id = fields.String(required=True, allow_none=True, validate=FILE_NUMBER)
    payload = fields.Dict(required=True)


class IncomeDeclaredV1(Schema):
    declaration_id = fields.UUID(required=True)
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    professional_income = Money(required=True, allow_none=True, validate=validate.Range(min=0))
    conventioned_income = Money(required=True, allow_none=True, validate=validate.Range(min=0))
    source = fields.String(required=True, validate=validate.OneOf(["portal", "batch"]))
    declared_at = fields.AwareDateTime(required=True, format="iso")


class AssessmentLineV1(Schema):
    scheme = fields.String(required=True)
    label = fields.String(required=True)
    base = Money(required=True)
    rate = fields.Decimal(required=True, allow_none=True, as_string=True)
    fixed = Money(required=True)
    amount = Money(required=True)


class ContributionsRecalculatedV1(Schema):
    assessment_id = fields.UUID(required=True)
    declaration_id = fields.UUID(required=True)
    year = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["provisional", "regularised"]))
    parameters_version = fields.String(required=True)
    income_used = Money(required=True)
    income_declared = fields.Boolean(required=True)
    lines = fields.List(fields.Nested(AssessmentLineV1), required=True, validate=validate.Length(min=1))
    total = Money(required=True)
    previous_total = Money(required=True, allow_none=True)
    notes = fields.List(fields.String(), required=True)


class CallChangeLineV2(Schema):
    scheme = fields.String(required=True)
    label = fields.String(required=True)
    previous = Money(required=True)
    current = Money(required=True)
    difference = Money(required=True)


class CallChangeReasonV2(Schema):
    """``code``: income_changed, basis_changed, conventioned_income_changed, conventionne_changed,
    parameters_changed, estimate_surcharge; ``previous``/``current`` as text (amounts, versions, bases)."""

    code = fields.String(required=True)
    previous = fields.String(required=True, allow_none=True)
    current = fields.String(required=True, allow_none=True)


class CallChangesV2(Schema):
    """What changed since the previous call of the same year, and why."""

    previous_assessment_id = fields.UUID(required=True)
    previous_status = fields.String(required=True)
    previous_total = Money(required=True)
    difference = Money(required=True)
    lines = fields.List(fields.Nested(CallChangeLineV2), required=True)
    reasons = fields.List(fields.Nested(CallChangeReasonV2), required=True)


class ContributionsRecalculatedV2(Schema):
    """A new call of a member's year (the yearly cycle, docs/domain.md §3.3): ``status`` is the stage,
    provisional (on N-2 income), adjusted (on N-1) or regularised (on N). ``declaration_id`` is the
    declaration regularised (None for provisional and adjusted calls); ``basis`` where the income came from
    (income, no_income: 5 PASS, flat_start: start of activity, estimate: the member's estimate) and
    ``income_year`` its year; ``trigger`` what caused the call; ``changes`` the difference with the previous
    call of the year and why (None for the first call); ``surcharge`` the estimate surcharge included in
    ``total`` (regularisation only)."""

    assessment_id = fields.UUID(required=True)
    declaration_id = fields.UUID(required=True, allow_none=True)
    year = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["provisional", "adjusted", "regularised"]))
    basis = fields.String(required=True, validate=validate.OneOf(["income", "no_income", "flat_start",
                                                                  "estimate"]))
    income_year = fields.Integer(required=True, allow_none=True)
    trigger = fields.String(required=True, validate=validate.OneOf(["declaration", "campaign", "estimate"]))
    parameters_version = fields.String(required=True)
    income_used = Money(required=True)
    income_declared = fields.Boolean(required=True)
    lines = fields.List(fields.Nested(AssessmentLineV1), required=True, validate=validate.Length(min=1))
    total = Money(required=True)
    previous_total = Money(required=True, allow_none=True)
    changes = fields.Nested(CallChangesV2, required=True, allow_none=True)
    surcharge = Money(required=True, allow_none=True)
    notes = fields.List(fields.String(), required=True)


class AnnouncedCallV3(Schema):
    """A call announced in the message of another one (``also_announced``)."""

    assessment_id = fields.UUID(required=True)
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    status = fields.String(required=True, validate=validate.OneOf(["provisional", "adjusted", "regularised"]))


class ContributionsRecalculatedV3(ContributionsRecalculatedV2):
    """V2, plus which calls the member is told of in one message.

    A declaration of year N regularises N and, when it changes it, adjusts the
    call of N+1 in the same decision: the member gets one message for both.
    ``also_announced``: the other calls of the decision, announced in this
    call's message (the regularisation lists the adjusted call).
    ``announced_with``: the call whose message announces this one (the
    adjusted call names the regularisation), or None when the call is
    announced on its own. V2 events carry neither (each call on its own)."""

    also_announced = fields.List(fields.Nested(AnnouncedCallV3), required=True)
    announced_with = fields.UUID(required=True, allow_none=True)


class DocumentGeneratedV1(Schema):
    document_id = fields.UUID(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    issued_on = fields.Date(required=True)


class DocumentGeneratedV2(DocumentGeneratedV1):
    """V1 plus how the member is told, so that one declaration yields one message.

    ``notify`` false: the document is announced with another one of the same
    chain (the payment schedule respread by a new assessment is announced with
    its statement) or was asked for on screen (a certificate). ``also_issued``:
    titles of the other documents issued with this one and announced by this
    event (the regularisation notice issued with its statement)."""

    notify = fields.Boolean(required=True)
    also_issued = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                              required=True)


class DocumentGeneratedV3(DocumentGeneratedV2):
    """V2, but ``sha256`` may be null: the documents of the chain are rendered
    the first time someone reads them, not at issue, so the hash of their
    content is not known yet when they are announced (the documents service
    answers it once known: list_documents, verify). No consumer needs it."""

    sha256 = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(equal=64))


class NotificationSentV1(Schema):
    notification_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(["email", "post"]))
    document_id = fields.UUID(required=True, allow_none=True)
    reference = fields.String(required=True)


class NotificationFailedV1(Schema):
    notification_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(["email", "post"]))
    document_id = fields.UUID(required=True, allow_none=True)
    reason = fields.String(required=True)


class EmailBouncedV1(Schema):
    """An email was refused for good (SMTP 5xx): the address must be fixed."""

    address = fields.Email(required=True)
    smtp_code = fields.Integer(required=True, validate=validate.Range(min=500, max=599))
    reason = fields.String(required=True)
    notification_id = fields.UUID(required=True)


class InstalmentV1(Schema):
    number = fields.Integer(required=True, validate=validate.Range(min=1))
    due_date = fields.Date(required=True)
    amount = Money(required=True)


FREQUENCIES = ["monthly", "quarterly", "half_yearly"]


class ScheduleChangedV1(Schema):
    """A member's payment schedule of a year was created or changed (new assessment, new frequency)."""

    schedule_id = fields.UUID(required=True)
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    frequency = fields.String(required=True, validate=validate.OneOf(FREQUENCIES))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=validate.OneOf(["assessment", "frequency_changed"]))
    total = Money(required=True)
    previous_total = Money(required=True, allow_none=True)
    credit = Money(required=True)
    assessment_id = fields.UUID(required=True, allow_none=True)
    instalments = fields.List(fields.Nested(InstalmentV1), required=True, validate=validate.Length(min=1))


class PaymentReceivedV1(Schema):
    """A payment from a bank batch file; ``reference`` is the bank's, unique per payment."""

    reference = fields.String(required=True, validate=validate.Length(min=1, max=64))
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    amount = Money(required=True, validate=validate.Range(min=Decimal("0.01")))
    paid_on = fields.Date(required=True)
    source = fields.String(required=True, validate=validate.OneOf(["bank_file", "direct_debit"]))


class PasswordResetRequestedV1(Schema):
    """A member asked for a first-login / forgotten-password secret. The secret
    itself never travels on the bus: the sender asks accounts to issue it
    (``accounts.issue_reset_secret(request_id)``) right before sending."""

    request_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(["email", "post"]))
    expires_in_minutes = fields.Integer(required=True, validate=validate.Range(min=1))


class PasswordChangedV1(Schema):
    """A member's password was set (first login, forgotten password): tell them."""

    channel = fields.String(required=True, validate=validate.OneOf(["email", "post"]))
    reason = fields.String(required=True, validate=validate.OneOf(["reset_link", "letter_code",
                                                                   "profile"]))
    sessions_ended = fields.Integer(required=True, validate=validate.Range(min=0))
    changed_at = fields.AwareDateTime(required=True, format="iso")


class AccountLockedV1(Schema):
    """Too many failed logins: the account is locked until a reset or an advisor."""

    failures = fields.Integer(required=True, validate=validate.Range(min=1))
    locked_at = fields.AwareDateTime(required=True, format="iso")
    channel = fields.String(required=True, validate=validate.OneOf(["email", "post"]))


class ContactDetailsChangedV1(Schema):
    """A member changed their email, postal address or phone. ``previous_*`` let
    the old email or address be told."""

    changed = fields.List(fields.String(validate=validate.OneOf(["email", "address", "phone"])),
                          required=True, validate=validate.Length(min=1))
    previous_email = fields.String(required=True, allow_none=True)
    previous_address_lines = fields.List(fields.String(), required=True, allow_none=True)


class EmailVerificationRequestedV1(Schema):
    """A member gave a new email address: send it a confirmation link, asked of
    accounts (``issue_email_secret(change_id)``) right before sending."""

    change_id = fields.UUID(required=True)
    expires_in_minutes = fields.Integer(required=True, validate=validate.Range(min=1))


class CareerYearFlaggedV1(Schema):
    """A member says a year of their career record is wrong (contributions
    publishes it); messaging opens a thread with the fund, category
    ``retraite``, that refers to ``flag_id``."""

    flag_id = fields.UUID(required=True)
    year = fields.Integer(required=True, validate=validate.Range(min=1950, max=2100))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    flagged_at = fields.AwareDateTime(required=True, format="iso")


class CareerReviewResolvedV1(Schema):
    """An advisor closed the thread opened for a flagged career year (messaging
    publishes it); contributions marks the year's review resolved."""

    flag_id = fields.UUID(required=True)
    year = fields.Integer(required=True, validate=validate.Range(min=1950, max=2100))
    thread_id = fields.UUID(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["corrected", "confirmed"]))
    resolved_at = fields.AwareDateTime(required=True, format="iso")


class MessagePostedV1(Schema):
    """The fund posted a reply in a member's thread (messaging publishes it);
    notifications tells the member a new message is waiting, never its content."""

    thread_id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)
    category = fields.String(required=True, validate=validate.OneOf(
        ["cotisations", "retraite", "prevoyance", "compte", "autre"]))
    posted_at = fields.AwareDateTime(required=True, format="iso")



class CareerStatementCallV1(Schema):
    """The provisional or adjusted call a not-yet-regularised year is known by (what it was computed on)."""
    stage = fields.String(required=True, validate=validate.OneOf(["provisional", "adjusted"]))
    income_year = fields.Integer(required=True, allow_none=True)
    income = Money(required=True, allow_none=True)


class CareerStatementYearV1(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=1950, max=2100))
    income = Money(required=True, allow_none=True)
    quarters = fields.Integer(required=True, validate=validate.Range(min=0, max=4))
    rb_points = Money(required=True)  # points, two decimals
    rc_points = Money(required=True)
    # optional (added with the yearly cycle; absent = final, as before): a provisional year's figures are
    # printed apart from the final ones, and ``call`` says which income a year only called was called on
    status = fields.String(load_default="final", validate=validate.OneOf(["final", "provisional"]))
    call = fields.Nested(CareerStatementCallV1, allow_none=True, load_default=None)


class CareerStatementRequestedV1(Schema):
    """A member asked for their career statement (contributions publishes it with the
    record's figures); documents renders, stores and lists it (``career_statement``)."""

    request_id = fields.UUID(required=True)
    as_of = fields.Date(required=True)
    years = fields.List(fields.Nested(CareerStatementYearV1), required=True)

CONTRACTS: dict[tuple[str, int], type[Schema]] = {
    ("income_declared", 1): IncomeDeclaredV1,
    ("contributions_recalculated", 1): ContributionsRecalculatedV1,
    ("contributions_recalculated", 2): ContributionsRecalculatedV2,
    ("contributions_recalculated", 3): ContributionsRecalculatedV3,
    ("document_generated", 1): DocumentGeneratedV1,
    ("document_generated", 2): DocumentGeneratedV2,
    ("document_generated", 3): DocumentGeneratedV3,
    ("notification_sent", 1): NotificationSentV1,
    ("notification_failed", 1): NotificationFailedV1,
    ("email_bounced", 1): EmailBouncedV1,
    ("schedule_changed", 1): ScheduleChangedV1,
    ("payment_received", 1): PaymentReceivedV1,
    ("password_reset_requested", 1): PasswordResetRequestedV1,
    ("password_changed", 1): PasswordChangedV1,
    ("account_locked", 1): AccountLockedV1,
    ("contact_details_changed", 1): ContactDetailsChangedV1,
    ("email_verification_requested", 1): EmailVerificationRequestedV1,
    ("career_year_flagged", 1): CareerYearFlaggedV1,
    ("career_review_resolved", 1): CareerReviewResolvedV1,
    ("message_posted", 1): MessagePostedV1,
    ("career_statement_requested", 1): CareerStatementRequestedV1,
}
LATEST_VERSION = {etype: max(v for t, v in CONTRACTS if t == etype) for etype, _ in CONTRACTS}


@dataclass(frozen=True)
class Event:
    """A validated event. ``payload`` holds deserialised values (Decimal, UUID...)."""

    event_id: str
    type: str
    version: int
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None
    member_id: str | None
    payload: dict
    raw: dict


def _json_ready(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


@functools.cache
def _schema(contract: type[Schema]) -> Schema:
    """One instance per contract: building a marshmallow schema deep-copies
    its fields (a large share of an event's cost); an instance holds no
    per-call state, so every greenthread may share it."""
    return contract()


@functools.cache
def _load(contract: type[Schema]):
    """``_schema(contract).load``, quicker on valid data, same errors (``carpimko.fastload``)."""
    return fastload.loader(_schema(contract), MoneyField)


@functools.cache
def _dump(contract: type[Schema]):
    """``_schema(contract).dump``, quicker on plain payloads, same output (``carpimko.fastload``)."""
    return fastload.dumper(_schema(contract), MoneyField)


@functools.cache
def _errors(contract: type[Schema]):
    """``_schema(contract).validate``, quicker on valid data, same errors (``carpimko.fastload``)."""
    return fastload.validator(_schema(contract), MoneyField)


def new_event(type: str, payload: dict, *, member_id: str | None,
              correlation_id: str | None = None, cause: Event | None = None,
              event_id: str | None = None, occurred_at: datetime | None = None) -> dict:
    """Build and validate an envelope ready for the wire (a JSON-able dict).

    The payload is serialised through its contract, so a producer can never
    emit what a consumer would reject.
    """
    version = LATEST_VERSION.get(type)
    if version is None:
        raise InvalidEvent(f"unknown event type {type!r}")
    contract = CONTRACTS[(type, version)]
    try:
        wire_payload = _dump(contract)(payload)
    except (ValueError, TypeError, ArithmeticError, AttributeError) as exc:
        raise InvalidEvent(f"invalid {type} payload: {exc}") from None
    errors = _errors(contract)(wire_payload)
    if errors:
        raise InvalidEvent(f"invalid {type} payload: {errors}")
    eid = event_id or str(uuid.uuid4())
    envelope = {
        "event_id": eid,
        "type": type,
        "version": version,
        "occurred_at": (occurred_at or datetime.now(timezone.utc)).isoformat(),
        "correlation_id": correlation_id or (cause.correlation_id if cause else eid),
        "causation_id": cause.event_id if cause else None,
        "member_id": member_id,
        "payload": wire_payload,
    }
    errors = _errors(EnvelopeSchema)(envelope)
    if errors:
        raise InvalidEvent(f"invalid {type} envelope: {errors}")
    return envelope


def parse_event(body) -> Event:
    """Validate an incoming message body; raise :class:`InvalidEvent` with the reason."""
    if not isinstance(body, dict):
        raise InvalidEvent(f"event body must be a JSON object, got {type(body).__name__}")
    try:
        envelope = _load(EnvelopeSchema)(body)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid envelope: {exc.messages}") from None
    contract = CONTRACTS.get((envelope["type"], envelope["version"]))
    if contract is None:
        raise InvalidEvent(f"unknown event type/version {envelope['type']!r} v{envelope['version']}")
    try:
        payload = _load(contract)(envelope["payload"])
    except ValidationError as exc:
        raise InvalidEvent(f"invalid {envelope['type']} payload: {exc.messages}") from None
    return Event(
        event_id=str(envelope["event_id"]),
        type=envelope["type"],
        version=envelope["version"],
        occurred_at=envelope["occurred_at"],
        correlation_id=envelope["correlation_id"],
        causation_id=envelope["causation_id"],
        member_id=envelope["member_id"],
        payload=payload,
        raw=body,
    )
