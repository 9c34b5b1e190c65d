"""The ``carpimko`` command (operations)."""
from __future__ import annotations

import carpimko.green  # noqa: F401 - first: eventlet monkey patching

import argparse  # noqa: E402
import sys  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="carpimko", description="Carpimko member space operations")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run one copy of a service in the foreground")
    p.add_argument("service", choices=["accounts", "contributions", "documents", "notifications", "gateway"])

    p = sub.add_parser("migrate", help="apply the services' database migrations")
    p.add_argument("services", nargs="*")

    p = sub.add_parser("broker", help="RabbitMQ topology")
    p.add_argument("action", choices=["setup"])

    sub.add_parser("demo-data", help="seed the demo members (development only)")

    p = sub.add_parser("declarations", help="income declarations")
    dsub = p.add_subparsers(dest="action", required=True)
    imp = dsub.add_parser("import", help="publish the declarations of a CSV file")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="validate only, publish nothing")
    imp.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("dead-letters", help="inspect and replay failed messages")
    dl = p.add_subparsers(dest="action", required=True)
    dl.add_parser("list")
    s = dl.add_parser("show"); s.add_argument("queue"); s.add_argument("--limit", type=int, default=10)
    r = dl.add_parser("replay"); r.add_argument("queue"); r.add_argument("--limit", type=int)
    g = dl.add_parser("purge"); g.add_argument("queue")

    args = parser.parse_args(argv)
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
    if args.command == "broker":
        from carpimko import broker
        for name in broker.declare_topology(settings.amqp_uri):
            print(f"declared {name} (+ .retry, .dlq)")
        return 0
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
