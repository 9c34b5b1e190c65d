"""FranceConnect relying party (OpenID Connect, authorization code flow) and
the linking of a FranceConnect identity to a member (service layer).

- Authlib (``OAuth2Session``) builds the authorization request and exchanges
  the code (``client_secret_post``); joserfc (Authlib's JOSE library)
  verifies the tokens.
- The ID token and the userinfo JWT must be signed with ES256 (``alg: none``
  or any other algorithm is refused) by a key of the provider's JWKS; an
  unknown ``kid`` refetches the JWKS once (key rotation). ``iss``, ``aud``,
  ``exp``, ``nonce`` and ``acr`` (``eidas1``) are checked; the userinfo
  ``sub`` must be the ID token's.
- Linking: by the stored ``sub``; otherwise by an exact match of the six
  pivot fields (given names, family name, birth date, gender, birthplace,
  birth country) to exactly one member not linked yet; otherwise the member
  logs in once with the file number and the link is made then.

Endpoints are configured per environment (``FRANCECONNECT_ISSUER`` etc.,
see ``Settings``); FranceConnect is off when no issuer is configured.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .models import FranceConnectPending, FranceConnectState, Member

ACR = "eidas1"
ALGORITHMS = ["ES256"]
SCOPES = "openid given_name family_name birthdate gender birthplace birthcountry"
STATE_LIFETIME = timedelta(minutes=10)
PENDING_LIFETIME = timedelta(minutes=15)
GENDER_OF_CIVILITY = {"Mme": "female", "M.": "male", "M": "male"}


class FranceConnectError(Exception):
    """The answer of the provider cannot be trusted (``reason`` says why)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str
    timeout: float = 5.0

    @classmethod
    def from_config(cls, config) -> "Settings | None":
        def get(name, default=None):
            return config.get(f"FRANCECONNECT_{name}") or os.environ.get(
                f"CARPIMKO_FRANCECONNECT_{name}") or default
        issuer = get("ISSUER")
        if not issuer:
            return None
        public = str(config.get("PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
        return cls(issuer=issuer.rstrip("/"), client_id=get("CLIENT_ID", ""),
                   client_secret=get("CLIENT_SECRET", ""),
                   redirect_uri=get("REDIRECT_URI", f"{public}/franceconnect/retour"),
                   post_logout_redirect_uri=get("POST_LOGOUT_URI", f"{public}/connexion"),
                   timeout=float(get("TIMEOUT", 5)))


class Provider:
    """The provider's metadata and keys, fetched lazily and cached per process."""

    _cache: dict = {}

    def __init__(self, settings: Settings):
        self.settings = settings

    def metadata(self) -> dict:
        key = ("metadata", self.settings.issuer)
        if key not in self._cache:
            r = requests.get(f"{self.settings.issuer}/.well-known/openid-configuration",
                             timeout=self.settings.timeout)
            r.raise_for_status()
            data = r.json()
            if data.get("issuer", "").rstrip("/") != self.settings.issuer:
                raise FranceConnectError("issuer mismatch in discovery")
            self._cache[key] = data
        return self._cache[key]

    def keys(self, refresh: bool = False) -> KeySet:
        key = ("jwks", self.settings.issuer)
        if refresh or key not in self._cache:
            r = requests.get(self.metadata()["jwks_uri"], timeout=self.settings.timeout)
            r.raise_for_status()
            self._cache[key] = KeySet.import_key_set(r.json())
        return self._cache[key]

    def verify(self, token: str, **expected) -> dict:
        """Verify an ES256 JWT of the provider and its claims."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise FranceConnectError("not a signed JWT")
        try:
            header = extract_compact(token.encode()).protected
        except (JoseError, ValueError):
            raise FranceConnectError("malformed JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise FranceConnectError(f"algorithm {header.get('alg')!r} refused")
        keys = self.keys()
        kid = header.get("kid")
        if kid and not _has_kid(keys, kid):
            keys = self.keys(refresh=True)
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise FranceConnectError(f"bad token: {type(exc).__name__}: {exc}") from None
        if decoded.header.get("alg") not in ALGORITHMS:
            raise FranceConnectError("algorithm refused")
        claims = decoded.claims
        options = {"iss": {"essential": True, "value": self.settings.issuer},
                   "aud": {"essential": True, "value": self.settings.client_id},
                   "exp": {"essential": True}}
        for name, value in expected.items():
            options[name] = {"essential": True, "value": value}
        try:
            jwt.JWTClaimsRegistry(leeway=30, **options).validate(claims)
        except JoseError as exc:
            raise FranceConnectError(f"claims refused: {exc}") from None
        return claims


def _has_kid(keys: KeySet, kid: str) -> bool:
    try:
        keys.get_by_kid(kid)
        return True
    except (ValueError, KeyError, JoseError):
        return False


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start(session: Session, settings: Settings) -> dict:
    """The authorization URL; ``state`` and ``nonce`` remembered (hashed state)."""
    metadata = Provider(settings).metadata()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    client = OAuth2Session(settings.client_id, settings.client_secret, scope=SCOPES,
                           redirect_uri=settings.redirect_uri)
    url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state,
                                             nonce=nonce, acr_values=ACR)
    now = datetime.now(timezone.utc)
    session.add(FranceConnectState(state_hash=_digest(state), nonce=nonce, created_at=now))
    return {"url": url, "state": state}


def consume_state(session: Session, state: str) -> str:
    """The nonce of a live ``state``, which is used up (even if what follows fails)."""
    now = datetime.now(timezone.utc)
    if not isinstance(state, str) or not state or len(state) > 200:
        raise FranceConnectError("missing state")
    row = session.get(FranceConnectState, _digest(state), with_for_update=True)
    if row is None or row.used_at is not None or _aware(row.created_at) + STATE_LIFETIME < now:
        raise FranceConnectError("unknown, used or expired state")
    row.used_at = now
    return row.nonce


def authenticate(session: Session, settings: Settings, code: str, state: str) -> dict:
    """Check the state (in ``session``), then ``exchange``."""
    return exchange(settings, code, consume_state(session, state))


def exchange(settings: Settings, code: str, nonce: str) -> dict:
    """Exchange the code, verify the ID token and the userinfo.

    Answers ``{"sub", "identity", "id_token"}``; raises FranceConnectError."""
    if not isinstance(code, str) or not code or len(code) > 500:
        raise FranceConnectError("missing code")
    provider = Provider(settings)
    metadata = provider.metadata()
    client = OAuth2Session(settings.client_id, settings.client_secret,
                           redirect_uri=settings.redirect_uri,
                           token_endpoint_auth_method="client_secret_post")
    try:
        token = client.fetch_token(metadata["token_endpoint"], code=code,
                                   grant_type="authorization_code", timeout=settings.timeout)
    except Exception as exc:  # noqa: BLE001 - any failure of the exchange is a refusal
        raise FranceConnectError(f"token exchange failed: {exc}") from None
    claims = provider.verify(token.get("id_token"), nonce=nonce, acr=ACR)
    r = requests.get(metadata["userinfo_endpoint"], timeout=settings.timeout,
                     headers={"Authorization": f"Bearer {token['access_token']}"})
    if r.status_code != 200 or not r.headers.get("Content-Type", "").startswith("application/jwt"):
        raise FranceConnectError("userinfo is not a signed JWT")
    identity = provider.verify(r.text.strip())
    if identity.get("sub") != claims["sub"]:
        raise FranceConnectError("userinfo sub differs from the ID token's")
    return {"sub": claims["sub"], "identity": identity, "id_token": token["id_token"]}


def _pivot_of(member: Member) -> tuple:
    return (member.first_name.strip().lower(), member.last_name.strip().lower(),
            member.birth_date.isoformat(), GENDER_OF_CIVILITY.get(member.civility),
            member.birthplace, member.birthcountry)


def _pivot_of_identity(identity: dict) -> tuple:
    return ((identity.get("given_name") or "").strip().lower(),
            (identity.get("family_name") or "").strip().lower(), identity.get("birthdate"),
            identity.get("gender"), identity.get("birthplace"), identity.get("birthcountry"))


def link(session: Session, result: dict) -> dict:
    """The member of a verified identity (``{"member": Member}``) or a pending
    link to make at the next file-number login (``{"pending": token}``)."""
    sub = result["sub"]
    member = session.scalar(select(Member).where(Member.franceconnect_sub == sub))
    how = "sub"
    if member is None:
        wanted = _pivot_of_identity(result["identity"])
        candidates = [m for m in session.scalars(select(Member).where(
            Member.birth_date == _date(wanted[2]), Member.franceconnect_sub.is_(None)))
            if _pivot_of(m) == wanted and None not in _pivot_of(m)]
        if len(candidates) == 1:
            member, how = candidates[0], "pivot"
            member.franceconnect_sub = sub
    if member is None:
        token = secrets.token_urlsafe(32)
        session.add(FranceConnectPending(token_hash=_digest(token), sub=sub,
                                         id_token=result["id_token"],
                                         created_at=datetime.now(timezone.utc)))
        audit.record(session, "franceconnect_unmatched", None, actor="franceconnect")
        return {"pending": token}
    audit.record(session, "franceconnect_login", member.file_number, linked_by=how)
    return {"member": member}


def take_pending(session: Session, token: str) -> FranceConnectPending | None:
    if not isinstance(token, str) or not token or len(token) > 100:
        return None
    row = session.get(FranceConnectPending, _digest(token), with_for_update=True)
    now = datetime.now(timezone.utc)
    if row is None or row.used_at is not None or _aware(row.created_at) + PENDING_LIFETIME < now:
        return None
    row.used_at = now
    return row


def link_sub(session: Session, file_number: str, sub: str) -> bool:
    """Link after a file-number login; False when that identity is already linked."""
    if session.scalar(select(Member).where(Member.franceconnect_sub == sub)) is not None:
        return False
    session.get(Member, file_number).franceconnect_sub = sub
    audit.record(session, "franceconnect_linked", file_number)
    return True


def logout_url(settings: Settings, id_token: str) -> str:
    from urllib.parse import urlencode
    metadata = Provider(settings).metadata()
    return f"{metadata['end_session_endpoint']}?" + urlencode({
        "id_token_hint": id_token, "state": secrets.token_urlsafe(16),
        "post_logout_redirect_uri": settings.post_logout_redirect_uri})


def _date(value):
    from datetime import date
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
