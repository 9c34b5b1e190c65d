"""marshmallow schemas of the gateway's JSON API (unknown fields rejected)."""
from marshmallow import RAISE, Schema, fields, validate


class LoginSchema(Schema):
    class Meta:
        unknown = RAISE

    file_number = fields.String(required=True, validate=validate.Regexp(
        r"^(?:[0-9]{7}|[0-9]{9})\Z", error="Le numéro de dossier comporte 7 ou 9 chiffres."))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class DeclarationSchema(Schema):
    class Meta:
        unknown = RAISE

    year = fields.Integer(required=True, strict=True)
    professional_income = fields.Decimal(required=True, as_string=True, allow_nan=False,
                                         places=None)
    conventioned_income = fields.Decimal(required=True, as_string=True, allow_nan=False,
                                         allow_none=True)
