"""``carpimko simulate``: the public contributions simulator on the command line (no broker, no database)."""
from __future__ import annotations

import json
import sys

from carpimko.errors import InvalidRequest


def run(year, income, conventioned_income=None, activity_start=None, as_json=False,
        out=None, err=None) -> int:
    """Print the simulation; exit code 0, or 2 with one line per bad argument."""
    out = out or sys.stdout
    err = err or sys.stderr
    from services.contributions import simulations
    try:
        view = simulations.simulate(year, income, conventioned_income, activity_start)
    except InvalidRequest as exc:
        for name, problems in exc.fields.items():
            option = "--" + name.replace("_", "-")
            for problem in problems:
                print(f"carpimko simulate: {option}: {problem}", file=err)
        return 2
    if as_json:
        print(json.dumps(view), file=out)
        return 0
    print(f"Contributions {view['year']} on a base of {view['base']}", file=out)
    for line in view["lines"]:
        rate = "flat" if line["rate"] is None else f"{line['rate']} %"
        print(f"  {line['scheme']:<17} base {line['base']:>12}  rate {rate:>8}  amount {line['amount']:>10}",
              file=out)
    print(f"  {'total':<17} {view['total']:>55}", file=out)
    return 0
