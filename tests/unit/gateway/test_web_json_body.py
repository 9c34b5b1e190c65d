"""The JSON body of an API request: what is refused before any service sees it."""
from __future__ import annotations

import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from carpimko.errors import InvalidRequest
from gateway import web


def request_with(raw: bytes) -> Request:
    return Request(EnvironBuilder(method="POST", path="/api/v1/messages/threads", data=raw,
                                  content_type="application/json").get_environ())


def test_a_valid_object_is_returned_as_decoded():
    body = {"subject": "Mon relevé", "body": "Bonjour 👋", "tags": ["a", "é"]}
    assert web.json_body(request_with(json.dumps(body).encode())) == body


@pytest.mark.parametrize("raw, field", [
    (b'{"subject": "\\ud800", "body": "x"}', "subject"),
    (b'{"subject": "ok", "body": "a\\udfffb"}', "body"),
    (b'{"subject": "a\\u0000b", "body": "x"}', "subject"),
    (b'{"months": [{"income": "1"}, {"note": "\\ud83d"}]}', "months.1.note"),
    (b'{"\\udc00": "x"}', "_body"),
    (b'{"estimate": {"\\udc00": "x"}}', "estimate"),
])
def test_a_nul_or_a_lone_surrogate_escape_is_refused_naming_the_field(raw, field):
    with pytest.raises(InvalidRequest) as refused:
        web.json_body(request_with(raw))
    assert refused.value.fields == {field: ["not valid text (a NUL character or a lone surrogate escape)"]}


def test_an_escaped_surrogate_pair_is_one_valid_character():
    assert web.json_body(request_with(b'{"body": "\\ud83d\\udc4b"}')) == {"body": "👋"}


def test_a_form_with_a_nul_character_is_refused_after_its_csrf_token_is_checked():
    def form(**fields):
        return Request(EnvironBuilder(method="POST", path="/messages/nouveau", data=fields).get_environ())

    session = {"csrf_token": "t0ken"}
    web.check_csrf(form(csrf_token="t0ken", subject="Mon relevé"), session)  # accepted
    with pytest.raises(InvalidRequest) as refused:
        web.check_csrf(form(csrf_token="t0ken", subject="a\x00b"), session)
    assert list(refused.value.fields) == ["subject"]
    with pytest.raises(web.Forbidden):
        web.check_csrf(form(csrf_token="wrong", subject="a\x00b"), session)


def test_the_member_reads_the_refusal_in_french():
    with pytest.raises(InvalidRequest) as refused:
        web.json_body(request_with(b'{"subject": "a\\u0000b", "body": "x"}'))
    status, body = web.error_body(refused.value)
    assert status == 400
    assert body["error"]["fields"] == {"subject": [
        "Ce texte contient un caractère qui ne peut pas être enregistré "
        "(caractère nul ou caractère Unicode incomplet)."]}
