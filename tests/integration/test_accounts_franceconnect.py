"""FranceConnect: the relying party (services/accounts/franceconnect.py)
against the local provider that behaves like FranceConnect v2
(ops/franceconnect_dev.py, its own HTTP server), then the whole flow through
the gateway."""
from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from carpimko.db import Database
from gateway.service import GatewayService
from ops.franceconnect_dev import CLIENT_ID, CLIENT_SECRET, DevServer
from services.accounts import authentication, franceconnect
from services.accounts.models import Member
from services.accounts.service import AccountsService
from tests.support import factories
from tests.support.smtp import free_port

CLAIRE = dict(civility="Mme", first_name="Claire", last_name="Martin",
              birth_date=date(1978, 5, 12), birthplace="69123", birthcountry="99100")


@pytest.fixture
def provider():
    server = DevServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(provider):
    return franceconnect.Settings(provider.issuer, CLIENT_ID, CLIENT_SECRET,
                                  "https://espace.carpimko.test/franceconnect/retour",
                                  "https://espace.carpimko.test/connexion")


@pytest.fixture
def db(databases):
    url = databases.url("accounts")
    factories.add_member(url, "1234567", email="claire@example.fr", **CLAIRE)
    factories.add_member(url, "7654321", email=None, first_name="Jean", last_name="Dupont")
    database = Database(url, pool_size=2)
    yield database
    database.dispose()


def consent(url: str, identity: str) -> tuple[str, str]:
    """What the browser does at the provider: choose an identity, get redirected."""
    r = requests.post(url, data={"identity": identity}, allow_redirects=False)
    assert r.status_code == 302, r.text
    query = parse_qs(urlparse(r.headers["Location"]).query)
    return query["code"][0], query["state"][0]


def start(db, settings):
    with db.transaction() as session:
        return franceconnect.start(session, settings)


def authenticate(db, settings, code, state):
    with db.transaction() as session:
        return franceconnect.authenticate(session, settings, code, state)


def round_trip(db, settings, identity="claire"):
    begun = start(db, settings)
    code, state = consent(begun["url"], identity)
    assert state == begun["state"]
    return authenticate(db, settings, code, state)


def test_the_authorization_request_is_franceconnects(db, settings):
    url = start(db, settings)["url"]
    query = parse_qs(urlparse(url).query)
    assert query["acr_values"] == ["eidas1"] and query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID] and query["nonce"][0] and query["state"][0]
    assert set(query["scope"][0].split()) >= {"openid", "given_name", "family_name",
                                              "birthdate", "gender", "birthplace",
                                              "birthcountry"}


def test_six_pivot_match_links_then_the_sub_is_used(db, settings):
    result = round_trip(db, settings)
    assert result["sub"] == "fc-sub-claire-0001"
    assert result["identity"]["birthplace"] == "69123"
    with db.transaction() as session:
        assert franceconnect.link(session, result)["member"].file_number == "1234567"
    with db.transaction() as session:
        assert session.get(Member, "1234567").franceconnect_sub == "fc-sub-claire-0001"
        # a changed name no longer matters: the sub links
        session.get(Member, "1234567").last_name = "Martin-Durand"
    again = round_trip(db, settings)
    with db.transaction() as session:
        assert franceconnect.link(session, again)["member"].file_number == "1234567"


def test_no_unique_match_links_after_one_file_number_login(db, settings):
    result = round_trip(db, settings, "jean")  # Jean has no birthplace on file
    with db.transaction() as session:
        pending = franceconnect.link(session, result)["pending"]
    with db.transaction() as session:
        row = franceconnect.take_pending(session, pending)
        assert row.sub == "fc-sub-jean-0002"
        assert franceconnect.link_sub(session, "7654321", row.sub)
    with db.transaction() as session:
        assert franceconnect.take_pending(session, pending) is None  # single use
        assert session.get(Member, "7654321").franceconnect_sub == "fc-sub-jean-0002"


def test_two_members_with_the_same_pivot_are_not_linked(db, settings, databases):
    factories.add_member(databases.url("accounts"), "1111111", email=None, **CLAIRE)
    result = round_trip(db, settings)
    with db.transaction() as session:
        assert "pending" in franceconnect.link(session, result)


def test_wrong_state_is_refused(db, settings):
    begun = start(db, settings)
    code, _ = consent(begun["url"], "claire")
    with pytest.raises(franceconnect.FranceConnectError, match="state"):
        authenticate(db, settings, code, "an-invented-state")


def test_a_state_is_single_use(db, settings):
    begun = start(db, settings)
    code, state = consent(begun["url"], "claire")
    authenticate(db, settings, code, state)
    with pytest.raises(franceconnect.FranceConnectError, match="state"):
        authenticate(db, settings, code, state)


@pytest.mark.parametrize("fault, reason", [
    ("wrong_nonce", "nonce"), ("bad_signature", "bad token"), ("alg_none", "algorithm"),
    ("expired", "exp"), ("wrong_acr", "acr"), ("wrong_audience", "aud"),
])
def test_untrustworthy_tokens_are_refused(db, settings, provider, fault, reason):
    provider.provider.faults.add(fault)
    with pytest.raises(franceconnect.FranceConnectError, match=reason):
        round_trip(db, settings)


def test_an_unknown_kid_refetches_the_keys(db, settings, provider):
    round_trip(db, settings)  # keys cached
    provider.provider.faults.add("unknown_kid")  # rotated: kid fc-dev-2, published now
    assert round_trip(db, settings)["sub"] == "fc-sub-claire-0001"


def test_through_the_gateway_login_and_logout(container_factory, make_config, provider, db):
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    fc = {"FRANCECONNECT_ISSUER": provider.issuer, "FRANCECONNECT_CLIENT_ID": CLIENT_ID,
          "FRANCECONNECT_CLIENT_SECRET": CLIENT_SECRET, "PUBLIC_URL": public}
    container_factory(AccountsService, make_config("accounts", **fc)).start()
    container_factory(GatewayService, make_config(None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
                                                  **fc)).start()
    browser = requests.Session()
    r = browser.get(f"{public}/franceconnect", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith(provider.issuer)
    code, state = consent(r.headers["Location"], "claire")
    # a callback with another state than the browser's is refused
    forged = requests.get(f"{public}/franceconnect/retour", params={"code": code, "state": "x"})
    assert forged.status_code == 400
    r = browser.get(f"{public}/franceconnect/retour", params={"code": code, "state": state},
                    allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    me = browser.get(f"{public}/api/v1/me").json()
    assert "member" in me, (me, r.headers, browser.cookies)
    me = me["member"]
    assert me["file_number"] == "1234567"
    page = browser.get(f"{public}/securite")
    import re
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = browser.post(f"{public}/franceconnect/deconnexion", data={"csrf_token": csrf},
                     allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith(f"{provider.issuer}/session/end")
    assert parse_qs(urlparse(r.headers["Location"]).query)["id_token_hint"][0].count(".") == 2
    assert browser.get(f"{public}/api/v1/me").status_code == 401
    # Jean matches no member: one file-number login links him
    jean = requests.Session()
    r = jean.get(f"{public}/franceconnect", allow_redirects=False)
    code, state = consent(r.headers["Location"], "jean")
    r = jean.get(f"{public}/franceconnect/retour", params={"code": code, "state": state},
                 allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/franceconnect/lier"
    wrong = jean.post(f"{public}/franceconnect/lier",
                      data={"file_number": "7654321", "password": "pas le bon mot de passe"})
    assert wrong.status_code == 401
    r = jean.get(f"{public}/franceconnect", allow_redirects=False)
    code, state = consent(r.headers["Location"], "jean")
    jean.get(f"{public}/franceconnect/retour", params={"code": code, "state": state},
             allow_redirects=False)
    r = jean.post(f"{public}/franceconnect/lier",
                  data={"file_number": "7654321", "password": factories.PASSWORD},
                  allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert jean.get(f"{public}/api/v1/me").json()["member"]["file_number"] == "7654321"
    with db.transaction() as session:
        assert session.get(Member, "7654321").franceconnect_sub == "fc-sub-jean-0002"


def test_a_provider_that_is_down_is_unavailable_not_an_error(db):
    from tests.support.smtp import free_port as port_of
    down = franceconnect.Settings(f"http://127.0.0.1:{port_of()}/api/v2", CLIENT_ID,
                                  CLIENT_SECRET, "https://x/retour", "https://x/connexion", 1)
    import requests as http
    with pytest.raises(http.RequestException):
        start(db, down)
