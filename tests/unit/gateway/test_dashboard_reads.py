"""The dashboard asks contributions once (declarations and schedules in one
RPC, shared by the page and its blocks), and still shows every block."""
import eventlet
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import gateway.contributions_pages  # noqa: F401 - registers the next_payment / up_to_date blocks
import gateway.messaging_pages  # noqa: F401 - registers the unread_messages block
from carpimko.errors import ServiceUnavailable
from gateway import pages, web
from gateway.backends import Backends

MEMBER = {"file_number": "1234567", "full_name": "Claire Martin", "first_name": "Claire",
          "last_name": "Martin", "civility": "Mme", "status": "active", "profession": "infirmier"}
SCHEDULES = {"as_of": "2026-11-28", "up_to_date": True, "reason": "up_to_date", "late_years": [],
             "to_pay_now": "0.00", "payment_plans": [], "formal_notices": [],
             "schedules": [{"year": 2026, "instalments": [
                 {"number": 12, "due_date": "2026-12-05", "amount": "760.50", "state": "future",
                  "unpaid": None, "surcharge": None}]}]}


class _Services:
    """Answers by (service, method); records every RPC."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []
        self.args = []

    def proxy(self, service):
        services = self

        class _Proxy:
            def __getattr__(self, method):
                class _Method:
                    @staticmethod
                    def call_async(*args):
                        services.calls.append((service, method))
                        services.args.append((service, method, args))

                        class _Reply:
                            @staticmethod
                            def result():
                                eventlet.sleep(0.001)
                                answer = services.answers[(service, method)]
                                if isinstance(answer, Exception):
                                    raise answer
                                return answer
                        return _Reply
                return _Method
        return _Proxy()


class _Ctx:
    cookie_secure = False

    def __init__(self, services):
        self.backends = Backends(services.proxy, timeout=1)


def _home(answers, services_out=None):
    services = _Services({("accounts", "resolve_session"): {"member": MEMBER, "csrf_token": "t"},
                          ("documents", "list_documents"): [],
                          ("notifications", "delivery_log"): [],
                          ("messaging", "unread_summary"): {"count": 0, "latest": [],
                                                            "url": "/messages"},
                          **answers})
    request = Request(EnvironBuilder(path="/", headers={
        "Cookie": f"{web.cookie_name(False)}=token"}).get_environ())
    response = pages.home(_Ctx(services), request)
    if services_out is not None:
        services_out.append(services)
    return response, services.calls


def test_contributions_is_asked_once_for_the_page_and_its_blocks():
    response, calls = _home({("contributions", "dashboard"): {"declarations": [],
                                                              "schedules": SCHEDULES}})
    assert response.status_code == 200
    assert [c for c in calls if c[0] == "contributions"] == [("contributions", "dashboard")]
    assert sorted(calls) == sorted([("accounts", "resolve_session"), ("documents", "list_documents"),
                                    ("contributions", "dashboard"), ("messaging", "unread_summary"),
                                    ("notifications", "delivery_log")])
    html = response.get_data(as_text=True)
    assert "à régler le" in html  # next_payment, from the shared read
    assert "Voir mon échéancier" in html


def test_contributions_down_leaves_the_rest_of_the_page():
    response, calls = _home({("contributions", "dashboard"): ServiceUnavailable("contributions",
                                                                                "timeout")})
    assert response.status_code == 200
    assert calls.count(("contributions", "dashboard")) == 1
    assert "momentanément indisponible" in response.get_data(as_text=True)


DECLARATION = {"id": "6f1c0a52-1b8e-4a57-9d2f-3c1e7a9b0d11", "year": 2025,
               "declared_at": "2026-11-20T10:00:00+00:00", "professional_income": "40000.00",
               "conventioned_income": None, "status": "assessed",
               "assessment": {"computed_at": "2026-11-20T10:00:01+00:00", "total": "12000.00"}}
STATEMENT = {"id": "0b7e3f7e-5a7c-4d0e-8d7f-2b9d5c1e6a01", "kind": "contribution_statement",
             "year": 2025, "title": "Relevé 2025", "created_at": "2026-11-20T10:00:02+00:00",
             "correlation_id": DECLARATION["id"], "issued_on": "2026-11-20", "size": 61440,
             "superseded": False}
NOTICE = {"id": "n1", "channel": "email", "kind": "document", "title": "Relevé 2025",
          "document_id": STATEMENT["id"], "status": "sent", "note": "",
          "sent_at": "2026-11-20T10:00:03+00:00"}
OTHER = {**NOTICE, "id": "n2", "document_id": "9e3a2c1d-0000-4000-8000-000000000000",
         "sent_at": "2026-11-21T10:00:03+00:00"}


def _with_history(sent, for_correlation=None):
    answers = {("contributions", "dashboard"): {"declarations": [DECLARATION],
                                                "schedules": SCHEDULES},
               ("documents", "list_documents"): [STATEMENT],
               ("notifications", "delivery_log"): sent}
    if for_correlation is not None:
        answers[("notifications", "for_correlation")] = for_correlation
    out = []
    response, calls = _home(answers, out)
    return response, calls, out[0]


def test_the_notice_is_read_off_the_recent_deliveries_asked_side_by_side():
    response, calls, services = _with_history([OTHER, NOTICE])
    assert response.status_code == 200
    assert ("notifications", "for_correlation") not in calls
    assert ("notifications", "delivery_log", ("1234567", pages.RECENT_DELIVERIES)) in services.args
    steps = pages._latest_progress(None, "1234567", DECLARATION, [STATEMENT], [OTHER, NOTICE])
    assert [s["done"] for s in steps["steps"]] == [True, True, True, True]
    assert steps["steps"][3]["channel"] == "email"


def test_a_statement_not_announced_yet_is_not_notified():
    steps = pages._latest_progress(None, "1234567", DECLARATION, [STATEMENT], [OTHER])
    assert [s["done"] for s in steps["steps"]] == [True, True, True, False]


def test_notifications_is_asked_by_declaration_when_every_recent_delivery_is_newer():
    newer = [{**OTHER, "id": f"n{i}"} for i in range(pages.RECENT_DELIVERIES)]
    response, calls, _ = _with_history(newer, for_correlation=[NOTICE])
    assert response.status_code == 200
    assert calls.count(("notifications", "for_correlation")) == 1


def test_notifications_down_leaves_the_rest_of_the_page():
    response, calls, _ = _with_history(ServiceUnavailable("notifications", "timeout"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "momentanément indisponible" in html
    assert "Relevé 2025" in html  # the documents block is still there
