"""``carpimko career credit``: an advisor records a period credited without income (issue #6), on proof received
in the member's message thread: a maternity (the childbirth date) or an incapacity exemption of 6 months or more
(the year and the months). The member never records these: they flag the year from "Ma carrière"."""
from __future__ import annotations

import sys

from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from carpimko.errors import CarpimkoError


def credit(amqp_uri: str, file_number: str, advisor: str, *, childbirth_date: str | None = None,
           incapacity_year: int | None = None, months: int | None = None, timeout: float = 10) -> int:
    kind = "maternity" if childbirth_date else "incapacity"
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
            view = rpc.contributions.record_career_credit(
                file_number, kind, year=incapacity_year, childbirth_date=childbirth_date, months=months,
                recorded_by=advisor)
    except (CarpimkoError, RemoteError) as exc:
        fields = getattr(exc, "fields", None) or {}
        detail = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in fields.items())
        print(f"refused: {exc.args[0] if exc.args else exc}{f' ({detail})' if detail else ''}", file=sys.stderr)
        return 2
    what = (f"maternity (childbirth {view['childbirth_date']})" if kind == "maternity"
            else f"incapacity exemption ({view['months']} months)")
    print(f"{file_number}: {what} credited in {view['year']} by {view['recorded_by']}")
    return 0
