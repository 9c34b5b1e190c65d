"""The password policy (services/accounts/domain/password_policy.py)."""
from datetime import date

import pytest

from services.accounts.domain import password_policy as policy

CONTEXT = policy.context_words("1234567", "Hélène", "Lefèvre-Martin", date(1975, 3, 9))


def test_the_shipped_list_has_at_least_10000_common_passwords():
    common = policy.common_passwords()
    assert len(common) >= 10_000
    assert {"123456", "password", "azerty", "motdepasse", "soleil"} <= common
    assert not any(word.startswith("#") for word in common)


@pytest.mark.parametrize("password", [
    "correct horse battery staple", "Un-Mot-De-Passe-2026", "le piano dort sous la pluie",
    "ÉtéIndien&Cigales", "x" * 3 + "Zq9!wLp0rt7#",
])
def test_accepted(password):
    assert policy.check(password, CONTEXT) == []


@pytest.mark.parametrize("password, problem", [
    ("court", "too_short"), ("a1b2c3d4e5f", "too_short"),
    ("Ab1!" * 33, "too_long"),
    ("passwordpassword", "common"), ("password1234", "common"), ("Password2026!", "common"),
    ("azertyuiop123", "common"), ("qwertyuiopasdf", "sequence"),
    ("aaaaaaaaaaaaaaa", "sequence"), ("abcabcabcabcabc", "sequence"),
    ("9876543210987", "sequence"),
    ("Helene est ma soeur", "personal"), ("jesuis-LEFEVRE-2026", "personal"),
    ("martin cherche son chat", "personal"), ("mon dossier 1234567", "personal"),
    ("née le 09031975 à Lyon", "personal"), ("né le 1975-03-09 !!", "personal"),
    ("la caisse carpimko!!", "personal"),
])
def test_refused_with_its_reason(password, problem):
    assert problem in policy.check(password, CONTEXT)


def test_mismatched_confirmation():
    assert policy.check("correct horse battery staple", CONTEXT, "correct horse battery stapl") \
        == ["mismatch"]


def test_exactly_12_and_128_characters_are_accepted():
    assert policy.check("zq9!wLp0rt7#", CONTEXT) == []
    assert policy.check(("Kx7#mPq2" * 16), CONTEXT) == ["sequence"]  # repeated, still length-ok
    long_ok = "".join(chr(0x41 + (i * 7) % 26) + str(i % 10) for i in range(64))
    assert len(long_ok) == 128 and "too_long" not in policy.check(long_ok, CONTEXT)


def test_without_context_the_funds_name_is_still_refused():
    assert policy.check("vive carpimko 2026") == ["personal"]
