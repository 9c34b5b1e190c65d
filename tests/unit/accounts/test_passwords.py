"""argon2id password hashing (services/accounts/domain/passwords.py)."""
import pytest

from services.accounts.domain import passwords


@pytest.fixture(scope="module")
def stored():
    return passwords.hash_password("Correct-Horse-42")


def test_hash_is_argon2id_and_salted(stored):
    assert stored.startswith("$argon2id$")
    assert "Correct-Horse-42" not in stored
    assert passwords.hash_password("Correct-Horse-42") != stored  # random salt


def test_verify_right_password(stored):
    assert passwords.verify(stored, "Correct-Horse-42") is True


@pytest.mark.parametrize("attempt", ["correct-horse-42", "Correct-Horse-42 ", "", "Correct-Horse-4"])
def test_verify_wrong_password(stored, attempt):
    assert passwords.verify(stored, attempt) is False


def test_verify_unknown_account_is_false_even_with_the_dummy_password():
    assert passwords.verify(None, "whatever") is False
    assert passwords.verify(None, "not-a-real-password-used-for-constant-time") is False
    assert passwords.verify("", "whatever") is False


def test_empty_stored_hash_never_verifies():
    assert passwords.verify("", "not-a-real-password-used-for-constant-time") is False


@pytest.mark.parametrize("garbage", ["not-a-hash", "$argon2id$v=19$broken", "$2b$12$abcdefghijklmnopqrstuv"])
def test_verify_corrupt_hash_is_false(garbage):
    assert passwords.verify(garbage, "Correct-Horse-42") is False


def test_unicode_password():
    stored = passwords.hash_password("Mot-de-passe-été-€")
    assert passwords.verify(stored, "Mot-de-passe-été-€") is True
    assert passwords.verify(stored, "Mot-de-passe-ete-€") is False


def test_needs_rehash(stored):
    assert passwords.needs_rehash(stored) is False
    weak = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ"
    assert passwords.needs_rehash(weak) is True
