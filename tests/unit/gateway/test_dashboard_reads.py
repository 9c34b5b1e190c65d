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

    def proxy(self, service):
        services = self

        class _Proxy:
            def __getattr__(self, method):
                class _Method:
                    @staticmethod
                    def call_async(*args):
                        services.calls.append((service, method))

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


def _home(answers):
    services = _Services({("accounts", "resolve_session"): {"member": MEMBER, "csrf_token": "t"},
                          ("documents", "list_documents"): [],
                          ("messaging", "unread_summary"): {"count": 0, "latest": [],
                                                            "url": "/messages"},
                          **answers})
    request = Request(EnvironBuilder(path="/", headers={
        "Cookie": f"{web.cookie_name(False)}=token"}).get_environ())
    response = pages.home(_Ctx(services), request)
    return response, services.calls


def test_contributions_is_asked_once_for_the_page_and_its_blocks():
    response, calls = _home({("contributions", "dashboard"): {"declarations": [],
                                                              "schedules": SCHEDULES}})
    assert response.status_code == 200
    assert [c for c in calls if c[0] == "contributions"] == [("contributions", "dashboard")]
    assert sorted(calls) == sorted([("accounts", "resolve_session"), ("documents", "list_documents"),
                                    ("contributions", "dashboard"), ("messaging", "unread_summary")])
    html = response.get_data(as_text=True)
    assert "à régler le" in html  # next_payment, from the shared read
    assert "Voir mon échéancier" in html


def test_contributions_down_leaves_the_rest_of_the_page():
    response, calls = _home({("contributions", "dashboard"): ServiceUnavailable("contributions",
                                                                                "timeout")})
    assert response.status_code == 200
    assert calls.count(("contributions", "dashboard")) == 1
    assert "momentanément indisponible" in response.get_data(as_text=True)
