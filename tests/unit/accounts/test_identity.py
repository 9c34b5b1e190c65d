"""File numbers (services/accounts/domain/identity.py)."""
import pytest

from services.accounts.domain import identity


@pytest.mark.parametrize("value", ["1234567", "0000000", "123456789", "000000001"])
def test_valid_file_numbers(value):
    assert identity.is_file_number(value) is True


@pytest.mark.parametrize("value", ["", None, "123456", "12345678", "1234567890", "12345a7",
                                   " 1234567", "1234567 ", "123-4567", "+123456", "12 345 67"])
def test_invalid_file_numbers(value):
    assert identity.is_file_number(value) is False


def test_trailing_newline_is_not_a_file_number():
    assert identity.is_file_number("1234567\n") is False


@pytest.mark.parametrize("value, category", [
    ("1234567", "contributor"), ("123456789", "survivor_or_annuitant"),
])
def test_category(value, category):
    assert identity.category_of(value) == category


def _with_key(body: str) -> str:
    number = int(body.replace("2A", "19").replace("2B", "18"))
    return f"{body}{97 - number % 97:02d}"


@pytest.mark.parametrize("body", ["1850775056123", "2930169123045", "185072A004017",
                                  "185072B004017", "2991297105001"])
def test_valid_nir_with_its_key(body):
    from services.accounts.domain.identity import check_nir
    nir = _with_key(body)
    assert check_nir(nir) is None
    assert check_nir(f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]} {nir[7:10]} {nir[10:13]} {nir[13:]}") is None


def test_corsica_key_uses_19_for_2a_and_18_for_2b():
    from services.accounts.domain.identity import check_nir
    key_19 = f"{97 - 1850719004017 % 97:02d}"  # the key of department 19 (Corrèze)
    key_18 = f"{97 - 1850718004017 % 97:02d}"
    assert key_19 != key_18
    assert check_nir("185072A004017" + key_19) is None
    assert check_nir("185072B004017" + key_18) is None
    assert check_nir("185072B004017" + key_19) == "key"


@pytest.mark.parametrize("nir, problem", [
    ("185077505612300", "key"), ("1850775056123", "format"), ("585077505612345", "format"),
    ("1851375056123XX", "format"), ("185072C00401712", "format"), (None, "format"),
])
def test_invalid_nir(nir, problem):
    from services.accounts.domain.identity import check_nir
    assert check_nir(nir) == problem
