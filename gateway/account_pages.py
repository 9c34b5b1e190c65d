"""Accounts pages (French): first login / forgotten password, setting the
password from the email link or the letter's code, the security page
(recent logins, log out everywhere, download my data).

Anonymous forms have no session, hence no CSRF token: they check the
request's origin instead (as the login form does). Setting a password never
logs in.
"""
from __future__ import annotations

from carpimko.errors import InvalidRequest, NotFound, Unauthorized

from . import account_api, api, documents_pages, messages, sessions, web

STRENGTH_LABELS = {"weak": "Faible", "fair": "Moyen", "good": "Bon", "strong": "Excellent"}


def _anonymous(request, ctx, name, status=200, **context):
    return web.render(name, status=status, member=None, strength=STRENGTH_LABELS, **context)


def reset_form(ctx, request):
    return _anonymous(request, ctx, "account/reset_request.html", errors={}, values={})


def reset_submit(ctx, request):
    web.check_origin(request)
    file_number = (request.form.get("file_number") or "").strip()
    errors = {}
    if not file_number:
        errors["file_number"] = messages.field("required")
    elif not (file_number.isdigit() and len(file_number) in (7, 9)):
        errors["file_number"] = messages.field("file_number")
    if errors:
        return _anonymous(request, ctx, "account/reset_request.html", 400, errors=errors,
                          values={"file_number": file_number})
    try:
        account_api.request_reset(ctx, request, file_number)
    except web.TooManyRequests as exc:
        response = _anonymous(request, ctx, "account/reset_request.html", 429,
                              errors={"form": messages.error("too_many_requests")},
                              values={"file_number": file_number})
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return _anonymous(request, ctx, "account/reset_sent.html", message=account_api.RESET_ACCEPTED)


def link_form(ctx, request):
    token = request.args.get("jeton", "")
    if not ctx.backends.call("accounts", "reset_link_valid", token):
        return _anonymous(request, ctx, "account/link_invalid.html", 410)
    return _anonymous(request, ctx, "account/set_password.html", errors={}, token=token,
                      end_sessions=True)


def link_submit(ctx, request):
    web.check_origin(request)
    form = request.form
    token = form.get("token", "")
    end_sessions = form.get("end_sessions") == "1"
    try:
        result = account_api.call_translated(
            ctx, "set_password_with_link", token, form.get("password", ""),
            form.get("confirmation", ""), end_sessions, ctx.client(request))
    except InvalidRequest as exc:
        if "token" in exc.fields:
            return _anonymous(request, ctx, "account/link_invalid.html", 410)
        return _anonymous(request, ctx, "account/set_password.html", 400,
                          errors=_first(exc.fields), token=token, end_sessions=end_sessions)
    return _anonymous(request, ctx, "account/password_set.html", result=result)


def code_form(ctx, request):
    return _anonymous(request, ctx, "account/set_password_code.html", errors={}, values={},
                      end_sessions=True)


def code_submit(ctx, request):
    web.check_origin(request)
    form = request.form
    values = {"file_number": (form.get("file_number") or "").strip(),
              "code": (form.get("code") or "").strip()}
    end_sessions = form.get("end_sessions") == "1"
    errors = {}
    if not values["file_number"]:
        errors["file_number"] = messages.field("required")
    elif not (values["file_number"].isdigit() and len(values["file_number"]) in (7, 9)):
        errors["file_number"] = messages.field("file_number")
    if not values["code"]:
        errors["code"] = messages.field("required")
    if not errors:
        try:
            if ctx.limiter is not None:
                ctx.limiter.attempt("password_reset", ctx.client(request))
            try:
                result = account_api.call_translated(
                    ctx, "set_password_with_code", values["file_number"], values["code"],
                    form.get("password", ""), form.get("confirmation", ""), end_sessions,
                    ctx.client(request))
            finally:  # the member's sessions may have ended: this copy asks accounts again
                sessions.forget(ctx, file_number=values["file_number"])
        except InvalidRequest as exc:
            errors = _first(exc.fields)
        except web.TooManyRequests as exc:
            response = _anonymous(request, ctx, "account/set_password_code.html", 429,
                                  errors={"form": messages.error("too_many_requests")},
                                  values=values, end_sessions=end_sessions)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        else:
            return _anonymous(request, ctx, "account/password_set.html", result=result)
    return _anonymous(request, ctx, "account/set_password_code.html", 400, errors=errors,
                      values=values, end_sessions=end_sessions)


def _first(fields: dict) -> dict:
    return {name: " ".join(texts) if isinstance(texts, list) else str(texts)
            for name, texts in fields.items()}


def security_page(ctx, request):
    session = api.require_session(ctx, request)
    logins = ctx.backends.call("accounts", "recent_logins", session["member"]["file_number"])
    advisors = ctx.backends.call("accounts", "advisor_accesses", session["member"]["file_number"])
    return web.render("account/security.html", member=session["member"],
                      csrf_token=session["csrf_token"], logins=logins, advisors=advisors,
                      ended=request.args.get("fin"))


def logout_everywhere(ctx, request):
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    try:
        ctx.backends.call("accounts", "logout_everywhere",
                          request.cookies.get(web.cookie_name(ctx.cookie_secure)))
    finally:
        sessions.forget(ctx, file_number=session["member"]["file_number"])
    response = web.redirect("/connexion")
    web.clear_session_cookie(response, ctx.cookie_secure)
    return response


def personal_data(ctx, request):
    return account_api.api_personal_data(ctx, request)


# -- profile ---------------------------------------------------------------------------
def profile_page(ctx, request, status=200, errors=None, values=None, saved=None):
    session = api.require_session(ctx, request)
    current = ctx.backends.call("accounts", "get_profile", session["member"]["file_number"])
    return web.render("account/profile.html", status=status, member=session["member"],
                      csrf_token=session["csrf_token"], profile=current, errors=errors or {},
                      values=values or _values_of(current), saved=saved)


def _values_of(profile: dict) -> dict:
    address = profile["address"]
    return {"email": profile["email"] or "", "phone": profile["phone"] or "",
            "line1": address["line1"] or "", "line2": address["line2"] or "",
            "postcode": address["postcode"] or "", "city": address["city"] or "",
            "country": address["country"] or "France"}


def profile_submit(ctx, request):
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    form = request.form
    values = {name: (form.get(name) or "").strip() for name in (
        "email", "phone", "line1", "line2", "postcode", "city", "country")}
    current = ctx.backends.call("accounts", "get_profile", session["member"]["file_number"])
    before = _values_of(current)
    changes = {}
    if values["email"] != before["email"] or (values["email"] and not current["email_verified"]):
        changes["email"] = values["email"]
    if values["phone"] != before["phone"]:
        changes["phone"] = values["phone"]
    address_keys = ("line1", "line2", "postcode", "city", "country")
    if any(values[k] != before[k] for k in address_keys):
        changes["address"] = {k: values[k] for k in address_keys}
    if not changes:
        return profile_page(ctx, request, values=values, saved={"applied": [],
                                                                 "email_pending_verification": None})
    try:
        result = account_api.call_translated(ctx, "update_profile",
                                             session["member"]["file_number"], changes,
                                             ctx.client(request))
    except InvalidRequest as exc:
        return profile_page(ctx, request, 400, errors=_first(exc.fields), values=values)
    return profile_page(ctx, request, saved=result)


def email_link_page(ctx, request):
    return _anonymous(request, ctx, "account/email_confirm.html",
                      token=request.args.get("jeton", ""), done=None)


def email_link_submit(ctx, request):
    web.check_origin(request)
    result = ctx.backends.call("accounts", "confirm_email", request.form.get("token", ""),
                               ctx.client(request))
    if result is None:
        return _anonymous(request, ctx, "account/email_confirm.html", 410, token="", done=False)
    return _anonymous(request, ctx, "account/email_confirm.html", token="", done=result)


# -- FranceConnect -----------------------------------------------------------------------
def _fc_cookie(ctx, name: str) -> str:
    return f"__Host-carpimko_fc_{name}" if ctx.cookie_secure else f"carpimko_fc_{name}"


def _set_fc_cookie(ctx, response, name: str, value: str, max_age: int = 600) -> None:
    response.set_cookie(_fc_cookie(ctx, name), value, max_age=max_age, path="/",
                        secure=ctx.cookie_secure, httponly=True, samesite="Lax")


def _fc_error(ctx, request, status=401):
    return _anonymous(request, ctx, "account/franceconnect_error.html", status)


def franceconnect_start(ctx, request):
    try:
        started = ctx.backends.call("accounts", "franceconnect_start")
    except NotFound:
        return _fc_error(ctx, request, 404)
    response = web.redirect(started["url"])
    # the state is bound to this browser: a callback from another one is refused
    _set_fc_cookie(ctx, response, "state", started["state"])
    return response


def franceconnect_callback(ctx, request):
    import hmac
    state = request.args.get("state", "")
    expected = request.cookies.get(_fc_cookie(ctx, "state"), "")
    if request.args.get("error") or not state or not expected or not hmac.compare_digest(
            state.encode(), expected.encode()):
        return _fc_error(ctx, request, 400)
    try:
        result = ctx.backends.call("accounts", "franceconnect_finish",
                                   request.args.get("code", ""), state)
    except (Unauthorized, NotFound):
        return _fc_error(ctx, request)
    if "link_token" in result:
        response = web.redirect("/franceconnect/lier")
        _set_fc_cookie(ctx, response, "link", result["link_token"], 900)
    else:
        response = web.redirect("/")
        previous = request.cookies.get(web.cookie_name(ctx.cookie_secure))
        if previous:
            api.end_session(ctx, previous)
        web.set_session_cookie(response, result["session"]["token"], ctx.cookie_secure,
                               ctx.session_seconds)
    response.delete_cookie(_fc_cookie(ctx, "state"), path="/", secure=ctx.cookie_secure)
    return response


def franceconnect_link_form(ctx, request):
    return _anonymous(request, ctx, "account/franceconnect_link.html", errors={}, values={})


def franceconnect_link_submit(ctx, request):
    web.check_origin(request)
    file_number = (request.form.get("file_number") or "").strip()
    password = request.form.get("password") or ""
    token = request.cookies.get(_fc_cookie(ctx, "link"), "")
    try:
        result = ctx.backends.call("accounts", "franceconnect_link", token, file_number, password)
    except InvalidRequest as exc:
        if "link" in exc.fields:
            return _fc_error(ctx, request, 410)
        return _anonymous(request, ctx, "account/franceconnect_link.html", 400,
                          errors={"form": messages.error("unauthorized")},
                          values={"file_number": file_number})
    except Unauthorized:
        return _fc_error(ctx, request, 401)
    response = web.redirect("/")
    web.set_session_cookie(response, result["token"], ctx.cookie_secure, ctx.session_seconds)
    response.delete_cookie(_fc_cookie(ctx, "link"), path="/", secure=ctx.cookie_secure)
    return response


def franceconnect_logout(ctx, request):
    session = api.require_session(ctx, request)
    web.check_csrf(request, session)
    url = api.end_session(ctx, request.cookies.get(web.cookie_name(ctx.cookie_secure)),
                          "franceconnect_logout")
    response = web.redirect(url or "/connexion")
    web.clear_session_cookie(response, ctx.cookie_secure)
    return response


# -- staff pages (advisors, administrators) ------------------------------------------------
def _staff_session(ctx, request) -> dict:
    token = request.cookies.get(account_api.staff_cookie(ctx), "")
    staff = ctx.backends.call("accounts", "resolve_staff_session", token) if token else None
    if not staff:
        raise _StaffLoginRequired()
    return staff


class _StaffLoginRequired(Exception):
    pass


def _staff_page(ctx, request, render):
    try:
        return render(_staff_session(ctx, request))
    except _StaffLoginRequired:
        return web.redirect("/agents/connexion")


def staff_login_form(ctx, request):
    return _anonymous(request, ctx, "account/staff_login.html", errors={}, values={})


def staff_login_submit(ctx, request):
    web.check_origin(request)
    form = request.form
    values = {"login": (form.get("login") or "").strip()}
    try:
        if ctx.limiter is not None:
            ctx.limiter.attempt("login", ctx.client(request))
        result = ctx.backends.call("accounts", "staff_login", values["login"],
                                   form.get("password") or "", (form.get("totp") or "").strip())
    except (Unauthorized, InvalidRequest):
        return _anonymous(request, ctx, "account/staff_login.html", 401,
                          errors={"form": messages.field("staff_unauthorized")}, values=values)
    except web.TooManyRequests as exc:
        response = _anonymous(request, ctx, "account/staff_login.html", 429,
                              errors={"form": messages.error("too_many_requests")}, values=values)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = web.redirect("/agents")
    response.set_cookie(account_api.staff_cookie(ctx), result["token"], max_age=8 * 3600,
                        path="/", secure=ctx.cookie_secure, httponly=True, samesite="Strict")
    return response


def staff_home(ctx, request):
    def render(staff):
        number = (request.args.get("dossier") or "").strip()
        if number:
            return web.redirect(f"/agents/dossier/{number}")
        return web.render("account/staff_home.html", member=None, staff=staff["staff"],
                          staff_csrf=staff["csrf_token"])
    return _staff_page(ctx, request, render)


def staff_member(ctx, request, file_number):
    def render(staff):
        token = request.cookies.get(account_api.staff_cookie(ctx), "")
        try:
            seen = ctx.backends.call("accounts", "staff_member_file", token, file_number)
        except Unauthorized:
            raise web.Forbidden("role required", {}) from None
        return web.render("account/staff_member.html", member=None, staff=staff["staff"],
                          staff_csrf=staff["csrf_token"], file=seen,
                          unlocked=request.args.get("deverrouille"),
                          documents=documents_pages.staff_documents(ctx, file_number))
    return _staff_page(ctx, request, render)


def staff_document(ctx, request, file_number, document_id):
    """``/agents/dossier/<file>/documents/<id>``: the download, audited."""
    def act(staff):
        token = request.cookies.get(account_api.staff_cookie(ctx), "")
        return documents_pages.staff_download(ctx, request, token, file_number, document_id)
    return _staff_page(ctx, request, act)


def _check_staff_csrf(request, staff) -> None:
    import hmac
    web.check_origin(request)
    sent = request.form.get("csrf_token", "")
    if not hmac.compare_digest(sent.encode(), staff["csrf_token"].encode()):
        raise web.Forbidden("missing or wrong CSRF token", {})


def staff_unlock(ctx, request, file_number):
    def act(staff):
        _check_staff_csrf(request, staff)
        token = request.cookies.get(account_api.staff_cookie(ctx), "")
        try:
            ctx.backends.call("accounts", "staff_unlock", token, file_number)
        except Unauthorized:
            raise web.Forbidden("role required", {}) from None
        return web.redirect(f"/agents/dossier/{file_number}?deverrouille=1")
    return _staff_page(ctx, request, act)


def staff_logout(ctx, request):
    def act(staff):
        _check_staff_csrf(request, staff)
        ctx.backends.call("accounts", "staff_logout",
                          request.cookies.get(account_api.staff_cookie(ctx), ""))
        response = web.redirect("/agents/connexion")
        response.delete_cookie(account_api.staff_cookie(ctx), path="/", secure=ctx.cookie_secure)
        return response
    return _staff_page(ctx, request, act)
