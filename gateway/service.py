"""The HTTP gateway: JSON API under /api/v1, the member's web pages, /health.

Entrypoints only: each route hands the request to ``api`` or ``pages``.
Every call to a service has a timeout; a service that is down gives 503.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from . import api, pages, web
from .backends import Backends

STATIC = Path(__file__).parent / "static"


class GatewayContext(DependencyProvider):
    """Per worker: the backends (with timeouts) and the web settings."""

    def get_dependency(self, worker_ctx):
        service = worker_ctx.service
        config = self.container.config
        return _Context(
            # proxies are looked up at call time: injection order is not guaranteed
            Backends(lambda name: getattr(service, name), float(config.get("RPC_TIMEOUT", 5))),
            cookie_secure=bool(config.get("COOKIE_SECURE", True)),
            session_seconds=int(config.get("SESSION_HOURS", 8)) * 3600,
        )


class _Context:
    def __init__(self, backends, cookie_secure, session_seconds):
        self.backends = backends
        self.cookie_secure = cookie_secure
        self.session_seconds = session_seconds


class GatewayService:
    name = "gateway"

    config = Config()
    accounts = RpcProxy("accounts")
    contributions = RpcProxy("contributions")
    documents = RpcProxy("documents")
    notifications = RpcProxy("notifications")
    ctx = GatewayContext()

    @property
    def cookie_secure(self) -> bool:
        return self.ctx.cookie_secure

    # -- operations -------------------------------------------------------------
    @http("GET", "/health")
    @web.api_errors
    def health(self, request):
        return api.health(self.ctx, request)

    @http("GET", "/static/<path:name>")
    def static(self, request, name):
        path = (STATIC / name).resolve()
        if STATIC.resolve() not in path.parents or not path.is_file():
            return web.secure_headers(Response("Not found", status=404), self.cookie_secure)
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        response = Response(path.read_bytes(), mimetype=mimetype,
                            headers={"Cache-Control": "public, max-age=3600"})
        return web.secure_headers(response, self.cookie_secure, personal=False)

    # -- JSON API ------------------------------------------------------------------
    @http("POST", "/api/v1/session")
    @web.api_errors
    def api_login(self, request):
        return api.login(self.ctx, request)

    @http("DELETE", "/api/v1/session")
    @web.api_errors
    def api_logout(self, request):
        return api.logout(self.ctx, request)

    @http("GET", "/api/v1/me")
    @web.api_errors
    def api_me(self, request):
        return api.me(self.ctx, request)

    @http("POST", "/api/v1/declarations")
    @web.api_errors
    def api_declare(self, request):
        return api.declare(self.ctx, request)

    @http("GET", "/api/v1/declarations")
    @web.api_errors
    def api_declarations(self, request):
        return api.list_declarations(self.ctx, request)

    @http("GET", "/api/v1/declarations/<string:declaration_id>")
    @web.api_errors
    def api_declaration(self, request, declaration_id):
        return api.get_declaration(self.ctx, request, declaration_id)

    @http("GET", "/api/v1/documents")
    @web.api_errors
    def api_documents(self, request):
        return api.list_documents(self.ctx, request)

    @http("GET", "/api/v1/documents/<string:document_id>/content")
    @web.api_errors
    def api_document_content(self, request, document_id):
        return api.document_content(self.ctx, request, document_id)

    # -- JSON API: contributions (declarations above; schedules, payments, simulator) --

    # -- JSON API: documents (listing and download above; verification) --

    # -- JSON API: unknown paths ---------------------------------------------------------
    @http("GET,POST,PUT,PATCH,DELETE", "/api/<path:path>")
    @web.api_errors
    def api_not_found(self, request, path):
        return pages.not_found(self.ctx, request, path)

    # -- pages -----------------------------------------------------------------------
    @http("GET", "/connexion")
    @web.page_errors
    def login_form(self, request):
        return pages.login_form(self.ctx, request)

    @http("POST", "/connexion")
    @web.page_errors
    def login_submit(self, request):
        return pages.login_submit(self.ctx, request)

    @http("POST", "/deconnexion")
    @web.page_errors
    def logout(self, request):
        return pages.logout(self.ctx, request)

    @http("GET", "/")
    @web.page_errors
    def home(self, request):
        return pages.home(self.ctx, request)

    @http("GET", "/revenus/declarer")
    @web.page_errors
    def declare_form(self, request):
        return pages.declare_form(self.ctx, request)

    @http("POST", "/revenus/declarer")
    @web.page_errors
    def declare_submit(self, request):
        return pages.declare_submit(self.ctx, request)

    @http("GET", "/revenus/declarations/<string:declaration_id>")
    @web.page_errors
    def declaration(self, request, declaration_id):
        return pages.declaration(self.ctx, request, declaration_id)

    @http("GET", "/documents/<string:document_id>")
    @web.page_errors
    def document(self, request, document_id):
        return api.document_content(self.ctx, request, document_id, disposition="inline")

    # -- pages: contributions (Mes revenus, Mes cotisations, Mon échéancier) --------------

    # -- pages: documents (Mes documents, /verify/<code>) ---------------------------------

    # -- pages: unknown paths --------------------------------------------------------------
    @http("GET", "/<path:path>")
    @web.page_errors
    def page_not_found(self, request, path):
        return pages.not_found(self.ctx, request, path)
