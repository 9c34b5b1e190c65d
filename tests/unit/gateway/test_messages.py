"""The French message catalogue and the translation of field errors (gateway/messages)."""
import pytest
from marshmallow import ValidationError

from gateway import messages
from gateway.schemas import DeclarationSchema, LoginSchema

FIELDS = {
    "required": "Ce champ est obligatoire.",
    "not_a_number": "Saisissez un montant en euros, par exemple 40000 ou 40000,50.",
    "too_large": "Le montant est trop élevé.",
    "negative": "Le montant ne peut pas être négatif.",
    "two_decimals": "Deux décimales au plus.",
    "conventioned_exceeds": "Les revenus conventionnés ne peuvent pas dépasser vos revenus "
                            "professionnels.",
    "unknown_year": "Choisissez une année proposée dans la liste.",
    "file_number": "Le numéro de dossier comporte 7 ou 9 chiffres.",
    "unknown_field": "Champ inconnu.",
}


def test_catalogue_sections():
    catalogue = messages.catalogue("fr")
    assert set(catalogue) == {"errors", "fields", "dashboard", "career", "career_fields",
                              "messaging", "cycle"}
    assert catalogue is messages.catalogue("fr")  # cached


def test_error_messages():
    assert messages.error("unauthorized") == "Numéro de dossier ou mot de passe incorrect."
    assert messages.error("not_found") == "Cette page ou ce document est introuvable."
    assert messages.error("no-such-code") == messages.error("internal")
    assert messages.error("internal").startswith("Une erreur inattendue s'est produite.")


def test_field_messages():
    for code, text in FIELDS.items():
        assert messages.field(code) == text
    assert messages.field("negative") == "Le montant ne peut pas être négatif."
    assert messages.field("no-such-code") == "Valeur incorrecte."


def test_unknown_language():
    with pytest.raises(FileNotFoundError):
        messages.catalogue("xx")


def test_every_http_error_code_of_the_gateway_has_a_message_or_is_conflict():
    from gateway import web
    errors = messages.catalogue()["errors"]
    codes = {code for _, _, code in web.STATUS} | {"internal"}
    assert codes - set(errors) <= {"conflict"}


def test_conflict_has_its_own_message():
    assert "conflict" in messages.catalogue()["errors"]


# The English errors of the contributions service (declarations.validate_declaration) and of
# the gateway's marshmallow schemas, mapped to the catalogue.
@pytest.mark.parametrize("service_message, code", [
    ("required", "required"),
    ("Missing data for required field.", "required"),
    ("Field may not be null.", "required"),
    ("not a decimal amount", "not_a_number"),
    ("Not a valid number.", "not_a_number"),
    ("Not a valid integer.", "unknown_year"),
    ("must be an integer", "unknown_year"),
    ("no contribution rules for 2031 (known years: 2024, 2025, 2026)", "unknown_year"),
    ("too large: at most 99 999 999.99", "too_large"),
        ("must not be negative", "negative"),
    ("at most two decimal places", "two_decimals"),
    ("cannot exceed the professional income", "conventioned_exceeds"),
    ("file number must be 7 or 9 digits", "file_number"),
    ("Unknown field.", "unknown_field"),
])
def test_translate_field_errors(service_message, code):
    assert messages.translate_field_errors({"f": [service_message]}) == {"f": [FIELDS[code]]}


def test_translate_keeps_unknown_text_and_handles_several_fields():
    out = messages.translate_field_errors({
        "year": ["must be an integer"],
        "professional_income": "not a decimal amount",  # a bare string
        "x": ["Le numéro de dossier comporte 7 ou 9 chiffres."],
        "y": ["something else", "and more"],
    })
    assert out == {"year": [FIELDS["unknown_year"]],
                   "professional_income": [FIELDS["not_a_number"]],
                   "x": ["Le numéro de dossier comporte 7 ou 9 chiffres."],
                   "y": ["something else and more"]}


def test_translate_empty():
    assert messages.translate_field_errors({}) == {}


def test_translate_real_schema_errors():
    with pytest.raises(ValidationError) as info:
        DeclarationSchema().load({"year": "2026", "professional_income": "abc", "extra": 1})
    out = messages.translate_field_errors(info.value.messages)
    assert out == {"year": [FIELDS["unknown_year"]],
                   "professional_income": [FIELDS["not_a_number"]],
                   "conventioned_income": [FIELDS["required"]],
                   "extra": [FIELDS["unknown_field"]]}


def test_login_schema():
    assert LoginSchema().load({"file_number": "1234567", "password": "x"}) == {
        "file_number": "1234567", "password": "x"}
    with pytest.raises(ValidationError) as info:
        LoginSchema().load({"file_number": "12345", "password": "x"})
    assert info.value.messages == {"file_number": [FIELDS["file_number"]]}


def test_declaration_schema_keeps_exact_amounts():
    from decimal import Decimal
    data = DeclarationSchema().load({"year": 2026, "professional_income": "40000.5",
                                     "conventioned_income": None})
    assert data == {"year": 2026, "professional_income": Decimal("40000.5"),
                    "conventioned_income": None}
