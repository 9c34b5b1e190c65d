"""The OpenAPI 3 document of the JSON API, generated from the marshmallow schemas.

Nothing here is written by hand: every endpoint is *registered* with the
marshmallow schema of its body and of its answers, and ``document()`` builds the
OpenAPI document from the registry with apispec and its marshmallow plugin. The
gateway serves it at ``/openapi.json`` and renders it at ``/api/docs``.

Adding an endpoint (one call, next to its handler, at import time)::

    from gateway import openapi
    from gateway.schemas import ...   # or your module's own marshmallow schemas

    openapi.register(
        "POST", "/api/v1/payments",                  # werkzeug style "<id>" or "{id}" both work
        summary="Pay a contribution instalment",
        tag="Cotisations",
        body=PaymentRequestSchema,                   # request body (application/json), optional
        responses={201: PaymentSchema},              # success answers: schema, None (no body),
                                                     # or a media type string ("application/pdf";
                                                     # "application/json" = any JSON object);
                                                     # default {200: None} ({204: None} for DELETE)
        errors=(400, 404, 409),                      # error answers, beyond the common ones
    )

Every operation also gets the common error answers (the one error format,
``ErrorSchema``): 401 unless ``auth=False``, 400/403/413/415 for POST, PUT and
PATCH (JSON body and Origin checks), 403 for DELETE,
429 for rate-limited ones (``errors=(429,)``), 503 always. Path parameters named
``*_id`` are documented as UUIDs, ``<int:name>`` ones as integers. The document is rebuilt whenever the registry
changes, so modules may register in any order.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .schemas import ErrorSchema

TITLE = "API de l'espace personnel Carpimko"
VERSION = "1.0.0"
DESCRIPTION = (
    "JSON API of the Carpimko member space. Authentication: log in with `POST /api/v1/session`, "
    "which sets the session cookie; send it back on every call. Every failure has one shape, "
    "`{\"error\": {\"code\", \"message\", \"fields\"}}`, with French messages; unknown fields are "
    "refused (400), bodies are JSON only (415) and at most 16 KiB (413).")

ERROR_DESCRIPTIONS = {
    400: "Invalid request: per-field messages in `error.fields`",
    401: "Not logged in (or wrong credentials)",
    403: "Refused (cross-origin request, or not allowed for this member)",
    404: "Unknown, or not the member's",
    409: "Conflicts with what is already recorded",
    413: "Body too large",
    415: "Body is not application/json",
    429: "Too many attempts: wait `Retry-After` seconds",
    503: "A service is temporarily unavailable: retry after `Retry-After` seconds",
}


@dataclass
class Endpoint:
    method: str
    path: str
    summary: str
    tag: str
    body: object = None
    responses: dict = field(default_factory=dict)
    errors: tuple = ()
    auth: bool = True
    description: str = ""

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", r"{\1}", self.path)

    @property
    def key(self) -> tuple[str, str]:
        return self.method.lower(), self.openapi_path


_registry: dict[tuple[str, str], Endpoint] = {}
_lock = threading.Lock()
_cache: dict[str, dict] = {}


def register(method: str, path: str, *, summary: str, tag: str, body=None,
             responses: dict | None = None, errors: tuple = (), auth: bool = True,
             description: str = "") -> Endpoint:
    """Describe one endpoint (see the module docstring). Registering the same
    method and path again replaces the description."""
    global _cache
    default = {204: None} if method.upper() == "DELETE" else {200: None}
    endpoint = Endpoint(method.upper(), path, summary, tag, body, dict(responses or default),
                        tuple(errors), auth, description)
    with _lock:
        _registry[endpoint.key] = endpoint
        _cache = {}
    return endpoint


def endpoints() -> list[Endpoint]:
    return sorted(_registry.values(), key=lambda e: (e.openapi_path, e.method))


def _schema_name(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def _content(answer) -> dict | None:
    if answer is None:
        return None
    if answer == "application/json":  # any JSON object, not described further
        return {answer: {"schema": {"type": "object"}}}
    if isinstance(answer, str):
        return {answer: {"schema": {"type": "string", "format": "binary"}}}
    return {"application/json": {"schema": _schema_name(answer)}}


def _operation(endpoint: Endpoint) -> dict:
    op: dict = {"summary": endpoint.summary, "tags": [endpoint.tag],
                "operationId": f"{endpoint.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', endpoint.openapi_path.lower()).strip('_')}",
                "responses": {}}
    if endpoint.description:
        op["description"] = endpoint.description
    params = re.findall(r"[<{](?:([a-z]+):)?([a-zA-Z_]+)[>}]", endpoint.path)
    if params:
        op["parameters"] = [{"name": name, "in": "path", "required": True,
                             "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
                             if converter == "int"
                             else {"type": "string", "format": "uuid"} if name.endswith("_id")
                             else {"type": "string", "pattern": "^[^/]+$"}}
                            for converter, name in params]
    for status, answer in endpoint.responses.items():
        response = {"description": "No content" if answer is None and status == 204 else "OK"}
        content = _content(answer)
        if content:
            response["content"] = content
        if status in (201, 202):
            response["headers"] = {"Location": {"schema": {"type": "string"},
                                                "description": "Where to follow the resource"}}
        op["responses"][str(status)] = response
    codes = set(endpoint.errors) | {503}
    if endpoint.auth:
        codes.add(401)
        op["security"] = [{"session": []}]
    if endpoint.method in ("POST", "PUT", "PATCH"):
        codes |= {400, 403, 413, 415}  # JSON body checks and the Origin check
    elif endpoint.method == "DELETE":
        codes.add(403)  # the Origin check
    if endpoint.body is not None:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _schema_name(endpoint.body)}}}
    for status in sorted(codes - set(endpoint.responses)):
        op["responses"][str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {"application/json": {"schema": "Error"}}}
        if status in (429, 503):
            op["responses"][str(status)]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
    return op


def _build(cookie: str) -> dict:
    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()], info={"description": DESCRIPTION})
    spec.components.security_scheme("session", {
        "type": "apiKey", "in": "cookie", "name": cookie,
        "description": "Set by POST /api/v1/session (`__Host-carpimko_session`; "
                       "`carpimko_session` on local http development)."})
    seen = set()
    schemas = [ErrorSchema]
    for e in endpoints():
        schemas += [e.body] if e.body is not None else []
        schemas += [a for a in e.responses.values() if a is not None and not isinstance(a, str)]
    for schema in schemas:
        name = _schema_name(schema)
        if name not in seen and name not in spec.components.schemas:
            seen.add(name)
            spec.components.schema(name, schema=schema)
    paths: dict[str, dict] = {}
    for e in endpoints():
        paths.setdefault(e.openapi_path, {})[e.method.lower()] = _operation(e)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def document(cookie: str = "__Host-carpimko_session") -> dict:
    """The OpenAPI document (a dict), built once per state of the registry;
    ``cookie`` is the session cookie's name in this deployment."""
    with _lock:
        if cookie not in _cache:
            _cache[cookie] = _build(cookie)
        return _cache[cookie]
