"""One-time secrets (services/accounts/domain/secrets.py)."""
import math

from services.accounts.domain import secrets


def test_link_token_has_at_least_128_bits():
    tokens = {secrets.new_link_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) >= 43 for t in tokens)  # 32 bytes, base64url
    assert secrets.TOKEN_BYTES * 8 >= 128


def test_letter_code_has_at_least_80_bits_from_an_unambiguous_alphabet():
    assert secrets.CODE_BITS >= 80
    assert not set("01OIL") & set(secrets.CODE_ALPHABET)
    assert len(set(secrets.CODE_ALPHABET)) == len(secrets.CODE_ALPHABET) == 31
    code = secrets.new_letter_code()
    assert len(code) == 18 and set(code) <= set(secrets.CODE_ALPHABET)
    assert math.isclose(secrets.CODE_BITS, 18 * math.log2(31))


def test_code_formatting_and_normalising():
    code = "ABCDEF234567GHJKMN"
    shown = secrets.format_code(code)
    assert shown == "ABCDEF-234567-GHJKMN"
    assert secrets.normalise_code(shown.lower()) == code
    assert secrets.normalise_code(" abcdef 234567 ghjkmn ") == code
    assert secrets.normalise_code("ABCDEF-234567-GHJKM0") is None  # 0 is not in the alphabet
    assert secrets.normalise_code("ABCDEF") is None
    assert secrets.normalise_code(None) is None


def test_digest_is_sha256_hex():
    assert secrets.digest("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
