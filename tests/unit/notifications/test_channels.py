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
    ({"email": "a@example.fr", "email_verified": True, "email_bounced": True}, "post"),
    ({"email": "a@example.fr", "email_verified": True, "prefers_paper": True}, "post"),
])
def test_choose_channel(contact, channel):
    assert channels.choose_channel(contact) == channel


def test_channel_constants():
    assert (channels.EMAIL, channels.POST) == ("email", "post")


@pytest.mark.parametrize("lines, usable", [
    (["1 rue de la Paix", "75002 PARIS"], True),
    (["1 rue de la Paix", "Bâtiment B", "75002 PARIS", "BELGIQUE"], True),
    (["12 Avenue Louise", "Bruxelles", "BELGIQUE"], True),
    (["1 rue de la Paix", "PARIS"], False),
    (["75002 PARIS"], False),
    (["1 rue de la Paix", "   "], False),
    (["", "75002 PARIS"], False),
    (["1 rue de la Paix", None], False),
    ([], False),
    (None, False),
])
def test_usable_postal_address(lines, usable):
    contact = {"full_name": "Mme Anne DURAND", "address_lines": lines}
    assert channels.usable_postal_address(contact) is usable


def test_an_address_without_a_name_is_not_usable():
    assert channels.usable_postal_address({"address_lines": ["1 rue de la Paix", "75002 PARIS"]}) is False


@pytest.mark.parametrize("contact, words", [
    ({"prefers_paper": True, "email": "a@example.fr"}, "choisi"),
    ({"email": None}, "Aucune adresse"),
    ({"email": "a@example.fr", "email_bounced": True}, "refusée"),
    ({"email": "a@example.fr", "email_verified": False}, "pas encore vérifiée"),
])
def test_why_post_says_why_in_french(contact, words):
    assert words in channels.why_post(contact)


def test_usable_postal_address_without_key():
    assert channels.usable_postal_address({}) is False
