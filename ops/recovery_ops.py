"""``carpimko contributions notice|plan|plan-cancel``: the fund's staff record a formal notice sent for a year's
arrears, or a payment plan agreed with the member (services/contributions/recovery.py), through the
contributions service (RPC). Both keep the member "not up to date" on the dashboard until the arrears are
settled (docs/operations.md)."""
from __future__ import annotations

import sys

from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

import carpimko.errors  # noqa: F401 - registers the errors, so a refusal comes back as itself
from carpimko.errors import CarpimkoError


def _call(amqp_uri: str, timeout: float, method: str, *args):
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
        return getattr(rpc.contributions, method)(*args)


def _refused(exc) -> int:
    if isinstance(exc, (UnknownService, RpcTimeout)):
        print(f"the contributions service does not answer ({type(exc).__name__}): nothing recorded; start it "
              "and run the command again", file=sys.stderr)
        return 1
    details = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in (exc.fields or {}).items())
    print(f"refused: {exc.message}" + (f" ({details})" if details else ""), file=sys.stderr)
    return 2


def notice(amqp_uri: str, file_number: str, year: int, sent_on: str, by: str, timeout: float = 10) -> int:
    try:
        view = _call(amqp_uri, timeout, "record_formal_notice", file_number, year, sent_on, by)
    except (CarpimkoError, UnknownService, RpcTimeout) as exc:
        return _refused(exc)
    print(f"{file_number}: formal notice of {view['sent_on']} recorded for {view['year']}: {view['amount']} "
          f"claimed (arrears {view['arrears']} + surcharge {view['surcharge']})")
    return 0


def plan(amqp_uri: str, file_number: str, year: int, instalments: int, first_due: str, by: str,
         timeout: float = 10) -> int:
    try:
        view = _call(amqp_uri, timeout, "record_payment_plan", file_number, year, instalments, first_due, by)
    except (CarpimkoError, UnknownService, RpcTimeout) as exc:
        return _refused(exc)
    print(f"{file_number}: payment plan {view['id']} recorded for {view['year']}: {view['amount']} in "
          f"{view['instalments']} monthly payment(s) ({', '.join(view['instalment_amounts'])}) from "
          f"{view['first_due']}")
    return 0


def cancel(amqp_uri: str, plan_id: str, by: str, timeout: float = 10) -> int:
    try:
        view = _call(amqp_uri, timeout, "cancel_payment_plan", plan_id, by)
    except (CarpimkoError, UnknownService, RpcTimeout) as exc:
        return _refused(exc)
    print(f"payment plan {view['id']} cancelled")
    return 0
