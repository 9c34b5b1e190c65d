"""The gateway's web security and API conventions over HTTP, with the real
services behind it: every header on every kind of response, CSRF and Origin
checks enforced, session fixation, per-client rate limiting of login shared by
several gateway replicas through Redis (and the in-memory fallback), the one
error format for 413 / 415 / 429, and the OpenAPI document."""
from __future__ import annotations

import os
import re
import uuid

import pytest
import requests

from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.contributions.service import ContributionsService
from services.documents.service import DocumentsService
from services.notifications.service import NotificationsService
from tests.support import factories
from tests.support.smtp import free_port

REDIS_URL = os.environ.get("CARPIMKO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def start_gateway(container_factory, make_config, **extra) -> str:
    port = free_port()
    config = make_config(None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", RPC_TIMEOUT=3, **extra)
    container_factory(GatewayService, config).start()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def services(container_factory, make_config, smtp_server):
    accounts = make_config("accounts")
    contributions = make_config("contributions")
    for number, email in (("1234567", "claire@example.fr"), ("7654321", None)):
        factories.add_member(accounts["DATABASE_URL"], number, email=email)
        factories.add_contributor(contributions["DATABASE_URL"], number)
    container_factory(AccountsService, accounts).start()
    container_factory(ContributionsService, contributions).start()
    container_factory(DocumentsService, make_config("documents")).start()
    container_factory(NotificationsService,
                      make_config("notifications", SMTP_PORT=smtp_server.port)).start()


@pytest.fixture
def gateway(services, container_factory, make_config):
    return start_gateway(container_factory, make_config, REDIS_URL="")


@pytest.fixture
def redis_url():
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Redis is needed at {REDIS_URL}: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); set CARPIMKO_TEST_REDIS_URL")
    return REDIS_URL


def login(base, file_number="1234567"):
    s = requests.Session()
    r = s.post(f"{base}/api/v1/session",
               json={"file_number": file_number, "password": factories.PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return s


def csrf_token(session, url) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', session.get(url).text).group(1)


def assert_security_headers(r, personal=True, hsts=False):
    csp = r.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'",
                      "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"):
        assert directive in csp, (r.url, directive)
    assert "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["X-Frame-Options"] == "DENY"
    if personal:
        assert r.headers["Cache-Control"] == "no-store", r.url
    if hsts:
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in r.headers


def test_every_kind_of_response_carries_the_security_headers(gateway):
    s = login(gateway)
    declarations = s.get(f"{gateway}/api/v1/declarations")
    for r in (s.get(f"{gateway}/"), s.get(f"{gateway}/revenus/declarer"), declarations,
              s.get(f"{gateway}/api/v1/me"), s.get(f"{gateway}/page-inconnue"),
              s.get(f"{gateway}/api/v1/nothing"), requests.get(f"{gateway}/connexion"),
              requests.get(f"{gateway}/api/v1/me")):
        assert_security_headers(r)
    static = requests.get(f"{gateway}/static/carpimko.css")
    assert_security_headers(static, personal=False)
    assert static.headers["Cache-Control"] == "public, max-age=3600"
    docs = requests.get(f"{gateway}/api/docs")
    assert_security_headers(docs, personal=False)
    # pages carry no inline script or style: the CSP would block them
    for page in (s.get(f"{gateway}/").text, s.get(f"{gateway}/revenus/declarer").text, docs.text):
        assert "<script>" not in page and " style=" not in page and "<style" not in page


def test_secure_deployment_sets_hsts_and_a_host_prefixed_cookie(services, container_factory,
                                                                make_config):
    base = start_gateway(container_factory, make_config, COOKIE_SECURE=True, REDIS_URL="")
    r = requests.post(f"{base}/api/v1/session",
                      json={"file_number": "1234567", "password": factories.PASSWORD})
    assert r.status_code == 200
    assert_security_headers(r, hsts=True)
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-carpimko_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie
    assert_security_headers(requests.get(f"{base}/connexion"), hsts=True)


def test_csrf_and_origin_are_enforced_on_every_state_changing_form(gateway):
    s = login(gateway)
    token = csrf_token(s, f"{gateway}/revenus/declarer")
    good = {"year": "2026", "professional_income": "40000", "conventioned_income": ""}
    for data, headers in (
            (good, {}),                                                  # no token
            ({**good, "csrf_token": "x" * 43}, {}),                      # wrong token
            ({**good, "csrf_token": token}, {"Origin": "https://evil.example"}),
            ({**good, "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"})):
        r = s.post(f"{gateway}/revenus/declarer", data=data, headers=headers,
                   allow_redirects=False)
        assert r.status_code == 403, (data, headers)
        assert "Action refusée" in r.text and "Que faire" in r.text
    assert s.get(f"{gateway}/api/v1/declarations").json()["items"] == []  # nothing recorded
    # logout is a form too
    r = s.post(f"{gateway}/deconnexion", data={}, allow_redirects=False)
    assert r.status_code == 403
    assert s.get(f"{gateway}/api/v1/me").status_code == 200  # still logged in
    # another member's token does not work either
    other = login(gateway, "7654321")
    other_token = csrf_token(other, f"{gateway}/revenus/declarer")
    r = s.post(f"{gateway}/revenus/declarer", data={**good, "csrf_token": other_token},
               allow_redirects=False)
    assert r.status_code == 403
    r = s.post(f"{gateway}/revenus/declarer", data={**good, "csrf_token": token},
               headers={"Origin": gateway}, allow_redirects=False)
    assert r.status_code == 303
    # the JSON API checks the Origin on every state-changing call
    r = s.delete(f"{gateway}/api/v1/session", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_login_gives_a_new_session_and_logout_ends_it_server_side(gateway):
    s = login(gateway)
    first = s.cookies["carpimko_session"]
    # logging in again from the same browser: a new token, the old one is dead
    r = s.post(f"{gateway}/connexion",
               data={"file_number": "1234567", "password": factories.PASSWORD},
               allow_redirects=False)
    assert r.status_code == 303
    second = s.cookies["carpimko_session"]
    assert second != first
    old = requests.get(f"{gateway}/api/v1/me", cookies={"carpimko_session": first})
    assert old.status_code == 401
    token = csrf_token(s, f"{gateway}/")
    r = s.post(f"{gateway}/deconnexion", data={"csrf_token": token}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/connexion"
    # replaying the cookie after logout: the server no longer knows it
    replay = requests.get(f"{gateway}/api/v1/me", cookies={"carpimko_session": second})
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "login_required"


def test_api_bounds_sizes_content_types_and_unknown_fields(gateway):
    s = login(gateway)
    url = f"{gateway}/api/v1/declarations"
    body = {"year": 2026, "professional_income": "40000", "conventioned_income": None}
    r = s.post(url, data='{"year": 2026}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    r = s.post(url, data="{" + " " * 17000 + "}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = s.post(url, json={**body, "file_number": "7654321"})
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"file_number": ["Champ inconnu."]}
    r = s.post(url, json={**body, "year": 3000})
    assert r.status_code == 400 and list(r.json()["error"]["fields"]) == ["year"]
    r = s.post(url, data="[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["fields"] == {"_body": ["must be an object"]}


def _fail_logins(base, count, file_number="1234567"):
    return [requests.post(f"{base}/api/v1/session",
                          json={"file_number": file_number, "password": "mauvais"}, timeout=10)
            for _ in range(count)]


def test_login_rate_limit_is_shared_by_gateway_replicas_through_redis(
        services, container_factory, make_config, redis_url):
    prefix = f"carpimko:test:{uuid.uuid4().hex}:"
    replicas = [start_gateway(container_factory, make_config, REDIS_URL=redis_url,
                              RATE_LIMIT_PREFIX=prefix, LOGIN_RATE_LIMIT="4/60")
                for _ in range(2)]
    # four failures spread over the two replicas use up the client's attempts
    answers = _fail_logins(replicas[0], 2) + _fail_logins(replicas[1], 2)
    assert [r.status_code for r in answers] == [401, 401, 401, 401]
    for base in replicas:
        r = requests.post(f"{base}/api/v1/session",
                          json={"file_number": "1234567", "password": factories.PASSWORD})
        assert r.status_code == 429, r.text  # even the right password: wait first
        assert r.json()["error"] == {"code": "too_many_requests", "fields": {},
                                     "message": "Trop de tentatives. Par sécurité, patientez "
                                                "quelques minutes avant de réessayer."}
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert_security_headers(r)
    # the login page says so too, in French, with Retry-After
    page = requests.post(f"{replicas[1]}/connexion",
                         data={"file_number": "1234567", "password": "x"})
    assert page.status_code == 429 and "Trop de tentatives" in page.text
    assert int(page.headers["Retry-After"]) >= 1
    import redis
    keys = redis.Redis.from_url(redis_url).keys(f"{prefix}*")
    assert [k.decode() for k in keys] == [f"{prefix}login:127.0.0.1"]
    redis.Redis.from_url(redis_url).delete(*keys)


def test_successful_logins_are_not_counted_and_memory_fallback_limits(services,
                                                                    container_factory,
                                                                    make_config):
    base = start_gateway(container_factory, make_config, REDIS_URL="", LOGIN_RATE_LIMIT="3/60")
    for _ in range(5):
        login(base)  # successes never count
    assert [r.status_code for r in _fail_logins(base, 4)] == [401, 401, 401, 429]


def test_unreachable_redis_falls_back_to_the_process_counters(services, container_factory,
                                                             make_config):
    base = start_gateway(container_factory, make_config, REDIS_URL="redis://127.0.0.1:1/0",
                         LOGIN_RATE_LIMIT="2/60")
    assert [r.status_code for r in _fail_logins(base, 3)] == [401, 401, 429]


def test_openapi_document_and_docs_page(gateway):
    r = requests.get(f"{gateway}/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert doc["openapi"] == "3.0.3"
    login_op = doc["paths"]["/api/v1/session"]["post"]
    assert login_op["requestBody"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Login"}
    assert set(login_op["responses"]) >= {"200", "400", "401", "413", "415", "429", "503"}
    assert login_op["responses"]["429"]["headers"]["Retry-After"]
    login_schema = doc["components"]["schemas"]["Login"]
    assert login_schema["additionalProperties"] is False
    assert login_schema["required"] == ["file_number", "password"]
    declaration = doc["components"]["schemas"]["DeclarationView"]["properties"]
    assert declaration["professional_income"]["type"] == "string"
    assert doc["paths"]["/api/v1/declarations/{declaration_id}"]["get"]["parameters"][0][
        "schema"] == {"type": "string", "format": "uuid"}
    assert doc["components"]["securitySchemes"]["session"]["name"] == "carpimko_session"
    page = requests.get(f"{gateway}/api/docs")
    assert page.status_code == 200
    assert "<code>POST /api/v1/declarations</code>" in page.text
    assert 'id="schema-DeclarationView"' in page.text
