"""A local OpenID provider that behaves like FranceConnect v2, for
development and tests (never for production).

What it does like FranceConnect v2: discovery document, authorization code
flow with ``state``, ``nonce`` and ``acr_values=eidas1``, ES256-signed ID
tokens (keys published as a JWKS with a ``kid``), userinfo answered as an
ES256-signed JWT (``application/jwt``) with the pivot identity claims
(``given_name``, ``family_name``, ``birthdate``, ``gender``, ``birthplace``,
``birthcountry``), client authentication by ``client_secret_post``, and
``/session/end`` (logout with ``id_token_hint``, ``state``,
``post_logout_redirect_uri``).

``faults`` makes it misbehave for the relying party's negative tests:
``alg_none``, ``bad_signature``, ``expired``, ``wrong_acr``, ``wrong_audience``,
``wrong_nonce``, ``unknown_kid`` (a rotated key).

Run: ``carpimko franceconnect-dev [--port 9090]`` or
``python -m ops.franceconnect_dev``.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import secrets
import threading
import time
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.wrappers import Request, Response

CLIENT_ID = "carpimko-dev-client"
CLIENT_SECRET = "carpimko-dev-secret-not-for-production"

#: test identities (the six pivot fields of FranceConnect, INSEE codes)
IDENTITIES = {
    "claire": {"sub": "fc-sub-claire-0001", "given_name": "Claire", "family_name": "MARTIN",
               "birthdate": "1978-05-12", "gender": "female", "birthplace": "69123",
               "birthcountry": "99100", "email": "claire@example.fr"},
    "jean": {"sub": "fc-sub-jean-0002", "given_name": "Jean", "family_name": "DUPONT",
             "birthdate": "1965-11-02", "gender": "male", "birthplace": "75056",
             "birthcountry": "99100", "email": "jean.dupont@example.fr"},
    "inconnu": {"sub": "fc-sub-unknown-0003", "given_name": "Paul", "family_name": "NEMO",
                "birthdate": "1990-01-01", "gender": "male", "birthplace": "13055",
                "birthcountry": "99100", "email": "paul@example.fr"},
}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class Provider:
    def __init__(self, issuer: str, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET):
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = ECKey.generate_key("P-256", parameters={"kid": "fc-dev-1", "use": "sig",
                                                           "alg": "ES256"})
        self.other_key = ECKey.generate_key("P-256", parameters={"kid": "fc-dev-1"})
        self.faults: set[str] = set()
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.logouts: list[dict] = []
        self.lock = threading.Lock()

    # -- signing -----------------------------------------------------------------------
    def sign(self, claims: dict) -> str:
        if "alg_none" in self.faults:
            return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
        key = self.other_key if "bad_signature" in self.faults else self.key
        kid = "fc-dev-2" if "unknown_kid" in self.faults else "fc-dev-1"
        return jwt.encode({"alg": "ES256", "kid": kid, "typ": "JWT"}, claims, key,
                          algorithms=["ES256"])

    def jwks(self) -> dict:
        keys = [self.key.as_dict(private=False)]
        if "unknown_kid" in self.faults:
            rotated = dict(self.key.as_dict(private=False), kid="fc-dev-2")
            keys.append(rotated)
        return {"keys": keys}

    # -- endpoints -----------------------------------------------------------------------
    def discovery(self) -> dict:
        base = self.issuer
        return {"issuer": base, "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token", "userinfo_endpoint": f"{base}/userinfo",
                "jwks_uri": f"{base}/jwks", "end_session_endpoint": f"{base}/session/end",
                "id_token_signing_alg_values_supported": ["ES256"],
                "userinfo_signing_alg_values_supported": ["ES256"],
                "acr_values_supported": ["eidas1"], "response_types_supported": ["code"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "scopes_supported": ["openid", "given_name", "family_name", "birthdate",
                                     "gender", "birthplace", "birthcountry", "email"]}

    def authorize(self, request: Request) -> Response:
        args = request.values
        missing = [k for k in ("client_id", "redirect_uri", "state", "nonce", "response_type",
                               "scope", "acr_values") if not args.get(k)]
        if missing or args["client_id"] != self.client_id or args["response_type"] != "code":
            return Response(f"invalid_request: {missing or 'client_id/response_type'}", 400)
        who = args.get("identity")
        if request.method == "GET" and not who:
            buttons = "".join(
                f'<button name="identity" value="{name}">{html.escape(i["given_name"])} '
                f'{html.escape(i["family_name"])}</button> ' for name, i in IDENTITIES.items())
            hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in args.items())
            page = (f"<!DOCTYPE html><html lang=fr><title>FranceConnect (développement)</title>"
                    f"<h1>FranceConnect local</h1><form method=post>{hidden}{buttons}</form>")
            return Response(page, mimetype="text/html")
        if who not in IDENTITIES:
            return Response("unknown identity", 400)
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {"identity": who, "nonce": args["nonce"],
                                "redirect_uri": args["redirect_uri"], "acr": args["acr_values"],
                                "at": time.time()}
        location = f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}"
        return Response("", 302, headers={"Location": location})

    def token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _json({"error": "invalid_client"}, 401)
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)
        if (grant is None or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != grant["redirect_uri"]
                or time.time() - grant["at"] > 60):
            return _json({"error": "invalid_grant"}, 400)
        identity = IDENTITIES[grant["identity"]]
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": identity["sub"], "aud": self.client_id,
                  "iat": now, "exp": now + 60, "nonce": grant["nonce"], "acr": "eidas1",
                  "amr": ["pwd"], "auth_time": now}
        if "expired" in self.faults:
            claims["iat"], claims["exp"] = now - 600, now - 300
        if "wrong_acr" in self.faults:
            claims["acr"] = "eidas2-unknown"
        if "wrong_audience" in self.faults:
            claims["aud"] = "someone-else"
        if "wrong_nonce" in self.faults:
            claims["nonce"] = "not-the-nonce"
        access = secrets.token_urlsafe(24)
        id_token = self.sign(claims)
        with self.lock:
            self.tokens[access] = {"identity": grant["identity"], "id_token": id_token}
        return _json({"access_token": access, "token_type": "Bearer", "expires_in": 60,
                      "id_token": id_token, "scope": "openid"})

    def userinfo(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        grant = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if grant is None:
            return _json({"error": "invalid_token"}, 401)
        identity = IDENTITIES[grant["identity"]]
        claims = {**identity, "iss": self.issuer, "aud": self.client_id,
                  "iat": int(time.time()), "exp": int(time.time()) + 60}
        return Response(self.sign(claims), mimetype="application/jwt")

    def session_end(self, request: Request) -> Response:
        args = request.args
        self.logouts.append(dict(args))
        target = args.get("post_logout_redirect_uri")
        if not args.get("id_token_hint") or not target:
            return Response("invalid_request", 400)
        return Response("", 302, headers={"Location": f"{target}?{urlencode({'state': args.get('state', '')})}"})

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path
        routes = {"/.well-known/openid-configuration": lambda r: _json(self.discovery()),
                  "/jwks": lambda r: _json(self.jwks()), "/authorize": self.authorize,
                  "/token": self.token, "/userinfo": self.userinfo,
                  "/session/end": self.session_end}
        prefix = self.issuer.split("/", 3)[3] if self.issuer.count("/") >= 3 else ""
        local = path[len(prefix) + 1:] if prefix and path.startswith("/" + prefix) else path
        handler = routes.get(local)
        response = handler(request) if handler else Response("not found", 404)
        return response(environ, start_response)


def _json(data, status=200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class DevServer:
    """The provider on its own small HTTP server, in a thread (tests) or the foreground."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/api/v2"):
        self.server = make_server(host, port, None, handler_class=_Quiet)
        self.issuer = f"http://{host}:{self.server.server_port}{path}"
        self.provider = Provider(self.issuer)
        self.server.set_app(self.provider)
        self.thread = None

    def start(self) -> "DevServer":
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    args = parser.parse_args(argv)
    server = DevServer(args.host, args.port)
    print(f"FranceConnect (dev) at {server.issuer}  client_id={CLIENT_ID}  "
          f"client_secret={CLIENT_SECRET}", flush=True)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
