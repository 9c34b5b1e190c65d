"""Deterministic notification ids (services/notifications/delivering.py)."""
import uuid

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

