"""Contact details rules and the profile use cases (services/accounts/profile.py)."""
import json

import pytest
from sqlalchemy import select

from carpimko.errors import InvalidRequest
from services.accounts import authentication, profile
from services.accounts.domain import contact_rules, secrets
from services.accounts.models import EmailChange, Member, Outbox


@pytest.mark.parametrize("typed, stored", [
    ("06 12 34 56 78", "+33612345678"), ("01.23.45.67.89", "+33123456789"),
    ("+32 2 123 45 67", "+3221234567"), ("", None), (None, None),
])
def test_phone_numbers(typed, stored):
    assert contact_rules.check_phone(typed) == (stored, {})


@pytest.mark.parametrize("typed", ["12345", "0012345678", "+0123456789", "06 12 34 56 7x"])
def test_bad_phone_numbers(typed):
    assert contact_rules.check_phone(typed) == (None, {"phone": ["contact_phone"]})


@pytest.mark.parametrize("typed, ok", [
    ("Claire.Martin@Example.FR", "Claire.Martin@example.fr"), ("a+b@sub.example.org", None),
])
def test_emails(typed, ok):
    assert contact_rules.check_email(typed) == (ok or typed, {})


@pytest.mark.parametrize("typed", ["claire", "claire@", "@example.fr", "a..b@example.fr",
                                   "claire@example", "x" * 250 + "@example.fr"])
def test_bad_emails(typed):
    assert contact_rules.check_email(typed)[1] == {"email": ["contact_email"]}


def test_french_and_foreign_addresses():
    fr, errors = contact_rules.check_address({"line1": " 12  rue des Lilas ", "postcode": "69003",
                                              "city": "Lyon"})
    assert errors == {} and fr == {"line1": "12 rue des Lilas", "line2": None,
                                   "postcode": "69003", "city": "Lyon", "country": "France"}
    abroad, errors = contact_rules.check_address({"line1": "Rue Neuve 1", "postcode": "",
                                                  "city": "Bruxelles", "country": "Belgique"})
    assert errors == {} and abroad["country"] == "Belgique" and abroad["postcode"] is None
    assert contact_rules.check_address({"line1": "x", "postcode": "6900", "city": "Lyon"})[1] == {
        "postcode": ["contact_postcode"]}
    assert contact_rules.check_address({"postcode": "69003"})[1] == {
        "line1": ["contact_required"], "city": ["contact_required"]}
    assert contact_rules.check_address({"line1": "x\x00", "postcode": "69003", "city": "L"})[1] == {
        "line1": ["contact_invalid"]}


def events(db, type_):
    with db.transaction() as session:
        return [json.loads(r.body) for r in session.scalars(select(Outbox).order_by(Outbox.id))
                if r.event_type == type_]


def test_address_and_phone_change_at_once_and_the_previous_address_is_kept(accounts_db):
    with accounts_db.transaction() as session:
        result = profile.update(session, "1234567", {
            "phone": "06 12 34 56 78",
            "address": {"line1": "8 avenue Foch", "postcode": "75016", "city": "Paris"}})
    assert result["applied"] == ["phone", "address"]
    assert result["address_lines"] == ["8 avenue Foch", "75016 PARIS"]
    [event] = events(accounts_db, "contact_details_changed")
    assert event["payload"] == {"changed": ["phone", "address"], "previous_email": None,
                                "previous_address_lines": ["3 place du Marché", "69003 LYON"]}


def test_invalid_changes_are_refused_and_nothing_changes(accounts_db):
    with accounts_db.transaction() as session, pytest.raises(InvalidRequest) as exc:
        profile.update(session, "1234567", {"phone": "123", "address": {"line1": "x"},
                                            "email": "nope"})
    assert exc.value.fields == {"phone": ["contact_phone"], "email": ["contact_email"],
                                "postcode": ["contact_required"], "city": ["contact_required"]}
    with accounts_db.transaction() as session, pytest.raises(InvalidRequest) as exc:
        profile.update(session, "1234567", {"iban": "FR76"})
    assert list(exc.value.fields) == ["iban"]
    assert events(accounts_db, "contact_details_changed") == []


def test_a_new_email_is_used_only_once_confirmed(accounts_db):
    with accounts_db.transaction() as session:
        result = profile.update(session, "1234567", {"email": "nouvelle@example.fr"})
    assert result["email_pending_verification"] == "nouvelle@example.fr"
    assert result["email"] == "helene@example.fr"  # unchanged until confirmed
    [request] = events(accounts_db, "email_verification_requested")
    with accounts_db.transaction() as session:
        assert authentication.contact_details(session, "1234567")["email"] == "helene@example.fr"
        secret = profile.issue_email_secret(session, request["payload"]["change_id"])
        assert session.scalars(select(EmailChange.secret_hash)).one() == secrets.digest(secret["secret"])
    with accounts_db.transaction() as session:
        assert profile.confirm_email(session, secret["secret"]) == {"email": "nouvelle@example.fr"}
    with accounts_db.transaction() as session:
        member = session.get(Member, "1234567")
        assert (member.email, member.email_verified) == ("nouvelle@example.fr", True)
        assert profile.confirm_email(session, secret["secret"]) is None  # single use
    [changed] = events(accounts_db, "contact_details_changed")
    assert changed["payload"]["previous_email"] == "helene@example.fr"


def test_a_newer_email_supersedes_the_pending_one(accounts_db):
    with accounts_db.transaction() as session:
        profile.update(session, "7654321", {"email": "a@example.fr"})
        profile.update(session, "7654321", {"email": "b@example.fr"})
    first, second = events(accounts_db, "email_verification_requested")
    with accounts_db.transaction() as session:
        assert profile.issue_email_secret(session, first["payload"]["change_id"]) is None
        assert profile.get(session, "7654321")["pending_email"] == "b@example.fr"
