"""SEPA mandate: IBAN and BIC checked with schwifty, IBAN masked when displayed."""
import pytest

from carpimko.errors import InvalidRequest
from services.contributions.payments import mask_iban, validate_mandate


def test_valid_mandate_is_normalised():
    assert validate_mandate("fr76 3000 6000 0112 3456 7890 189", "agrifrpp", " Claire Martin ") == (
        "FR7630006000011234567890189", "AGRIFRPP", "Claire Martin")


def test_bic_derived_from_a_french_iban_when_omitted():
    iban, bic, _ = validate_mandate("FR7630006000011234567890189", None, "Claire Martin")
    assert bic == "AGRIFRPPXXX"


@pytest.mark.parametrize("iban, bic, holder, fields", [
    ("FR7630006000011234567890188", "AGRIFRPP", "C", {"iban"}),           # wrong checksum
    ("FR76300060000112345678901", "AGRIFRPP", "C", {"iban"}),             # wrong length
    ("", "AGRIFRPP", "C", {"iban"}),
    ("FR7630006000011234567890189", "AGRI", "C", {"bic"}),
    ("FR7630006000011234567890189", "DEUTDEFF", "C", {"bic"}),            # German BIC, French IBAN
    ("FR7630006000011234567890189", "AGRIFRPP", "  ", {"holder"}),
    ("FR7630006000011234567890189", "AGRIFRPP", "x" * 121, {"holder"}),
])
def test_invalid_mandates_name_the_fields(iban, bic, holder, fields):
    with pytest.raises(InvalidRequest) as caught:
        validate_mandate(iban, bic, holder)
    assert set(caught.value.fields) == fields


def test_iban_is_masked_except_country_check_digits_and_last_four():
    assert mask_iban("FR7630006000011234567890189") == "FR76 **** **** **** **** ***0 189"
    assert mask_iban("DE89370400440532013000") == "DE89 **** **** **** **30 00"
