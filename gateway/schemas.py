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

    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=1900, max=2100))
    professional_income = fields.Decimal(required=True, as_string=True, allow_nan=False,
                                         places=None)
    conventioned_income = fields.Decimal(required=True, as_string=True, allow_nan=False,
                                         allow_none=True)


# -- responses ----------------------------------------------------------------------------
# Response schemas document what the gateway sends (they are never used to load input):
# INCLUDE makes them open (``additionalProperties: true``), so a service adding a field
# does not break clients, while every field listed here is checked by the API fuzzing.
from marshmallow import INCLUDE  # noqa: E402


def Money(**kwargs):  # noqa: N802 - a field factory
    """An amount in euros: a decimal string on the wire ("40000.00"), never a float."""
    return fields.Decimal(as_string=True, allow_nan=False, places=None, metadata={
        "type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
        "example": "40000.00"}, **kwargs)


class _Out(Schema):
    class Meta:
        unknown = INCLUDE


class ErrorDetailSchema(_Out):
    code = fields.String(required=True, metadata={"example": "invalid_request"})
    message = fields.String(required=True, metadata={"description": "In French, for the member."})
    field_messages = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                                 required=True, data_key="fields",
                                 metadata={"description": "Per-field messages (400), else empty."})


class ErrorSchema(_Out):
    error = fields.Nested(ErrorDetailSchema, required=True)


class MemberSchema(_Out):
    file_number = fields.String(required=True)
    full_name = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    civility = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["active", "retired", "survivor"]})
    profession = fields.String(required=True, allow_none=True)


class SessionSchema(_Out):
    member = fields.Nested(MemberSchema, required=True)


class DeclarationAcceptedSchema(_Out):
    id = fields.UUID(required=True)
    status_url = fields.String(required=True)


class AssessmentLineSchema(_Out):
    scheme = fields.String(required=True)
    label = fields.String(required=True)
    base = Money(required=True, allow_none=True)
    rate = fields.String(required=True, allow_none=True)
    fixed = Money(required=True, allow_none=True)
    amount = Money(required=True)


class AssessmentSchema(_Out):
    id = fields.String(required=True)
    status = fields.String(required=True)
    is_current = fields.Boolean(required=True)
    computed_at = fields.DateTime(required=True, allow_none=True)
    parameters_version = fields.String(required=True)
    income_used = Money(required=True, allow_none=True)
    total = Money(required=True)
    previous_total = Money(required=True, allow_none=True)
    lines = fields.List(fields.Nested(AssessmentLineSchema), required=True)
    notes = fields.List(fields.String(), required=True)


class DeclarationViewSchema(_Out):
    id = fields.UUID(required=True)
    file_number = fields.String(required=True)
    year = fields.Integer(required=True)
    professional_income = Money(required=True, allow_none=True)
    conventioned_income = Money(required=True, allow_none=True)
    source = fields.String(required=True)
    declared_at = fields.DateTime(required=True, allow_none=True)
    assessment = fields.Nested(AssessmentSchema, required=True, allow_none=True)


class StepSchema(_Out):
    step = fields.String(required=True, metadata={"enum": [
        "declared", "contributions_recalculated", "document_generated", "member_notified"]})
    done = fields.Boolean(required=True)
    at = fields.DateTime(required=True, allow_none=True)


class DeclarationProgressSchema(DeclarationViewSchema):
    steps = fields.List(fields.Nested(StepSchema), required=True)
    complete = fields.Boolean(required=True)


class DeclarationListSchema(_Out):
    items = fields.List(fields.Nested(DeclarationViewSchema), required=True)


class DocumentSchema(_Out):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    year = fields.Integer(required=True, allow_none=True)
    issued_on = fields.Date(required=True)
    created_at = fields.DateTime(required=True)
    sha256 = fields.String(required=True, allow_none=True, metadata={
        "description": "null until the document is first read (it is rendered then)"})
    size = fields.Integer(required=True, allow_none=True, metadata={
        "description": "bytes; null until the document is first read"})
    media_type = fields.String(required=True)
    superseded = fields.Boolean(required=True)
    content_url = fields.String(required=True)


class DocumentListSchema(_Out):
    items = fields.List(fields.Nested(DocumentSchema), required=True)


class HealthSchema(_Out):
    status = fields.String(required=True, metadata={"enum": ["up", "degraded"]})
    services = fields.Dict(keys=fields.String(),
                           values=fields.String(validate=validate.OneOf(["up", "down"])),
                           required=True)
