from marshmallow import RAISE, Schema, fields

from gateway import api, openapi  # noqa: F401 - api registers the core endpoints


class ThingSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)


def test_registering_an_endpoint_is_one_call_and_shows_in_the_document():
    before = openapi.document()
    assert "/api/v1/things/{thing_id}" not in before["paths"]
    openapi.register("PUT", "/api/v1/things/<string:thing_id>", summary="Replace a thing",
                     tag="Test", body=ThingSchema, responses={200: ThingSchema}, errors=(409,))
    try:
        doc = openapi.document()
        op = doc["paths"]["/api/v1/things/{thing_id}"]["put"]
        assert op["parameters"] == [{"name": "thing_id", "in": "path", "required": True,
                                     "schema": {"type": "string", "format": "uuid"}}]
        assert op["requestBody"]["content"]["application/json"]["schema"] == \
            {"$ref": "#/components/schemas/Thing"}
        assert sorted(op["responses"]) == ["200", "400", "401", "403", "409", "413", "415", "503"]
        assert op["responses"]["503"]["headers"]["Retry-After"]
        assert op["security"] == [{"session": []}]
        assert doc["components"]["schemas"]["Thing"] == {
            "type": "object", "properties": {"name": {"type": "string"}},
            "required": ["name"], "additionalProperties": False}
    finally:
        openapi._registry.pop(("put", "/api/v1/things/{thing_id}"))
        openapi._cache.clear()


def test_core_endpoints_are_documented():
    doc = openapi.document("carpimko_session")
    assert doc["openapi"] == "3.0.3"
    for path, method in (("/api/v1/session", "post"), ("/api/v1/session", "delete"),
                         ("/api/v1/me", "get"), ("/api/v1/declarations", "post"),
                         ("/api/v1/declarations", "get"),
                         ("/api/v1/declarations/{declaration_id}", "get"),
                         ("/api/v1/documents", "get"),
                         ("/api/v1/documents/{document_id}/content", "get"), ("/health", "get")):
        assert method in doc["paths"][path], (method, path)
    pdf = doc["paths"]["/api/v1/documents/{document_id}/content"]["get"]["responses"]["200"]
    assert pdf["content"] == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert "401" not in doc["paths"]["/health"]["get"]["responses"]
    assert doc["components"]["securitySchemes"]["session"]["name"] == "carpimko_session"
