"""HTTP plumbing of the gateway: responses, the error format, security
headers, the session cookie and CSRF checks. No business rules here."""
from __future__ import annotations

import hmac
import json
import logging
from functools import wraps
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.wrappers import Response

from carpimko.errors import (CarpimkoError, Conflict, DocumentUnavailable, InvalidRequest, NotFound,
                             ServiceUnavailable, Unauthorized)

from . import messages
from .formatting import FILTERS

log = logging.getLogger(__name__)

templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True,
                        lstrip_blocks=True)
templates.filters.update(FILTERS)

MAX_JSON_BODY = 16 * 1024

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"


class Forbidden(CarpimkoError):
    pass


class UnsupportedMediaType(CarpimkoError):
    pass


class PayloadTooLarge(CarpimkoError):
    pass


class LoginRequired(CarpimkoError):
    pass


class TooManyRequests(CarpimkoError):
    """Rate limit reached: ``retry_after`` seconds until the next attempt is allowed."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {})
        self.retry_after = max(1, int(retry_after))


STATUS = [
    (InvalidRequest, 400, "invalid_request"), (Unauthorized, 401, "unauthorized"),
    (LoginRequired, 401, "login_required"), (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"), (Conflict, 409, "conflict"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (UnsupportedMediaType, 415, "unsupported_media_type"),
    (TooManyRequests, 429, "too_many_requests"),
    (ServiceUnavailable, 503, "service_unavailable"),
    (DocumentUnavailable, 500, "document_unavailable"),
]


def secure_headers(response: Response, secure: bool, personal: bool = True) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if personal:
        h.setdefault("Cache-Control", "no-store")
    if secure:
        h.setdefault("Strict-Transport-Security", HSTS)
    return response


def retry_after(exc: Exception, status: int) -> dict | None:
    """The ``Retry-After`` header of a 429 (the limiter's figure) or a 503 (30 s)."""
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    if status == 503:
        return {"Retry-After": "30"}
    return None


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")


def classify(exc: Exception) -> tuple[int, str]:
    for cls, status, code in STATUS:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal"


def error_body(exc: Exception) -> tuple[int, dict]:
    status, code = classify(exc)
    fields = {}
    if isinstance(exc, InvalidRequest):
        fields = messages.translate_field_errors(exc.fields)
    return status, {"error": {"code": code, "message": messages.error(code), "fields": fields}}


def api_errors(func):
    """Turn every failure of an API handler into the one JSON error format."""
    @wraps(func)
    def wrapper(self, request, *args, **kwargs):
        try:
            response = func(self, request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped below, logged when unexpected
            status, body = error_body(exc)
            if status == 500:
                log.exception("unexpected error on %s %s", request.method, request.path)
            elif status == 503:
                log.warning("%s %s: %s", request.method, request.path, exc)
            response = json_response(body, status, retry_after(exc, status))
        return secure_headers(response, self.cookie_secure)
    return wrapper


def render(name: str, status: int = 200, **context) -> Response:
    html = templates.get_template(name).render(**context)
    return Response(html, status=status, mimetype="text/html")


def page_errors(func):
    """Turn every failure of a page handler into an error page in the layout."""
    @wraps(func)
    def wrapper(self, request, *args, **kwargs):
        try:
            response = func(self, request, *args, **kwargs)
        except LoginRequired:
            response = redirect("/connexion")
        except Exception as exc:  # noqa: BLE001
            status, code = classify(exc)
            if status == 500:
                log.exception("unexpected error on %s %s", request.method, request.path)
            response = render("error.html", status=status, status_code=status,
                              message=messages.error(code), code=code, member=None)
            response.headers.extend(retry_after(exc, status) or {})
        return secure_headers(response, self.cookie_secure)
    return wrapper


def redirect(location: str, status: int = 303) -> Response:
    return Response("", status=status, headers={"Location": location})


def cookie_name(secure: bool) -> str:
    # The __Host- prefix requires Secure; plain-http local development cannot use it.
    return "__Host-carpimko_session" if secure else "carpimko_session"


def set_session_cookie(response: Response, token: str, secure: bool, max_age: int) -> None:
    response.set_cookie(cookie_name(secure), token, max_age=max_age, path="/", secure=secure,
                        httponly=True, samesite="Lax")


def clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(cookie_name(secure), path="/", secure=secure, httponly=True,
                           samesite="Lax")


def check_csrf(request, session: dict) -> None:
    """A form must carry the session's token, and come from our own origin."""
    check_origin(request)
    sent = request.form.get("csrf_token", "")
    if not session or not hmac.compare_digest(sent.encode(), session["csrf_token"].encode()):
        raise Forbidden("missing or wrong CSRF token", {})
    for name, value in request.form.items(multi=True):
        if _unstorable_text(value) or _unstorable_text(name):  # never typed: a crafted form
            raise InvalidRequest("form holds text that cannot be stored", {
                name if not _unstorable_text(name) else "_body":
                    ["not valid text (a NUL character or a lone surrogate escape)"]})


def check_origin(request) -> None:
    """Refuse a state-changing request sent from another site: by its ``Origin``
    header when the browser sends one, else by ``Sec-Fetch-Site``."""
    origin = request.headers.get("Origin")
    if origin and origin != request.host_url.rstrip("/"):
        raise Forbidden("cross-origin request refused", {})
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise Forbidden("cross-site request refused", {})


def json_body(request) -> dict:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("expected application/json", {})
    if (request.content_length or 0) > MAX_JSON_BODY:
        raise PayloadTooLarge("body too large", {})
    check_origin(request)
    raw = request.get_data(cache=False)
    if len(raw) > MAX_JSON_BODY:
        raise PayloadTooLarge("body too large", {})
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise InvalidRequest("body is not valid JSON", {"_body": ["invalid JSON"]}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object", {"_body": ["must be an object"]})
    where = _unstorable_text(data)
    if where is not None:
        raise InvalidRequest("body holds text that cannot be stored",
                             {where: ["not valid text (a NUL character or a lone surrogate escape)"]})
    return data


def _unstorable_text(value, where: str = "_body") -> str | None:
    """Where ``value`` holds a string no service can store, if anywhere (the
    field's name, dotted below the top level).

    Why: JSON may escape a NUL character (``"\\u0000"``), which PostgreSQL
    refuses in any text column, or half of a UTF-16 pair (``"\\ud800"``),
    which Python decodes to a string no database, broker or mail server can
    encode. Either would fail deep in a service as a 500 instead of here as a
    400 naming the field; no field of this API has a use for them."""
    if isinstance(value, str):
        if "\x00" in value:
            return where
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return None
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and _unstorable_text(key):
            return where  # the name itself cannot be shown: its parent's
        found = _unstorable_text(item, str(key) if where == "_body" else f"{where}.{key}")
        if found:
            return found
    return None
