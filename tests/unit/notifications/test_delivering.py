"""Deterministic notification ids and the delivery plan (services/notifications/delivering.py)."""
import uuid
from datetime import date

import pytest

from carpimko.errors import PermanentFailure
from carpimko.events import new_event, parse_event
from services.notifications import delivering

EVENT_ID = "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e"


def test_notification_id_is_deterministic():
    a = delivering.notification_id_for(EVENT_ID, "email")
    assert a == delivering.notification_id_for(EVENT_ID, "email")
    assert a == str(uuid.uuid5(uuid.UUID("6f1c3d4e-2b7a-4c1e-9a55-0c2f8e7d9b10"),
                               f"{EVENT_ID}:email"))
    assert uuid.UUID(a).version == 5


def test_notification_id_depends_on_channel_and_event():
    email = delivering.notification_id_for(EVENT_ID, "email")
    post = delivering.notification_id_for(EVENT_ID, "post")
    other = delivering.notification_id_for("3c2b1a09-8f7e-4d6c-b5a4-938271605f4f", "email")
    assert len({email, post, other}) == 3


def document_event():
    return parse_event(new_event("document_generated", {
        "document_id": str(uuid.uuid4()), "kind": "contribution_statement",
        "title": "Relevé de cotisations 2026", "sha256": "0" * 64,
        "issued_on": date(2026, 11, 28)}, member_id="1234567", event_id=EVENT_ID))


def test_plan_email():
    contact = {"email": "a@example.fr", "email_verified": True, "address_lines": []}
    assert delivering.plan(contact, document_event()) == (
        "email", delivering.notification_id_for(EVENT_ID, "email"))


def test_plan_post():
    contact = {"email": None, "address_lines": ["1 rue de la Paix", "75002 PARIS"]}
    assert delivering.plan(contact, document_event()) == (
        "post", delivering.notification_id_for(EVENT_ID, "post"))


def test_plan_without_any_way_to_reach_the_member_is_permanent():
    contact = {"email": "a@example.fr", "email_verified": False, "address_lines": ["75002 PARIS"]}
    with pytest.raises(PermanentFailure, match="member 1234567 has no usable postal address"):
        delivering.plan(contact, document_event())
