"""``carpimko contributions notice|plan|plan-cancel``: the fund's staff record a formal notice sent for a year's
arrears, or a payment plan agreed with the member (services/contributions/recovery.py), through the
contributions service (RPC). Both keep the member "not up to date" on the dashboard until the arrears are
settled (docs/operations.md)."""
from __future__ import annotations

import sys

from nameko.standalone.rpc import ClusterRpcProxy

import carpimko.errors  # noqa: F401 - registers the errors, so a refusal comes back as itself
from carpimko.errors import CarpimkoError


def _refused(exc: CarpimkoError) -> int:
    details = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in (exc.fields or {}).items())
    print(f"refused: {exc.message}" + (f" ({details})" if details else ""), file=sys.stderr)
    return 2


def notice(amqp_uri: str, file_number: str, year: int, sent_on: str, by: str, timeout: float = 10) -> int:
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
            view = rpc.contributions.record_formal_notice(file_number, year, sent_on, by)
    except CarpimkoError as exc:
        return _refused(exc)
    print(f"{file_number}: formal notice of {view['sent_on']} recorded for {view['year']}: {view['amount']} "
          f"claimed (arrears {view['arrears']} + surcharge {view['surcharge']})")
    return 0


def plan(amqp_uri: str, file_number: str, year: int, instalments: int, first_due: str, by: str,
         timeout: float = 10) -> int:
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
            view = rpc.contributions.record_payment_plan(file_number, year, instalments, first_due, by)
    except CarpimkoError as exc:
        return _refused(exc)
    print(f"{file_number}: payment plan {view['id']} recorded for {view['year']}: {view['amount']} in "
          f"{view['instalments']} monthly payment(s) ({', '.join(view['instalment_amounts'])}) from "
          f"{view['first_due']}")
    return 0


def cancel(amqp_uri: str, plan_id: str, by: str, timeout: float = 10) -> int:
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
            view = rpc.contributions.cancel_payment_plan(plan_id, by)
    except CarpimkoError as exc:
        return _refused(exc)
    print(f"payment plan {view['id']} cancelled")
    return 0
