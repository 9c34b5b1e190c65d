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
