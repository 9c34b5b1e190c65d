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

from carpimko.errors import NotFound

from . import api, web

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
    return web.render("documents.html", documents=filter_documents(documents, kind, year),
                      total=len(documents), kinds=kinds, years=years, kind=kind, year=year,
                      member=session["member"], csrf_token=session["csrf_token"])
