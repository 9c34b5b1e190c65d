"""The member's documents: the "Mes documents" page and the PDF downloads.

Downloads (``/documents/<id>`` and ``/api/v1/documents/<id>/content``): owner
only (anyone else gets 404, as for an unknown id), always as an attachment with
an RFC 6266 filename (an ASCII fallback plus ``filename*=UTF-8''...``),
``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``.
"""
from __future__ import annotations

import base64
import re
import unicodedata
import uuid
from urllib.parse import quote

from werkzeug.wrappers import Response

from datetime import date

from marshmallow import Schema, fields

from carpimko.errors import InvalidRequest, NotFound, ServiceUnavailable, Unauthorized

from . import api, messages, openapi, web
from .schemas import DocumentSchema

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._ -]+")


def _check_uuid(value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise NotFound("unknown id", {}) from None


def download_filename(doc: dict) -> str:
    """"Carpimko - Relevé de cotisations 2026 - 2026-11-28.pdf"."""
    title = " ".join(str(doc.get("title") or doc["kind"]).split())
    name = f"Carpimko - {title} - {doc['issued_on']}.pdf"
    return name.replace("/", "-").replace("\\", "-")


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients, the exact UTF-8 name in
    ``filename*`` (RFC 5987 encoding)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name).strip() or "document.pdf"
    return (f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(filename, safe='')}")


def download(ctx, request, document_id: str) -> Response:
    session = api.require_session(ctx, request)
    _check_uuid(document_id)
    doc = ctx.backends.call("documents", "get_content", session["member"]["file_number"],
                            document_id)
    return Response(base64.b64decode(doc["content_base64"]), mimetype=doc["media_type"],
                    headers={"Content-Disposition": content_disposition(download_filename(doc)),
                             "X-Content-Type-Options": "nosniff",
                             "Cache-Control": "no-store",
                             "X-Content-SHA256": doc["sha256"]})


def filter_documents(documents: list[dict], kind: str | None, year: str | None) -> list[dict]:
    """Filter by kind and by year (the document's year, else its issue year)."""
    selected = []
    for doc in documents:
        if kind and doc["kind"] != kind:
            continue
        if year and str(document_year(doc)) != year:
            continue
        selected.append(doc)
    return selected


def document_year(doc: dict) -> int:
    return doc.get("year") or int(doc["issued_on"][:4])


def documents_page(ctx, request) -> Response:
    """``/documents``: "Mes documents", filtered by ``?kind=`` and ``?year=``."""
    session = api.require_session(ctx, request)
    return _documents_page(ctx, request, session)


def _documents_page(ctx, request, session, status: int = 200,
                    certificate_error: str | None = None) -> Response:
    documents = ctx.backends.call("documents", "list_documents",
                                  session["member"]["file_number"])
    kinds = sorted({doc["kind"] for doc in documents})
    years = sorted({document_year(doc) for doc in documents}, reverse=True)
    kind = request.args.get("kind") or None
    year = request.args.get("year") or None
    if kind not in kinds:
        kind = None
    if year not in {str(y) for y in years}:
        year = None
    issued = next((d for d in documents if d["id"] == request.args.get("attestation")), None)
    return web.render("documents.html", status=status,
                      documents=filter_documents(documents, kind, year),
                      total=len(documents), kinds=kinds, years=years, kind=kind, year=year,
                      member=session["member"], csrf_token=session["csrf_token"],
                      certificate_years=certificate_years(date.today()),
                      certificate_request_id=str(uuid.uuid4()),
                      certificate_error=certificate_error, issued=issued)


# -- the certificate of contributions paid, on the member's request --------------------------
CERTIFICATE_YEARS = 5  # the current year and the four before


def certificate_years(today: date) -> list[int]:
    return [today.year - n for n in range(CERTIFICATE_YEARS)]


def _certificate_error(exc: InvalidRequest) -> str:
    problems = " ".join(str(p) for p in (exc.fields or {}).get("year", []))
    if "no_payment_in_year" in problems:
        return messages.field("no_payment_in_year")
    return messages.field("unknown_year")


def request_certificate(ctx, request) -> Response:
    """``POST /documents/attestation`` (year, request_id): issue the certificate
    of contributions paid in that year, then show it at the top of the page.
    The form's ``request_id`` makes a double submission issue one document."""
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    try:
        year = int(request.form.get("year", ""))
        if year not in certificate_years(date.today()):
            raise InvalidRequest("invalid year", {"year": ["unknown_year"]})
        doc = ctx.backends.call("documents", "issue_contributions_certificate",
                                session["member"]["file_number"], year,
                                request.form.get("request_id", ""))
    except ValueError:
        return _documents_page(ctx, request, session, 400, messages.field("unknown_year"))
    except InvalidRequest as exc:
        return _documents_page(ctx, request, session, 400, _certificate_error(exc))
    return web.redirect(f"/documents?attestation={doc['id']}")


class CertificateRequestSchema(Schema):
    year = fields.Integer(required=True, strict=True)


def api_request_certificate(ctx, request) -> Response:
    """``POST /api/v1/documents/certificates`` {"year": 2025}: 201 with the
    document; an ``Idempotency-Key`` header makes a retry return the same one."""
    session = api.require_session(ctx, request)
    data = api._load(CertificateRequestSchema(), web.json_body(request))
    file_number = session["member"]["file_number"]
    key = request.headers.get("Idempotency-Key")
    request_id = str(uuid.uuid5(_CERTIFICATE_NS, f"{file_number}:{key}") if key else uuid.uuid4())
    try:
        doc = ctx.backends.call("documents", "issue_contributions_certificate", file_number,
                                data["year"], request_id)
    except InvalidRequest as exc:
        raise InvalidRequest("invalid request", {"year": [_certificate_error(exc)]}) from None
    doc["content_url"] = f"/api/v1/documents/{doc['id']}/content"
    return web.json_response(doc, 201, headers={"Location": doc["content_url"]})


_CERTIFICATE_NS = uuid.UUID("0b6f5a52-8f5e-4d8c-9a3e-2c51a4c6e7d1")


# -- advisors: a member's documents, every download audited ----------------------------------
def staff_download(ctx, request, token: str, file_number: str, document_id: str) -> Response:
    """An advisor downloads a member's document: fetched for that member only
    (404 otherwise), then the download is audited by accounts (which checks the
    advisor role: 403 without it) before anything is sent."""
    _check_uuid(document_id)
    doc = ctx.backends.call("documents", "get_content", file_number, document_id)
    try:
        ctx.backends.call("accounts", "staff_document_download", token, file_number,
                          document_id, doc["title"])
    except Unauthorized:
        raise web.Forbidden("advisor role required", {}) from None
    return Response(base64.b64decode(doc["content_base64"]), mimetype=doc["media_type"],
                    headers={"Content-Disposition": content_disposition(download_filename(doc)),
                             "X-Content-Type-Options": "nosniff",
                             "Cache-Control": "no-store",
                             "X-Content-SHA256": doc["sha256"]})


def staff_documents(ctx, file_number: str) -> list[dict] | None:
    """A member's documents for the advisor's page; None when the documents
    service does not answer (the rest of the file still shows)."""
    try:
        return ctx.backends.call("documents", "list_documents", file_number)
    except ServiceUnavailable:
        return None


def api_staff_download(ctx, request, file_number: str, document_id: str) -> Response:
    """``GET /api/v1/staff/members/<file_number>/documents/<document_id>/content``."""
    from . import account_api
    token = account_api._staff_token(ctx, request)
    account_api._require_staff_session(ctx, token)
    return staff_download(ctx, request, token, file_number, document_id)


openapi.register("POST", "/api/v1/documents/certificates", tag="Documents",
                 summary="Issue the certificate of contributions paid in a year",
                 body=CertificateRequestSchema, responses={201: DocumentSchema}, errors=(400,),
                 description="For the income tax return: every payment received in `year` "
                             "(the current year or the four before). An `Idempotency-Key` "
                             "header makes a retry return the same document; a new request "
                             "issues a new version, which supersedes the previous one.")
openapi.register("GET", "/api/v1/staff/members/<file_number>/documents/<document_id>/content",
                 tag="Agents", auth=False,
                 summary="An advisor downloads a member's document (audited)",
                 responses={200: "application/pdf"}, errors=(401, 403, 404))
