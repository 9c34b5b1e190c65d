"""Channel choice (services/notifications/channels.py)."""
import pytest

from services.notifications import channels


@pytest.mark.parametrize("contact, channel", [
    ({"email": "a@example.fr", "email_verified": True}, "email"),
    ({"email": "a@example.fr", "email_verified": False}, "post"),
    ({"email": "a@example.fr"}, "post"),
    ({"email": None, "email_verified": True}, "post"),
    ({"email": "", "email_verified": True}, "post"),
    ({}, "post"),
])
def test_choose_channel(contact, channel):
    assert channels.choose_channel(contact) == channel


def test_channel_constants():
    assert (channels.EMAIL, channels.POST) == ("email", "post")


@pytest.mark.parametrize("lines, usable", [
    (["1 rue de la Paix", "75002 PARIS"], True),
    (["1 rue de la Paix", "Bâtiment B", "75002 PARIS", "BELGIQUE"], True),
    (["75002 PARIS"], False),
    (["1 rue de la Paix", "   "], False),
    (["", "75002 PARIS"], False),
    (["1 rue de la Paix", None], False),
    ([], False),
    (None, False),
])
def test_usable_postal_address(lines, usable):
    assert channels.usable_postal_address({"address_lines": lines}) is usable


def test_usable_postal_address_without_key():
    assert channels.usable_postal_address({}) is False
