"""The HTTP gateway: JSON API under /api/v1, the member's web pages, /health.

Entrypoints only: each route hands the request to ``api`` or ``pages``.
Every call to a service has a timeout; a service that is down gives 503.
"""
from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from . import api, contributions_api, contributions_pages, notifications_pages, pages, web
from . import sessions
from . import documents_pages, verification
from . import account_api, account_pages
from . import career_api, career_pages
from . import messaging_api, messaging_pages
from carpimko import session_events
from carpimko.observability import Observability

from .backends import Backends
from .rate_limit import DEFAULT_LIMITS, RateLimiter, client_id

STATIC = Path(__file__).parent / "static"


class GatewayContext(DependencyProvider):
    """Per worker: the backends (with timeouts) and the web settings; per
    container: the rate limiter (Redis when REDIS_URL / CARPIMKO_REDIS_URL is set)
    and the sessions this copy keeps (``sessions.py``) with their listener."""

    def setup(self):
        config = self.container.config
        self.limiter = RateLimiter(
            {"login": config.get("LOGIN_RATE_LIMIT") or os.environ.get("CARPIMKO_LOGIN_RATE_LIMIT")
             or DEFAULT_LIMITS["login"]},
            redis_url=config.get("REDIS_URL", os.environ.get("CARPIMKO_REDIS_URL")) or None,
            prefix=config.get("RATE_LIMIT_PREFIX", "carpimko:ratelimit:"))
        self.trusted_proxies = int(config.get("TRUSTED_PROXIES",
                                              os.environ.get("CARPIMKO_TRUSTED_PROXIES", 0)) or 0)
        ttl = float(config.get("SESSION_CACHE_SECONDS", sessions.DEFAULT_TTL))
        self.sessions = sessions.SessionCache(ttl)
        self.listener = None
        if ttl > 0:
            self.listener = sessions.SessionEndingsListener(
                self.sessions, config["AMQP_URI"], session_events.exchange(config))
        self._listener_thread = None

    def start(self):
        if self.listener is not None:
            self._listener_thread = self.container.spawn_managed_thread(
                self.listener.run, identifier="sessions-ended-listener")

    def stop(self):
        if self.listener is not None:
            self.listener.running = False
        if self._listener_thread is not None:
            self._listener_thread.kill()
            self._listener_thread = None

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        service = worker_ctx.service
        config = self.container.config
        return _Context(
            # proxies are looked up at call time: injection order is not guaranteed
            Backends(lambda name: getattr(service, name), float(config.get("RPC_TIMEOUT", 5))),
            cookie_secure=bool(config.get("COOKIE_SECURE", True)),
            session_seconds=int(config.get("SESSION_HOURS", 8)) * 3600,
            limiter=self.limiter, trusted_proxies=self.trusted_proxies, sessions=self.sessions,
        )


class _Context:
    def __init__(self, backends, cookie_secure, session_seconds, limiter=None, trusted_proxies=0,
                 sessions=None):
        self.backends = backends
        self.cookie_secure = cookie_secure
        self.session_seconds = session_seconds
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies
        self.sessions = sessions  # SessionCache of this copy, or None: ask accounts every time

    def client(self, request) -> str:
        """The client's address, as rate limiting sees it."""
        return client_id(request, self.trusted_proxies)


class GatewayService:
    name = "gateway"

    config = Config()
    accounts = RpcProxy("accounts")
    contributions = RpcProxy("contributions")
    documents = RpcProxy("documents")
    notifications = RpcProxy("notifications")
    messaging = RpcProxy("messaging")
    ctx = GatewayContext()
    observability = Observability()

    @property
    def cookie_secure(self) -> bool:
        return self.ctx.cookie_secure

    # -- operations -------------------------------------------------------------
    @http("GET", "/health")
    @web.api_errors
    def health(self, request):
        return api.health(self.ctx, request)

    @http("GET", "/openapi.json")
    @web.api_errors
    def openapi_json(self, request):
        return api.openapi_document(self.ctx, request)

    @http("GET", "/api/docs")
    @web.page_errors
    def api_docs(self, request):
        return pages.api_docs(self.ctx, request)

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
        return documents_pages.download(self.ctx, request, document_id)

    # -- JSON API: contributions (declarations above; schedules, payments, simulator) --
    @http("GET", "/api/v1/simulations/contributions")
    @web.api_errors
    def api_simulate_contributions(self, request):
        return contributions_api.simulate(self.ctx, request)

    @http("GET", "/api/v1/contributions")
    @web.api_errors
    def api_contributions(self, request):
        return contributions_api.contributions(self.ctx, request)

    @http("GET", "/api/v1/contributions/<int:year>")
    @web.api_errors
    def api_contributions_year(self, request, year):
        return contributions_api.contributions_year(self.ctx, request, year)

    @http("GET", "/api/v1/schedules")
    @web.api_errors
    def api_schedules(self, request):
        return contributions_api.schedules(self.ctx, request)

    @http("GET", "/api/v1/schedules/<int:year>")
    @web.api_errors
    def api_schedule(self, request, year):
        return contributions_api.schedule(self.ctx, request, year)

    @http("PUT", "/api/v1/schedules/<int:year>")
    @web.api_errors
    def api_change_schedule(self, request, year):
        return contributions_api.change_schedule(self.ctx, request, year)

    @http("GET", "/api/v1/mandate")
    @web.api_errors
    def api_mandate(self, request):
        return contributions_api.mandate(self.ctx, request)

    @http("PUT", "/api/v1/mandate")
    @web.api_errors
    def api_set_mandate(self, request):
        return contributions_api.set_mandate(self.ctx, request)

    # -- JSON API: the estimate of the current year (the yearly cycle) --
    @http("GET", "/api/v1/estimate")
    @web.api_errors
    def api_estimate(self, request):
        return contributions_api.estimate(self.ctx, request)

    @http("PUT", "/api/v1/estimate")
    @web.api_errors
    def api_save_estimate(self, request):
        return contributions_api.save_estimate(self.ctx, request)

    # -- JSON API: documents (listing and download above; verification) --
    @http("GET", "/api/v1/verifications/<string:code>")
    @web.api_errors
    def api_verify(self, request, code):
        return verification.api_verify(self.ctx, request, code)

    # -- JSON API: notifications (delivery log) --
    @http("GET", "/api/v1/notifications")
    @web.api_errors
    def api_delivery_log(self, request):
        return notifications_pages.api_delivery_log(self.ctx, request)

    # -- JSON API: accounts (first login / forgotten password, sessions, audit, GDPR) --
    @http("POST", "/api/v1/password-reset")
    @web.api_errors
    def api_password_reset(self, request):
        return account_api.api_request_reset(self.ctx, request)

    @http("POST", "/api/v1/password-reset/link")
    @web.api_errors
    def api_password_reset_link(self, request):
        return account_api.api_reset_with_link(self.ctx, request)

    @http("POST", "/api/v1/password-reset/code")
    @web.api_errors
    def api_password_reset_code(self, request):
        return account_api.api_reset_with_code(self.ctx, request)

    @http("DELETE", "/api/v1/sessions")
    @web.api_errors
    def api_logout_everywhere(self, request):
        return account_api.api_logout_everywhere(self.ctx, request)

    @http("GET", "/api/v1/me/logins")
    @web.api_errors
    def api_recent_logins(self, request):
        return account_api.api_recent_logins(self.ctx, request)

    @http("GET", "/api/v1/me/personal-data")
    @web.api_errors
    def api_personal_data(self, request):
        return account_api.api_personal_data(self.ctx, request)

    @http("GET", "/api/v1/me/profile")
    @web.api_errors
    def api_profile(self, request):
        return account_api.api_profile(self.ctx, request)

    @http("PATCH", "/api/v1/me/profile")
    @web.api_errors
    def api_update_profile(self, request):
        return account_api.api_update_profile(self.ctx, request)

    @http("POST", "/api/v1/profile/email-confirmation")
    @web.api_errors
    def api_confirm_email(self, request):
        return account_api.api_confirm_email(self.ctx, request)

    @http("POST", "/api/v1/staff/session")
    @web.api_errors
    def api_staff_login(self, request):
        return account_api.api_staff_login(self.ctx, request)

    @http("DELETE", "/api/v1/staff/session")
    @web.api_errors
    def api_staff_logout(self, request):
        return account_api.api_staff_logout(self.ctx, request)

    @http("GET", "/api/v1/staff/members/<string:file_number>")
    @web.api_errors
    def api_staff_member(self, request, file_number):
        return account_api.api_staff_member(self.ctx, request, file_number)

    @http("POST", "/api/v1/staff/members/<string:file_number>/unlock")
    @web.api_errors
    def api_staff_unlock(self, request, file_number):
        return account_api.api_staff_unlock(self.ctx, request, file_number)

    @http("POST", "/api/v1/staff/users")
    @web.api_errors
    def api_staff_create(self, request):
        return account_api.api_staff_create(self.ctx, request)

    # -- secure messaging (issue #9): JSON API, member pages, advisors' pages --------------
    @http("GET", "/api/v1/messages/threads")
    @web.api_errors
    def api_message_threads(self, request):
        return messaging_api.api_threads(self.ctx, request)

    @http("POST", "/api/v1/messages/threads")
    @web.api_errors
    def api_message_start(self, request):
        return messaging_api.api_start_thread(self.ctx, request)

    @http("GET", "/api/v1/messages/threads/<string:thread_id>")
    @web.api_errors
    def api_message_thread(self, request, thread_id):
        return messaging_api.api_thread(self.ctx, request, thread_id)

    @http("POST", "/api/v1/messages/threads/<string:thread_id>/messages")
    @web.api_errors
    def api_message_reply(self, request, thread_id):
        return messaging_api.api_reply(self.ctx, request, thread_id)

    @http("GET", "/api/v1/messages/threads/<string:thread_id>/attachments/<string:attachment_id>")
    @web.api_errors
    def api_message_attachment(self, request, thread_id, attachment_id):
        return messaging_api.api_attachment(self.ctx, request, thread_id, attachment_id)

    @http("GET", "/api/v1/staff/messages/threads")
    @web.api_errors
    def api_staff_message_inbox(self, request):
        return messaging_api.api_staff_inbox(self.ctx, request)

    @http("GET", "/api/v1/staff/messages/response-times")
    @web.api_errors
    def api_staff_response_times(self, request):
        return messaging_api.api_response_times(self.ctx, request)

    @http("GET", "/api/v1/staff/messages/threads/<string:thread_id>")
    @web.api_errors
    def api_staff_message_thread(self, request, thread_id):
        return messaging_api.api_staff_thread(self.ctx, request, thread_id)

    @http("POST", "/api/v1/staff/messages/threads/<string:thread_id>/replies")
    @web.api_errors
    def api_staff_message_reply(self, request, thread_id):
        return messaging_api.api_staff_reply(self.ctx, request, thread_id)

    @http("POST", "/api/v1/staff/messages/threads/<string:thread_id>/notes")
    @web.api_errors
    def api_staff_message_note(self, request, thread_id):
        return messaging_api.api_staff_note(self.ctx, request, thread_id)

    @http("PUT", "/api/v1/staff/messages/threads/<string:thread_id>/assignment")
    @web.api_errors
    def api_staff_message_assign(self, request, thread_id):
        return messaging_api.api_staff_assign(self.ctx, request, thread_id)

    @http("POST", "/api/v1/staff/messages/threads/<string:thread_id>/close")
    @web.api_errors
    def api_staff_message_close(self, request, thread_id):
        return messaging_api.api_staff_close(self.ctx, request, thread_id)

    @http("GET", "/api/v1/staff/messages/threads/<string:thread_id>/attachments/<string:attachment_id>")
    @web.api_errors
    def api_staff_message_attachment(self, request, thread_id, attachment_id):
        return messaging_api.api_staff_attachment(self.ctx, request, thread_id, attachment_id)

    @http("GET", "/messages")
    @web.page_errors
    def messages_inbox(self, request):
        return messaging_pages.inbox_page(self.ctx, request)

    @http("GET", "/messages/nouveau")
    @web.page_errors
    def messages_new_form(self, request):
        return messaging_pages.new_form(self.ctx, request)

    @http("POST", "/messages/nouveau")
    @web.page_errors
    def messages_new_submit(self, request):
        return messaging_pages.new_submit(self.ctx, request)

    @http("GET", "/messages/<string:thread_id>")
    @web.page_errors
    def messages_thread(self, request, thread_id):
        return messaging_pages.thread_page(self.ctx, request, thread_id)

    @http("POST", "/messages/<string:thread_id>/repondre")
    @web.page_errors
    def messages_reply(self, request, thread_id):
        return messaging_pages.reply_submit(self.ctx, request, thread_id)

    @http("GET", "/messages/<string:thread_id>/pieces/<string:attachment_id>")
    @web.page_errors
    def messages_attachment(self, request, thread_id, attachment_id):
        return messaging_pages.attachment(self.ctx, request, thread_id, attachment_id)

    @http("GET", "/agents/messages")
    @web.page_errors
    def staff_messages(self, request):
        return messaging_pages.staff_inbox(self.ctx, request)

    @http("GET", "/agents/messages/delais")
    @web.page_errors
    def staff_response_times(self, request):
        return messaging_pages.response_times_page(self.ctx, request)

    @http("GET", "/agents/messages/<string:thread_id>")
    @web.page_errors
    def staff_message_thread(self, request, thread_id):
        return messaging_pages.staff_thread(self.ctx, request, thread_id)

    @http("POST", "/agents/messages/<string:thread_id>/repondre")
    @web.page_errors
    def staff_message_reply(self, request, thread_id):
        return messaging_pages.staff_reply(self.ctx, request, thread_id)

    @http("POST", "/agents/messages/<string:thread_id>/note")
    @web.page_errors
    def staff_message_note(self, request, thread_id):
        return messaging_pages.staff_note(self.ctx, request, thread_id)

    @http("POST", "/agents/messages/<string:thread_id>/attribuer")
    @web.page_errors
    def staff_message_assign(self, request, thread_id):
        return messaging_pages.staff_assign(self.ctx, request, thread_id)

    @http("POST", "/agents/messages/<string:thread_id>/cloturer")
    @web.page_errors
    def staff_message_close(self, request, thread_id):
        return messaging_pages.staff_close(self.ctx, request, thread_id)

    @http("GET", "/agents/messages/<string:thread_id>/pieces/<string:attachment_id>")
    @web.page_errors
    def staff_message_attachment(self, request, thread_id, attachment_id):
        return messaging_pages.staff_attachment(self.ctx, request, thread_id, attachment_id)

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
        return documents_pages.download(self.ctx, request, document_id)

    # -- pages: contributions (Mes revenus, Mes cotisations, Mon échéancier) --------------
    @http("GET", "/simulateur")
    @web.page_errors
    def simulator(self, request):
        return contributions_pages.simulator(self.ctx, request)

    @http("GET", "/cotisations")
    @web.page_errors
    def my_contributions(self, request):
        return contributions_pages.contributions(self.ctx, request)

    @http("GET", "/echeancier")
    @web.page_errors
    def my_schedule(self, request):
        return contributions_pages.schedules(self.ctx, request)

    @http("POST", "/echeancier/<int:year>/frequence")
    @web.page_errors
    def change_schedule(self, request, year):
        return contributions_pages.change_schedule(self.ctx, request, year)

    @http("POST", "/echeancier/mandat")
    @web.page_errors
    def set_mandate(self, request):
        return contributions_pages.set_mandate(self.ctx, request)

    # -- pages: Mes revenus > estimation of the current year (the yearly cycle) -------------
    @http("GET", "/revenus/estimation")
    @web.page_errors
    def estimate_page(self, request):
        return contributions_pages.estimate(self.ctx, request)

    @http("POST", "/revenus/estimation")
    @web.page_errors
    def estimate_submit(self, request):
        return contributions_pages.save_estimate(self.ctx, request)

    # -- pages: documents (Mes documents, /verify/<code>) ---------------------------------
    @http("GET", "/documents")
    @web.page_errors
    def my_documents(self, request):
        return documents_pages.documents_page(self.ctx, request)

    @http("GET", "/verify")
    @web.page_errors
    def verify_form(self, request):
        return verification.form(self.ctx, request)

    @http("GET", "/verify/<string:code>")
    @web.page_errors
    def verify_page(self, request, code):
        return verification.page(self.ctx, request, code)

    @http("POST", "/verify/<string:code>")
    @web.page_errors
    def verify_compare(self, request, code):
        return verification.compare(self.ctx, request, code)

    # -- pages: notifications (Historique de nos envois) -----------------------------------
    @http("GET", "/envois")
    @web.page_errors
    def delivery_log(self, request):
        return notifications_pages.delivery_log_page(self.ctx, request)

    # -- pages: accounts (première connexion, mot de passe, sécurité) -----------------------
    @http("GET", "/premiere-connexion")
    @web.page_errors
    def reset_form(self, request):
        return account_pages.reset_form(self.ctx, request)

    @http("POST", "/premiere-connexion")
    @web.page_errors
    def reset_submit(self, request):
        return account_pages.reset_submit(self.ctx, request)

    @http("GET", "/premiere-connexion/code")
    @web.page_errors
    def reset_code_form(self, request):
        return account_pages.code_form(self.ctx, request)

    @http("POST", "/premiere-connexion/code")
    @web.page_errors
    def reset_code_submit(self, request):
        return account_pages.code_submit(self.ctx, request)

    @http("GET", "/mot-de-passe/nouveau")
    @web.page_errors
    def reset_link_form(self, request):
        return account_pages.link_form(self.ctx, request)

    @http("POST", "/mot-de-passe/nouveau")
    @web.page_errors
    def reset_link_submit(self, request):
        return account_pages.link_submit(self.ctx, request)

    @http("GET", "/securite")
    @web.page_errors
    def security(self, request):
        return account_pages.security_page(self.ctx, request)

    @http("POST", "/securite/deconnexion-partout")
    @web.page_errors
    def logout_everywhere(self, request):
        return account_pages.logout_everywhere(self.ctx, request)

    @http("GET", "/securite/mes-donnees.json")
    @web.page_errors
    def personal_data(self, request):
        return account_pages.personal_data(self.ctx, request)

    @http("GET", "/profil")
    @web.page_errors
    def profile(self, request):
        return account_pages.profile_page(self.ctx, request)

    @http("POST", "/profil")
    @web.page_errors
    def profile_submit(self, request):
        return account_pages.profile_submit(self.ctx, request)

    @http("GET", "/profil/courriel")
    @web.page_errors
    def email_link(self, request):
        return account_pages.email_link_page(self.ctx, request)

    @http("POST", "/profil/courriel")
    @web.page_errors
    def email_link_submit(self, request):
        return account_pages.email_link_submit(self.ctx, request)

    @http("GET", "/franceconnect")
    @web.page_errors
    def franceconnect_start(self, request):
        return account_pages.franceconnect_start(self.ctx, request)

    @http("GET", "/franceconnect/retour")
    @web.page_errors
    def franceconnect_callback(self, request):
        return account_pages.franceconnect_callback(self.ctx, request)

    @http("GET", "/franceconnect/lier")
    @web.page_errors
    def franceconnect_link_form(self, request):
        return account_pages.franceconnect_link_form(self.ctx, request)

    @http("POST", "/franceconnect/lier")
    @web.page_errors
    def franceconnect_link_submit(self, request):
        return account_pages.franceconnect_link_submit(self.ctx, request)

    @http("POST", "/franceconnect/deconnexion")
    @web.page_errors
    def franceconnect_logout(self, request):
        return account_pages.franceconnect_logout(self.ctx, request)

    @http("GET", "/agents/connexion")
    @web.page_errors
    def staff_login_form(self, request):
        return account_pages.staff_login_form(self.ctx, request)

    @http("POST", "/agents/connexion")
    @web.page_errors
    def staff_login_submit(self, request):
        return account_pages.staff_login_submit(self.ctx, request)

    @http("GET", "/agents")
    @web.page_errors
    def staff_home(self, request):
        return account_pages.staff_home(self.ctx, request)

    @http("GET", "/agents/dossier/<string:file_number>")
    @web.page_errors
    def staff_member(self, request, file_number):
        return account_pages.staff_member(self.ctx, request, file_number)

    @http("POST", "/agents/dossier/<string:file_number>/deverrouiller")
    @web.page_errors
    def staff_unlock(self, request, file_number):
        return account_pages.staff_unlock(self.ctx, request, file_number)

    @http("POST", "/agents/deconnexion")
    @web.page_errors
    def staff_logout(self, request):
        return account_pages.staff_logout(self.ctx, request)

    # -- documents on request (certificate) and advisors' downloads (issue #7) -------------
    @http("POST", "/documents/attestation")
    @web.page_errors
    def request_certificate(self, request):
        return documents_pages.request_certificate(self.ctx, request)

    @http("POST", "/api/v1/documents/certificates")
    @web.api_errors
    def api_request_certificate(self, request):
        return documents_pages.api_request_certificate(self.ctx, request)

    @http("GET", "/agents/dossier/<string:file_number>/documents/<string:document_id>")
    @web.page_errors
    def staff_document(self, request, file_number, document_id):
        return account_pages.staff_document(self.ctx, request, file_number, document_id)

    @http("GET", "/api/v1/staff/members/<string:file_number>/documents/<string:document_id>/content")
    @web.api_errors
    def api_staff_document(self, request, file_number, document_id):
        return documents_pages.api_staff_download(self.ctx, request, file_number, document_id)

    # -- pages: unknown paths --------------------------------------------------------------
    @http("GET", "/<path:path>")
    @web.page_errors
    def page_not_found(self, request, path):
        return pages.not_found(self.ctx, request, path)

    # -- career record and retirement estimate (issue #6): JSON API and "Ma carrière" ----------------------------
    @http("GET", "/api/v1/career")
    @web.api_errors
    def api_career(self, request):
        return career_api.record(self.ctx, request)

    @http("GET", "/api/v1/career/estimate")
    @web.api_errors
    def api_career_estimate(self, request):
        return career_api.estimate(self.ctx, request)

    @http("POST", "/api/v1/career/years/<int:year>/flag")
    @web.api_errors
    def api_career_flag(self, request, year):
        return career_api.flag(self.ctx, request, year)

    @http("POST", "/api/v1/career/statement")
    @web.api_errors
    def api_career_statement(self, request):
        return career_api.request_statement(self.ctx, request)

    @http("GET", "/ma-carriere")
    @web.page_errors
    def my_career(self, request):
        return career_pages.career(self.ctx, request)

    @http("POST", "/ma-carriere/<int:year>/signaler")
    @web.page_errors
    def flag_career_year(self, request, year):
        return career_pages.flag(self.ctx, request, year)

    @http("POST", "/ma-carriere/releve")
    @web.page_errors
    def request_career_statement(self, request):
        return career_pages.request_statement(self.ctx, request)
