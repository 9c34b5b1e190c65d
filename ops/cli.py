"""The ``carpimko`` command (operations)."""
from __future__ import annotations

import carpimko.green  # noqa: F401 - first: eventlet monkey patching

import argparse  # noqa: E402
import sys  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="carpimko", description="Carpimko member space operations")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run one copy of a service in the foreground")
    p.add_argument("service", choices=["accounts", "contributions", "documents", "notifications", "messaging", "gateway"])

    p = sub.add_parser("migrate", help="apply the services' database migrations")
    p.add_argument("services", nargs="*")

    sub.add_parser("migrate-and-setup", help="migrate every database, then declare the broker "
                   "topology (the deployment's job before a rollout)")

    p = sub.add_parser("broker", help="RabbitMQ topology")
    p.add_argument("action", choices=["setup"])

    sub.add_parser("demo-data", help="seed the demo members (development only)")

    p = sub.add_parser("declarations", help="income declarations")
    dsub = p.add_subparsers(dest="action", required=True)
    imp = dsub.add_parser("import", help="publish the declarations of a CSV file")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="validate only, publish nothing")
    imp.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("payments", help="payments received")
    psub = p.add_subparsers(dest="action", required=True)
    pim = psub.add_parser("import", help="record the payments of a bank CSV file")
    pim.add_argument("file")
    pim.add_argument("--dry-run", action="store_true", help="validate only, record nothing")

    p = sub.add_parser("simulate", help="simulate a year's contributions (the public simulator)")
    p.add_argument("--year", required=True)
    p.add_argument("--income", required=True, help="professional income, e.g. 40000 or 40000.50")
    p.add_argument("--conventioned-income", help="conventioned income (conventionnés only: adds the ASV)")
    p.add_argument("--activity-start", help="date the activity started, YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print the JSON answer of the simulation API")

    p = sub.add_parser("status", help="copies, queue depths, outbox backlog, dead letters")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("letters", help="postal letters and their print batches")
    lt = p.add_subparsers(dest="action", required=True)
    lt.add_parser("list", help="letters waiting and closed batches")
    c = lt.add_parser("close", help="close a print batch now (or at --cut-off)")
    c.add_argument("--cut-off", help="ISO date-time; letters queued until then")
    s = lt.add_parser("show", help="the letters of a batch")
    s.add_argument("batch")

    p = sub.add_parser("dead-letters", help="inspect and replay failed messages")
    dl = p.add_subparsers(dest="action", required=True)
    dl.add_parser("list")
    s = dl.add_parser("show"); s.add_argument("queue"); s.add_argument("--limit", type=int, default=10)
    r = dl.add_parser("replay"); r.add_argument("queue"); r.add_argument("--limit", type=int)
    g = dl.add_parser("purge"); g.add_argument("queue")

    p = sub.add_parser("accounts", help="member accounts (advisor operations)")
    asub = p.add_subparsers(dest="action", required=True)
    u = asub.add_parser("unlock", help="unlock an account locked after failed logins")
    u.add_argument("file_number"); u.add_argument("--advisor", required=True)
    a = asub.add_parser("add-staff", help="create an advisor or administrator (password asked, "
                        "TOTP provisioning URI printed once)")
    a.add_argument("login"); a.add_argument("--name", required=True)
    a.add_argument("--role", choices=["advisor", "supervisor", "admin"], required=True)
    p = sub.add_parser("campaign", help="campaigns over every member (resumable, idempotent)")
    csub = p.add_subparsers(dest="action", required=True)
    yc = csub.add_parser("yearly-call", help="issue the provisional call of a year for every member")
    yc.add_argument("--year", required=True, type=int)
    yc.add_argument("--rate", help="at most N members per second, e.g. 50/s (default: as fast as possible)")
    yc.add_argument("--as-of", help="the day the calls are issued, YYYY-MM-DD (default: the service's today)")
    yc.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("contributions", help="recovery of unpaid contributions (staff)")
    rsub = p.add_subparsers(dest="action", required=True)
    n = rsub.add_parser("notice", help="record a formal notice (mise en demeure) sent for a year's arrears")
    n.add_argument("file_number"); n.add_argument("--year", required=True, type=int)
    n.add_argument("--sent-on", required=True, help="YYYY-MM-DD"); n.add_argument("--by", required=True)
    pl = rsub.add_parser("plan", help="record a payment plan agreed for a year's arrears")
    pl.add_argument("file_number"); pl.add_argument("--year", required=True, type=int)
    pl.add_argument("--instalments", required=True, type=int, help="number of monthly payments (1-36)")
    pl.add_argument("--first-due", required=True, help="YYYY-MM-DD"); pl.add_argument("--by", required=True)
    pc = rsub.add_parser("plan-cancel", help="cancel a payment plan the member did not keep")
    pc.add_argument("plan_id"); pc.add_argument("--by", required=True)

    f = sub.add_parser("franceconnect-dev", help="run the local FranceConnect-like provider "
                       "(development only)")
    f.add_argument("--host", default="127.0.0.1"); f.add_argument("--port", type=int, default=9090)

    p = sub.add_parser("documents", help="issued documents (operations)")
    dsub = p.add_subparsers(dest="action", required=True)
    rp = dsub.add_parser("render-pending", help="draw and store every document never read yet "
                         "(before deploying a new layout version)")
    rp.add_argument("--batch", type=int, default=100, help="documents per call (1 to 10000)")

    p = sub.add_parser("career", help="career record (advisor operations)")
    csub = p.add_subparsers(dest="action", required=True)
    c = csub.add_parser("credit", help="record a period credited without income, on proof")
    c.add_argument("file_number"); c.add_argument("--advisor", required=True)
    kind = c.add_mutually_exclusive_group(required=True)
    kind.add_argument("--maternity", metavar="CHILDBIRTH_DATE", help="YYYY-MM-DD: 100 base points that year")
    kind.add_argument("--incapacity", metavar="YEAR", type=int,
                      help="an incapacity exemption that year (with --months, at least 6)")
    c.add_argument("--months", type=int, help="months of incapacity in the year")

    args = parser.parse_args(argv)
    if args.command == "franceconnect-dev":
        from ops import franceconnect_dev
        return franceconnect_dev.main(["--host", args.host, "--port", str(args.port)])
    from carpimko import config
    settings = config.load()

    if args.command == "serve":
        from ops.serve import serve
        return serve(args.service)
    if args.command == "migrate":
        from carpimko import migrations
        from ops.registry import DATABASE_SERVICES
        for name in args.services or DATABASE_SERVICES:
            if name not in DATABASE_SERVICES:
                parser.error(f"unknown service {name!r}")
            migrations.upgrade(name, settings.database_url(name))
            print(f"{name}: migrated")
        return 0
    if args.command == "migrate-and-setup":
        from carpimko import broker, migrations
        from ops.registry import DATABASE_SERVICES
        for name in DATABASE_SERVICES:
            migrations.upgrade(name, settings.database_url(name))
            print(f"{name}: migrated")
        for name in broker.declare_topology(settings.amqp_uri):
            print(f"declared {name} (+ .retry, .dlq)")
        return 0
    if args.command == "broker":
        from carpimko import broker
        for name in broker.declare_topology(settings.amqp_uri):
            print(f"declared {name} (+ .retry, .dlq)")
        return 0
    if args.command == "accounts":
        from ops import accounts_ops
        if args.action == "add-staff":
            return accounts_ops.add_staff(settings.amqp_uri, args.login, args.name, args.role)
        return accounts_ops.unlock(settings.amqp_uri, args.file_number, args.advisor)
    if args.command == "documents":
        from ops import documents_ops
        if not 1 <= args.batch <= 10_000:
            parser.error("--batch must be from 1 to 10000")
        documents_ops.render_pending(settings.amqp_uri, args.batch)
        return 0
    if args.command == "career":
        from ops import career_ops
        if args.incapacity is not None and args.months is None:
            parser.error("--incapacity needs --months")
        return career_ops.credit(settings.amqp_uri, args.file_number, args.advisor,
                                 childbirth_date=args.maternity, incapacity_year=args.incapacity,
                                 months=args.months)
    if args.command == "demo-data":
        from ops import demo_data
        print(demo_data.seed(settings))
        return 0
    if args.command == "declarations":
        from ops import declarations_import
        from services.contributions.domain.parameters import available_years
        published, rejected = declarations_import.run(
            args.file, settings.amqp_uri, tuple(available_years()), dry_run=args.dry_run,
            progress=not args.no_progress)
        for item in rejected:
            print(f"{args.file}: line {item.line}: {item.reason}", file=sys.stderr)
        verb = "valid" if args.dry_run else "published"
        print(f"{published} declaration(s) {verb}, {len(rejected)} rejected")
        return 2 if rejected else 0
    if args.command == "payments":
        from ops import payments_import
        from services.contributions.domain.parameters import available_years
        published, rejected = payments_import.run(args.file, settings.amqp_uri, tuple(available_years()),
                                                  dry_run=args.dry_run)
        for item in rejected:
            print(f"{args.file}: line {item.line}: {item.reason}", file=sys.stderr)
        verb = "valid" if args.dry_run else "published"
        print(f"{published} payment(s) {verb}, {len(rejected)} rejected")
        return 2 if rejected else 0
    if args.command == "simulate":
        from ops import simulate
        return simulate.run(args.year, args.income, args.conventioned_income, args.activity_start,
                            as_json=args.json)
    if args.command == "status":
        import json as json_module

        from ops import status as status_ops
        rows = status_ops.collect(settings.amqp_uri)
        print(json_module.dumps(rows, indent=2) if args.json else status_ops.render(rows))
        return 0 if all(r["health"] == "up" for r in rows) else 1
    if args.command == "letters":
        from ops import letters as letters_ops
        if args.action == "list":
            print(letters_ops.list_letters(settings.amqp_uri))
        elif args.action == "close":
            print(letters_ops.close(settings.amqp_uri, args.cut_off))
        else:
            print(letters_ops.show(settings.amqp_uri, args.batch))
        return 0
    if args.command == "campaign":
        from ops import campaign as campaign_ops
        try:
            rate = campaign_ops.parse_rate(args.rate)
        except ValueError as exc:
            parser.error(str(exc))
        if args.as_of:
            from datetime import date
            try:
                date.fromisoformat(args.as_of)
            except ValueError:
                parser.error(f"--as-of {args.as_of!r}: expected a date YYYY-MM-DD")
        try:
            return campaign_ops.run(settings.amqp_uri, args.year, rate, progress=not args.no_progress,
                                    as_of=args.as_of)
        except Exception as exc:  # noqa: BLE001 - a refused year or a service down: say it, exit non-zero
            from carpimko.errors import CarpimkoError
            if isinstance(exc, CarpimkoError):
                print(f"refused: {exc.message} {exc.fields or ''}".rstrip(), file=sys.stderr)
                return 2
            raise
    if args.command == "contributions":
        from ops import recovery_ops
        if args.action == "notice":
            return recovery_ops.notice(settings.amqp_uri, args.file_number, args.year, args.sent_on, args.by)
        if args.action == "plan":
            return recovery_ops.plan(settings.amqp_uri, args.file_number, args.year, args.instalments,
                                     args.first_due, args.by)
        return recovery_ops.cancel(settings.amqp_uri, args.plan_id, args.by)
    if args.command == "dead-letters":
        from ops import dead_letters as dl_ops
        if args.action == "list":
            for name, count in dl_ops.counts(settings.amqp_uri).items():
                print(f"{count:6d}  {name}")
        elif args.action == "show":
            print(dl_ops.format_items(dl_ops.show(settings.amqp_uri, args.queue, args.limit)))
        elif args.action == "replay":
            print(f"{dl_ops.replay(settings.amqp_uri, args.queue, args.limit)} message(s) replayed")
        elif args.action == "purge":
            print(f"{dl_ops.purge(settings.amqp_uri, args.queue)} message(s) purged")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
