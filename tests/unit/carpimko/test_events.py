"""The event envelope and its contracts (carpimko/events.py)."""
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from carpimko.events import LATEST_VERSION, InvalidEvent, new_event, parse_event

D = Decimal
DECLARATION_ID = "0b7e2a52-6c1e-4e1f-9d3b-2f4a6c8e0a11"
DECLARED_AT = datetime(2026, 11, 28, 13, 5, tzinfo=timezone.utc)


def declared(**overrides):
    payload = {"declaration_id": DECLARATION_ID, "year": 2026,
               "professional_income": D("40000"), "conventioned_income": D("12543.6"),
               "source": "portal", "declared_at": DECLARED_AT}
    payload.update(overrides)
    return payload


def envelope(**overrides):
    body = new_event("income_declared", declared(), member_id="1234567")
    body.update(overrides)
    return body


# --- new_event ---------------------------------------------------------------------------

def test_new_event_builds_a_complete_envelope():
    before = datetime.now(timezone.utc)
    body = new_event("income_declared", declared(), member_id="1234567")
    after = datetime.now(timezone.utc)

    assert set(body) == {"event_id", "type", "version", "occurred_at", "correlation_id",
                         "causation_id", "member_id", "payload"}
    assert str(uuid.UUID(body["event_id"])) == body["event_id"]
    assert uuid.UUID(body["event_id"]).version == 4
    assert body["type"] == "income_declared"
    assert body["version"] == 1 == LATEST_VERSION["income_declared"]
    occurred = datetime.fromisoformat(body["occurred_at"])
    assert occurred.utcoffset() == timedelta(0)
    assert before <= occurred <= after
    assert body["correlation_id"] == body["event_id"]  # starts its own chain
    assert body["causation_id"] is None
    assert body["member_id"] == "1234567"
    assert body["payload"] == {
        "declaration_id": DECLARATION_ID, "year": 2026,
        "professional_income": "40000.00", "conventioned_income": "12543.60",
        "source": "portal", "declared_at": "2026-11-28T13:05:00+00:00",
    }
    json.dumps(body)  # wire-ready


def test_new_event_ids_are_unique():
    ids = {new_event("income_declared", declared(), member_id="1234567")["event_id"]
           for _ in range(20)}
    assert len(ids) == 20


def test_explicit_ids_and_timestamp_are_kept():
    at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    body = new_event("income_declared", declared(), member_id="123456789",
                     event_id="11111111-1111-4111-8111-111111111111",
                     correlation_id="corr-1", occurred_at=at)
    assert body["event_id"] == "11111111-1111-4111-8111-111111111111"
    assert body["correlation_id"] == "corr-1"
    assert body["occurred_at"] == "2026-03-01T09:30:00+01:00"
    assert body["member_id"] == "123456789"


def test_cause_gives_causation_and_inherits_correlation():
    first = parse_event(new_event("income_declared", declared(), member_id="1234567",
                                  correlation_id=DECLARATION_ID))
    second = new_event("document_generated",
                       {"document_id": str(uuid.uuid4()), "kind": "contribution_statement",
                        "title": "Relevé de cotisations 2026", "sha256": "a" * 64,
                        "issued_on": date(2026, 11, 28), "notify": True, "also_issued": []},
                       member_id="1234567", cause=first)
    assert second["causation_id"] == first.event_id
    assert second["correlation_id"] == DECLARATION_ID
    assert second["event_id"] != first.event_id
    assert second["payload"]["issued_on"] == "2026-11-28"


def test_explicit_correlation_wins_over_the_cause():
    cause = parse_event(envelope(correlation_id="from-cause"))
    body = new_event("income_declared", declared(), member_id="1234567", cause=cause,
                     correlation_id="explicit")
    assert body["correlation_id"] == "explicit"
    assert body["causation_id"] == cause.event_id


@pytest.mark.parametrize("amount, wire", [
    (D("9126"), "9126.00"), (D("0"), "0.00"), (D("12543.66"), "12543.66"),
    (D("0.5"), "0.50"), (D("99999999.99"), "99999999.99"),
])
def test_money_is_a_two_place_string(amount, wire):
    body = new_event("income_declared", declared(professional_income=amount,
                                                 conventioned_income=None),
                     member_id="1234567")
    assert body["payload"]["professional_income"] == wire
    assert body["payload"]["conventioned_income"] is None


def test_money_in_nested_lines_and_rate_as_exact_string():
    lines = [{"scheme": "rid", "label": "Invalidité-décès", "base": D("0"), "rate": None,
              "fixed": D("1022"), "amount": D("1022")},
             {"scheme": "rc", "label": "Régime complémentaire", "base": D("40000"),
              "rate": D("8.70"), "fixed": D("0"), "amount": D("3480")}]
    body = new_event("contributions_recalculated", {
        "assessment_id": str(uuid.uuid4()), "declaration_id": DECLARATION_ID, "year": 2026,
        "status": "regularised", "parameters_version": "2026.1", "income_used": D("40000"),
        "income_declared": True, "lines": lines, "total": D("4502"),
        "previous_total": D("4400.1"), "notes": [], "basis": "income", "income_year": 2026,
        "trigger": "declaration", "changes": None, "surcharge": None, "announced_with": None,
        "also_announced": []}, member_id="1234567")
    p = body["payload"]
    assert p["lines"][0] == {"scheme": "rid", "label": "Invalidité-décès", "base": "0.00",
                             "rate": None, "fixed": "1022.00", "amount": "1022.00"}
    assert p["lines"][1]["rate"] == "8.70"
    assert (p["total"], p["previous_total"], p["income_used"]) == ("4502.00", "4400.10", "40000.00")


def test_unknown_type_is_invalid():
    with pytest.raises(InvalidEvent, match="unknown event type 'income_declared_typo'"):
        new_event("income_declared_typo", declared(), member_id="1234567")


@pytest.mark.parametrize("overrides, field", [
    ({"professional_income": D("-1")}, "professional_income"),
    ({"conventioned_income": D("-0.01")}, "conventioned_income"),
    ({"year": 1999}, "year"),
    ({"year": 2101}, "year"),
    ({"source": "fax"}, "source"),
    ({"declaration_id": "not-a-uuid"}, "declaration_id"),
    ({"declared_at": datetime(2026, 11, 28, 13, 5)}, "declared_at"),  # naive
])
def test_invalid_payload_names_the_field(overrides, field):
    with pytest.raises(InvalidEvent) as info:
        new_event("income_declared", declared(**overrides), member_id="1234567")
    message = str(info.value)
    assert message.startswith("invalid income_declared payload: ")
    assert repr(field) in message
    others = set(declared()) - {field}
    assert not any(repr(other) in message for other in others)


def test_missing_payload_field_is_invalid():
    payload = declared()
    del payload["source"]
    with pytest.raises(InvalidEvent, match=r"'source': \['Missing data for required field.'\]"):
        new_event("income_declared", payload, member_id="1234567")


def test_sha256_length_is_checked():
    with pytest.raises(InvalidEvent, match="sha256"):
        new_event("document_generated",
                  {"document_id": str(uuid.uuid4()), "kind": "contribution_statement",
                   "title": "t", "sha256": "abc", "issued_on": date(2026, 1, 1),
                   "notify": True, "also_issued": []},
                  member_id="1234567")


@pytest.mark.parametrize("overrides", [
    {"year": "abc"},
    {"professional_income": "abc"},
    {"declared_at": "yesterday"},
])
def test_wrongly_typed_payload_value_is_invalid_event(overrides):
    with pytest.raises(InvalidEvent):
        new_event("income_declared", declared(**overrides), member_id="1234567")


@pytest.mark.parametrize("kwargs", [
    {"member_id": "12345"},
    {"occurred_at": datetime(2026, 11, 28, 13, 5)},
    {"correlation_id": "x" * 65},
])
def test_new_event_never_builds_what_parse_event_rejects(kwargs):
    try:
        body = new_event("income_declared", declared(), **{"member_id": "1234567", **kwargs})
    except InvalidEvent:
        return
    parse_event(body)


# --- parse_event -------------------------------------------------------------------------

@pytest.mark.parametrize("body", [None, [], "{}", 42, b"{}"])
def test_parse_rejects_non_objects(body):
    with pytest.raises(InvalidEvent, match="event body must be a JSON object, got "
                       + type(body).__name__):
        parse_event(body)


@pytest.mark.parametrize("key", ["event_id", "type", "version", "occurred_at",
                                 "correlation_id", "causation_id", "member_id", "payload"])
def test_parse_rejects_missing_envelope_key(key):
    body = envelope()
    del body[key]
    with pytest.raises(InvalidEvent, match=f"invalid envelope: .*'{key}'"):
        parse_event(body)


def test_parse_rejects_unknown_version():
    with pytest.raises(InvalidEvent, match="unknown event type/version 'income_declared' v2"):
        parse_event(envelope(version=2))


def test_parse_rejects_unknown_type():
    with pytest.raises(InvalidEvent, match="unknown event type/version 'income_withdrawn' v1"):
        parse_event(envelope(type="income_withdrawn"))


@pytest.mark.parametrize("overrides", [
    {"version": 0}, {"event_id": "123"}, {"occurred_at": "2026-11-28T13:05:00"},
    {"correlation_id": ""}, {"payload": "x"},
])
def test_parse_rejects_bad_envelope_values(overrides):
    with pytest.raises(InvalidEvent, match="invalid envelope"):
        parse_event(envelope(**overrides))


@pytest.mark.parametrize("member_id", ["123456", "12345678", "1234567890", "12345a7", "",
                                       " 1234567"])
def test_parse_rejects_bad_file_number(member_id):
    with pytest.raises(InvalidEvent, match="member_id.*file number must be 7 or 9 digits"):
        parse_event(envelope(member_id=member_id))


def test_parse_accepts_no_member():
    assert parse_event(envelope(member_id=None)).member_id is None


@pytest.mark.parametrize("field", ["professional_income", "conventioned_income"])
def test_parse_rejects_negative_income(field):
    body = envelope()
    body["payload"] = {**body["payload"], field: "-0.01"}
    with pytest.raises(InvalidEvent, match=f"invalid income_declared payload: .*'{field}'"):
        parse_event(body)


def test_parse_rejects_nan_income():
    body = envelope()
    body["payload"] = {**body["payload"], "professional_income": "NaN"}
    with pytest.raises(InvalidEvent, match="professional_income"):
        parse_event(body)


def test_parse_rejects_unknown_payload_field():
    body = envelope()
    body["payload"] = {**body["payload"], "iban": "FR76..."}
    with pytest.raises(InvalidEvent, match="iban"):
        parse_event(body)


def test_parse_rejects_money_with_three_decimals():
    body = envelope()
    body["payload"] = {**body["payload"], "professional_income": "12.345"}
    with pytest.raises(InvalidEvent, match="professional_income"):
        parse_event(body)


def test_parse_rejects_file_number_with_trailing_newline():
    with pytest.raises(InvalidEvent):
        parse_event(envelope(member_id="1234567\n"))


def test_round_trip():
    cause = parse_event(envelope())
    body = new_event("income_declared", declared(conventioned_income=None), member_id="1234567",
                     cause=cause)
    wire = json.loads(json.dumps(body))
    event = parse_event(wire)
    assert event.event_id == body["event_id"]
    assert event.type == "income_declared"
    assert event.version == 1
    assert event.occurred_at == datetime.fromisoformat(body["occurred_at"])
    assert event.occurred_at.tzinfo is not None
    assert event.correlation_id == cause.correlation_id
    assert event.causation_id == cause.event_id
    assert event.member_id == "1234567"
    assert event.payload == {
        "declaration_id": uuid.UUID(DECLARATION_ID), "year": 2026,
        "professional_income": D("40000.00"), "conventioned_income": None,
        "source": "portal", "declared_at": DECLARED_AT,
    }
    assert isinstance(event.payload["professional_income"], Decimal)
    assert event.raw is wire
    # re-serialising the parsed payload gives the same wire payload
    again = new_event("income_declared", event.payload, member_id=event.member_id)
    assert again["payload"] == body["payload"]


def test_contributions_recalculated_v1_still_parses_and_v2_carries_the_stage():
    """V2 added the adjusted stage and what a call needs to be explained; V1 events still in queues parse."""
    from carpimko.events import parse_event
    v1 = {"event_id": str(uuid.uuid4()), "type": "contributions_recalculated", "version": 1,
          "occurred_at": "2026-11-28T10:00:00+00:00", "correlation_id": DECLARATION_ID,
          "causation_id": None, "member_id": "1234567",
          "payload": {"assessment_id": str(uuid.uuid4()), "declaration_id": DECLARATION_ID, "year": 2026,
                      "status": "provisional", "parameters_version": "2026.1", "income_used": "40000.00",
                      "income_declared": True,
                      "lines": [{"scheme": "rid", "label": "Invalidité-décès", "base": "0.00", "rate": None,
                                 "fixed": "1022.00", "amount": "1022.00"}],
                      "total": "1022.00", "previous_total": None, "notes": []}}
    assert parse_event(v1).payload["status"] == "provisional"
    with pytest.raises(InvalidEvent, match="status"):
        parse_event({**v1, "payload": {**v1["payload"], "status": "adjusted"}})
    body = new_event("contributions_recalculated", {
        "assessment_id": str(uuid.uuid4()), "declaration_id": None, "year": 2026, "status": "adjusted",
        "basis": "income", "income_year": 2025, "trigger": "declaration", "parameters_version": "2026.1",
        "income_used": D("40000"), "income_declared": True, "lines": v1["payload"]["lines"],
        "total": D("1022"), "previous_total": D("1000"), "surcharge": None, "notes": [],
        "changes": {"previous_assessment_id": str(uuid.uuid4()), "previous_status": "provisional",
                    "previous_total": D("1000"), "difference": D("22"),
                    "lines": [{"scheme": "rid", "label": "Invalidité-décès", "previous": D("1000"),
                               "current": D("1022"), "difference": D("22")}],
                    "reasons": [{"code": "basis_changed", "previous": "income:2024",
                                 "current": "income:2025"}]},
        "announced_with": None, "also_announced": []}, member_id="1234567")
    assert body["version"] == 3
    event = parse_event(body)
    assert event.payload["status"] == "adjusted" and event.payload["declaration_id"] is None
    assert body["payload"]["changes"]["difference"] == "22.00"
def test_document_generated_v2_says_who_is_told_and_v1_still_parses():
    payload = {"document_id": str(uuid.uuid4()), "kind": "payment_schedule",
               "title": "Échéancier de paiement 2026", "sha256": "a" * 64,
               "issued_on": date(2026, 11, 28)}
    with pytest.raises(InvalidEvent, match="notify"):
        new_event("document_generated", {**payload, "also_issued": []}, member_id="1234567")
    v2 = new_event("document_generated", {**payload, "notify": False, "also_issued": []},
                   member_id="1234567")
    assert v2["version"] == 3 == LATEST_VERSION["document_generated"]
    assert parse_event(v2).payload["notify"] is False
    v1 = {**v2, "version": 1, "payload": {k: v for k, v in v2["payload"].items()
                                          if k not in ("notify", "also_issued")}}
    parsed = parse_event(v1)
    assert parsed.version == 1 and "notify" not in parsed.payload


def test_document_generated_v3_may_omit_the_hash_of_a_document_not_rendered_yet():
    payload = {"document_id": str(uuid.uuid4()), "kind": "contribution_statement",
               "title": "Relevé de cotisations 2026", "sha256": None,
               "issued_on": date(2026, 11, 28), "notify": True, "also_issued": []}
    v3 = new_event("document_generated", payload, member_id="1234567")
    assert v3["version"] == 3 and v3["payload"]["sha256"] is None
    absent = {**v3, "payload": {k: v for k, v in v3["payload"].items() if k != "sha256"}}
    assert parse_event(absent).payload["sha256"] is None
    with pytest.raises(InvalidEvent, match="sha256"):
        new_event("document_generated", {**payload, "sha256": "abc"}, member_id="1234567")
    # a V2 event still needs it
    with pytest.raises(InvalidEvent):
        parse_event({**v3, "version": 2})
