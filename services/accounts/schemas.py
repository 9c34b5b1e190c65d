"""marshmallow schemas of the accounts RPC payloads."""
from marshmallow import Schema, fields, validate


class LoginRequest(Schema):
    file_number = fields.String(required=True, validate=validate.Length(max=20))
    password = fields.String(required=True, validate=validate.Length(max=128))
