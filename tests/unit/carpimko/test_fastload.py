"""The quick path of the contracts (carpimko/fastload.py): never accepts what marshmallow refuses, gives the
same result when it accepts, and leaves refusals (and their wording) to marshmallow."""
import copy
import json
import random
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from marshmallow import Schema, ValidationError, fields

from carpimko import fastload
from carpimko.events import (CONTRACTS, EnvelopeSchema, InvalidEvent, Money, MoneyField, _schema, new_event,
                             parse_event)
from tests.support import factories

D = Decimal
FILE = "1234567"
ABSENT = object()  # a key taken out of the data

# Values a wire payload may hold, right or wrong for some field: each is put in every place of every sample.
WIRE_VALUES = [
    None, True, False, 0, 1, -1, 2026, 1.5, float("nan"), "", " ", "abc", "12.345", "12.34", "12.3", "-0.01",
    "0.00", "-0", "NaN", "-Infinity", "sNaN", "1e30", "1E+2", "1_000.00", " 12.00", "12.00\n", "2026", "0",
    "0b7e2a52-6c1e-4e1f-9d3b-2f4a6c8e0a11", "0b7e2a526c1e4e1f9d3b2f4a6c8e0a11", "urn:uuid:0b7e2a52-6c1e-4e1f-9d3b-2f4a6c8e0a11",
    "2026-11-28T13:05:00", "2026-11-28T13:05:00+00:00", "2026-11-28T13:05:00Z", "2026-11-28", "2026-02-30",
    [], [{}], [None], ["x"], {}, {"a": 1}, "a" * 64, "a" * 65, "1234567", "123456789", "1234567\n", "12345",
    "provisional", "regularised", "monthly", "email", "post", "portal", "x@example.fr", "not an email",
    "x" * 64, "x" * 65, b"bytes",
]


def wire_samples():
    """Valid wire payloads of many contracts, as producers emit them (type, version, payload)."""
    bodies = [factories.income_declared(FILE),
              factories.contributions_recalculated(FILE, previous_total="9000.00"),
              factories.schedule_changed(FILE),
              factories.document_generated(FILE, also_issued=("Avis de régularisation 2026",)),
              new_event("contributions_recalculated", {
                  "assessment_id": str(uuid.uuid4()), "declaration_id": None, "year": 2026, "status": "adjusted",
                  "basis": "income", "income_year": 2025, "trigger": "declaration",
                  "parameters_version": "2026.1", "income_used": D("40000"), "income_declared": True,
                  "lines": factories.STATEMENT_LINES, "total": D("9126"), "previous_total": D("9000"),
                  "surcharge": D("12.5"), "notes": ["a note"],
                  "changes": {"previous_assessment_id": str(uuid.uuid4()), "previous_status": "provisional",
                              "previous_total": D("9000"), "difference": D("126"),
                              "lines": [{"scheme": "rc", "label": "RC", "previous": D("1"), "current": D("2"),
                                         "difference": D("1")}],
                              "reasons": [{"code": "basis_changed", "previous": "income:2024",
                                           "current": None}]},
                  "announced_with": str(uuid.uuid4()), "also_announced": []}, member_id=FILE),
              factories.contributions_recalculated(FILE, year=2025, also_announced=(
                  (str(uuid.uuid4()), 2026, "adjusted"),)),
              new_event("email_bounced", {"address": "claire@example.fr", "smtp_code": 550, "reason": "no",
                                          "notification_id": str(uuid.uuid4())}, member_id=FILE),
              new_event("password_changed", {"channel": "email", "reason": "profile", "sessions_ended": 0,
                                             "changed_at": datetime.now(timezone.utc)}, member_id=FILE),
              new_event("payment_received", {"reference": "R1", "year": 2026, "amount": D("10"),
                                              "paid_on": date(2026, 1, 5), "source": "bank_file"},
                        member_id=FILE),
              new_event("career_statement_requested", {
                  "request_id": str(uuid.uuid4()), "as_of": date(2026, 11, 28),
                  "years": [{"year": 2024, "income": D("1"), "quarters": 4, "rb_points": D("1.5"),
                             "rc_points": D("2"), "status": "provisional",
                             "call": {"stage": "adjusted", "income_year": 2023, "income": None}},
                            {"year": 2023, "income": None, "quarters": 0, "rb_points": D("0"),
                             "rc_points": D("0")}]}, member_id=FILE),
              new_event("contact_details_changed", {"changed": ["email", "address"], "previous_email": None,
                                                    "previous_address_lines": ["1 rue", "Paris"]}, member_id=FILE)]
    samples = [(b["type"], b["version"], json.loads(json.dumps(b["payload"]))) for b in bodies]
    v1 = {k: v for k, v in samples[3][2].items() if k not in ("notify", "also_issued")}
    samples.append(("document_generated", 1, v1))
    return samples


def places(data, path=()):
    """Every place in ``data`` (dict keys; the first element of each list), as a path."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield path + (key,)
            yield from places(value, path + (key,))
    elif isinstance(data, list) and data:
        yield path + (0,)
        yield from places(data[0], path + (0,))


def replaced(data, path, value):
    data = copy.deepcopy(data)
    target = data
    for step in path[:-1]:
        target = target[step]
    if value is ABSENT:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def mutations(data):
    yield data
    for path in places(data):
        for value in WIRE_VALUES + [ABSENT]:
            yield replaced(data, path, value)
        if isinstance(path[-1], str):
            yield replaced(data, path[:-1] + ("unexpected",), 1)  # an unknown key next to it
    yield {**data, "iban": "FR76..."}


def outcome(call, data):
    """What a call gives: its result, or the kind of its exception and what it says."""
    try:
        return "ok", call(data)
    except ValidationError as exc:
        return "refused", exc.messages
    except Exception as exc:  # noqa: BLE001 - e.g. decimal.InvalidOperation, raised by marshmallow itself
        return type(exc).__name__, str(exc)


def test_every_contract_and_the_envelope_have_a_quick_path():
    """Otherwise they would silently stay on the slow path."""
    for contract in [EnvelopeSchema, *CONTRACTS.values()]:
        fastload._compile_schema(_schema(contract), MoneyField)
        fastload._compile_dump(_schema(contract), MoneyField)


@pytest.mark.parametrize("etype, version, payload", wire_samples(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_quick_load_accepts_only_what_marshmallow_accepts_and_gives_the_same(etype, version, payload):
    schema = _schema(CONTRACTS[(etype, version)])
    quick = fastload._compile_schema(schema, MoneyField)
    load = fastload.loader(schema, MoneyField)
    validate = fastload.validator(schema, MoneyField)
    assert quick(payload) == schema.load(payload)  # the valid sample itself goes the quick way
    accepted = refused = 0
    for number, data in enumerate(mutations(payload)):
        expected = outcome(schema.load, data)
        assert expected[0] in ("ok", "refused"), data  # anything else escapes parse_event: no dead letter
        try:
            result = quick(data)
        except Exception:  # noqa: BLE001 - gave up: marshmallow decides
            refused += 1
        else:
            accepted += 1
            assert expected == ("ok", result), data
        if number % 5 == 0:  # the wrappers: the quick result, or marshmallow's own (slow: one in five)
            assert outcome(load, data) == expected, data
            if expected[0] in ("ok", "refused"):
                assert validate(data) == ({} if expected[0] == "ok" else expected[1]), data
    assert accepted > 1 and refused > 100


def test_quick_envelope_load_is_marshmallow_s():
    body = json.loads(json.dumps(factories.schedule_changed(FILE)))
    schema = _schema(EnvelopeSchema)
    quick = fastload._compile_schema(schema, MoneyField)
    assert quick(body) == schema.load(body)
    for data in mutations({k: v for k, v in body.items() if k != "payload"}):
        data = {**data, "payload": body["payload"]} if "iban" not in data else data
        expected = outcome(schema.load, data)
        try:
            result = quick(data)
        except Exception:  # noqa: BLE001
            pass
        else:
            assert expected == ("ok", result), data
        assert outcome(fastload.loader(schema, MoneyField), data) == expected, data


# Values a producer may pass: Python objects, right or wrong.
PRODUCER_VALUES = WIRE_VALUES + [
    D("12.345"), D("12.3"), D("-0"), D("NaN"), D("sNaN"), D("Infinity"), D("1E+30"), D("1E+2"), 12.5,
    uuid.UUID("0b7e2a52-6c1e-4e1f-9d3b-2f4a6c8e0a11"), date(2026, 11, 28), datetime(2026, 11, 28, 13, 5),
    datetime(2026, 11, 28, 13, 5, tzinfo=timezone.utc), ("a", "b"), 10 ** 30,
]


def producer_samples():
    rng = random.Random(2026)
    samples = []
    for etype, version, payload in wire_samples():
        samples.append((etype, version, payload, False))  # wire-shaped: marshmallow may not dump some of it
        loaded = _schema(CONTRACTS[(etype, version)]).load(payload)  # Decimal, UUID, datetime...
        samples.append((etype, version, loaded, True))
    return rng.sample(samples, len(samples))


@pytest.mark.parametrize("etype, version, payload, python", producer_samples(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_quick_dump_gives_what_marshmallow_gives(etype, version, payload, python):
    schema = _schema(CONTRACTS[(etype, version)])
    quick = fastload._compile_dump(schema, MoneyField)
    dump = fastload.dumper(schema, MoneyField)
    if python:
        assert quick(payload) == schema.dump(payload)  # what producers pass goes the quick way
    for path in places(payload):
        for value in PRODUCER_VALUES + [ABSENT]:
            data = replaced(payload, path, value)
            expected = outcome(schema.dump, data)
            try:
                result = quick(data)
            except Exception:  # noqa: BLE001 - gave up: marshmallow does it
                pass
            else:
                assert expected == ("ok", result), data
            assert outcome(dump, data) == expected, data


def test_a_schema_with_what_the_quick_path_does_not_know_stays_on_marshmallow():
    class WithOther(Schema):
        when = fields.TimeDelta()
        amount = Money(required=True)

    schema = WithOther()
    assert fastload.loader(schema, MoneyField) == schema.load
    assert fastload.dumper(schema, MoneyField) == schema.dump


# --- the refusals, through new_event and parse_event, worded by marshmallow as before ----------------------

def declared(**overrides):
    return {"declaration_id": str(uuid.uuid4()), "year": 2026, "professional_income": D("40000"),
            "conventioned_income": None, "source": "portal",
            "declared_at": datetime(2026, 11, 28, 13, 5, tzinfo=timezone.utc), **overrides}


def test_parse_refuses_money_with_three_decimals_in_nested_lines():
    body = json.loads(json.dumps(factories.contributions_recalculated(FILE)))
    body["payload"]["lines"][2]["amount"] = "3480.001"
    with pytest.raises(InvalidEvent) as info:
        parse_event(body)
    assert str(info.value) == ("invalid contributions_recalculated payload: "
                               "{'lines': {2: {'amount': ['at most two decimal places']}}}")


def test_parse_refuses_an_unknown_field_in_a_nested_instalment():
    body = json.loads(json.dumps(factories.schedule_changed(FILE)))
    body["payload"]["instalments"][0]["iban"] = "FR76..."
    with pytest.raises(InvalidEvent) as info:
        parse_event(body)
    assert str(info.value) == ("invalid schedule_changed payload: "
                               "{'instalments': {0: {'iban': ['Unknown field.']}}}")


def test_new_event_refuses_a_naive_datetime_as_marshmallow_words_it():
    with pytest.raises(InvalidEvent) as info:
        new_event("income_declared", declared(declared_at=datetime(2026, 11, 28, 13, 5)), member_id=FILE)
    assert str(info.value) == "invalid income_declared payload: {'declared_at': ['Not a valid aware datetime.']}"


@pytest.mark.parametrize("member_id", ["12345", "1234567\n", "12345678", ""])
def test_new_event_refuses_a_bad_file_number(member_id):
    with pytest.raises(InvalidEvent) as info:
        new_event("income_declared", declared(), member_id=member_id)
    assert str(info.value) == ("invalid income_declared envelope: "
                               "{'member_id': ['file number must be 7 or 9 digits']}")


def test_new_event_refuses_a_too_long_correlation_or_causation_id():
    with pytest.raises(InvalidEvent, match="correlation_id"):
        new_event("income_declared", declared(), member_id=FILE, correlation_id="x" * 65)
    cause = parse_event(new_event("income_declared", declared(), member_id=FILE))
    cause = type(cause)(**{**cause.__dict__, "event_id": "x" * 65})
    with pytest.raises(InvalidEvent, match="causation_id"):
        new_event("income_declared", declared(), member_id=FILE, cause=cause)


def test_new_event_refuses_a_money_value_that_is_not_a_number():
    with pytest.raises(InvalidEvent, match="invalid income_declared payload"):
        new_event("income_declared", declared(professional_income=D("NaN")), member_id=FILE)
    with pytest.raises(InvalidEvent, match="invalid income_declared payload"):
        new_event("income_declared", declared(professional_income="abc"), member_id=FILE)


@pytest.mark.parametrize("amount", ["1e30", "123456789012345678901234567890.00"])
def test_parse_refuses_money_too_long_to_quantize(amount):
    """It used to escape parse_event as decimal.InvalidOperation: not refused, so never dead-lettered."""
    body = json.loads(json.dumps(factories.income_declared(FILE)))
    body["payload"]["professional_income"] = amount
    with pytest.raises(InvalidEvent) as info:
        parse_event(body)
    assert str(info.value) == "invalid income_declared payload: {'professional_income': ['Not a valid number.']}"
