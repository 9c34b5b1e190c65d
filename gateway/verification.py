"""The public verification page of the fund's documents: ``/verify/<code>``.

No login. A bank, a landlord or a tax office types (or scans) the code printed
on a document and sees who issued it, what it is, when, the member's initials
and the SHA-256 of the original; it may upload its copy to compare hashes.
Nothing more personal is shown. A letter carrying a one-time code is known
by kind, date and initials only: neither its content nor its hash is kept
(see services/documents/letters.py), so the page says it cannot be compared.

A genuine, an unknown and a malformed code get the same page (same template,
same sections) after the same work (the documents service hashes the code and
looks it up by index either way), and every answer takes at least
``MIN_ANSWER_SECONDS``, so the answer time tells nothing either.
"""
from __future__ import annotations

import hashlib
import time
from urllib.parse import quote

import eventlet
from marshmallow import Schema, fields
from werkzeug.exceptions import RequestEntityTooLarge

from . import openapi, web

MIN_ANSWER_SECONDS = 0.3
MAX_COPY_BYTES = 20 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers
MAX_CODE_LENGTH = 64


def _lookup(ctx, code: str) -> dict:
    code = code[:MAX_CODE_LENGTH]
    return ctx.backends.call("documents", "verify", code)


def _equalised(started: float) -> None:
    remaining = MIN_ANSWER_SECONDS - (time.monotonic() - started)
    if remaining > 0:
        eventlet.sleep(remaining)


def form(ctx, request):
    """``/verify``: type a code (``?code=`` goes to its page)."""
    code = request.args.get("code", "").strip()
    if code:
        return web.redirect("/verify/" + quote(code[:MAX_CODE_LENGTH], safe=""))
    return web.render("verify.html", member=None, code=None, result=None, comparison=None,
                      error=None)


def page(ctx, request, code: str):
    """``GET /verify/<code>``: what the fund knows of the document with this code."""
    started = time.monotonic()
    result = _lookup(ctx, code)
    _equalised(started)
    return web.render("verify.html", member=None, code=code[:MAX_CODE_LENGTH], result=result,
                      comparison=None, error=None)


def compare(ctx, request, code: str):
    """``POST /verify/<code>`` with a file ``copie``: is it the original document?

    No session, hence no CSRF token: the form changes nothing on the server;
    cross-site posts are still refused (``web.check_origin``)."""
    started = time.monotonic()
    web.check_origin(request)
    error = comparison = digest = None
    content = b""
    if (request.content_length or 0) > MAX_COPY_BYTES + FORM_OVERHEAD:
        error = "too_large"
    else:
        request.max_content_length = MAX_COPY_BYTES + FORM_OVERHEAD
        try:
            upload = request.files.get("copie")
            if upload is not None:
                content = upload.read(MAX_COPY_BYTES + 1)
        except RequestEntityTooLarge:
            error = "too_large"
    if error is None:
        if not content:
            error = "no_file"
        elif len(content) > MAX_COPY_BYTES:
            error = "too_large"
        else:
            digest = hashlib.sha256(content).hexdigest()
    result = _lookup(ctx, code)
    if digest and result["found"] and result["sha256"] is None:
        # a letter carrying a one-time code: nothing of it is kept to compare with
        comparison = {"sha256": digest, "identical": None}
    elif digest and result["found"]:
        comparison = {"sha256": digest, "identical": digest == result["sha256"]}
    elif digest:
        comparison = {"sha256": digest, "identical": False}
    _equalised(started)
    return web.render("verify.html", status=400 if error else 200, member=None,
                      code=code[:MAX_CODE_LENGTH], result=result, comparison=comparison,
                      error=error)


def api_verify(ctx, request, code: str):
    """``GET /api/v1/verifications/<code>``: the same facts as the page, as JSON
    (``found`` false and null facts for an unknown code), same answer time."""
    started = time.monotonic()
    result = _lookup(ctx, code)
    _equalised(started)
    return web.json_response({"code": code[:MAX_CODE_LENGTH], "issuer": "Carpimko", **result})


class VerificationSchema(Schema):
    code = fields.String(required=True, metadata={"description": "the code as typed (64 at most)"})
    issuer = fields.String(required=True)
    found = fields.Boolean(required=True)
    kind = fields.String(required=True, allow_none=True)
    title = fields.String(required=True, allow_none=True)
    issued_on = fields.Date(required=True, allow_none=True)
    initials = fields.String(required=True, allow_none=True)
    sha256 = fields.String(required=True, allow_none=True)
    superseded = fields.Boolean(required=True, allow_none=True)


openapi.register("GET", "/api/v1/verifications/<code>", tag="Documents", auth=False,
                 summary="Check a document's verification code (public)",
                 responses={200: VerificationSchema}, errors=(404,),
                 description="The issuer's facts about the document with this code: kind, title, "
                             "issue date, the member's initials and the SHA-256 of the original. "
                             "An unknown code answers found=false with null facts, in the same time.")
