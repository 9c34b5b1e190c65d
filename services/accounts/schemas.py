"""marshmallow schemas of the accounts RPC payloads."""
from marshmallow import Schema, fields, validate

# generous bound for what is sent (the policy's 128 is checked with a clear message)
_PASSWORD = dict(validate=validate.Length(max=1024))


class LoginRequest(Schema):
    file_number = fields.String(required=True, validate=validate.Length(max=20))
    password = fields.String(required=True, validate=validate.Length(max=128))


class ResetRequest(Schema):
    file_number = fields.String(required=True, validate=validate.Regexp(
        r"^(?:[0-9]{7}|[0-9]{9})\Z", error="file number must be 7 or 9 digits"))


class LinkResetRequest(Schema):
    token = fields.String(required=True, validate=validate.Length(max=100))
    password = fields.String(required=True, **_PASSWORD)
    confirmation = fields.String(required=False, allow_none=True, **_PASSWORD)


class CodeResetRequest(Schema):
    file_number = fields.String(required=True, validate=validate.Regexp(
        r"^(?:[0-9]{7}|[0-9]{9})\Z", error="file number must be 7 or 9 digits"))
    code = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, **_PASSWORD)
    confirmation = fields.String(required=False, allow_none=True, **_PASSWORD)
