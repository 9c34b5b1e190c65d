"""``carpimko status``: for each service, its running copies, queue depths,
outbox backlog and dead letters — from RabbitMQ (passive declarations: no
management plugin needed) and each service's health RPC."""
from __future__ import annotations

from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy

from carpimko import broker

SERVICES = ("accounts", "contributions", "documents", "notifications", "messaging", "gateway")


def _depth(channel_holder, conn, name):
    try:
        ok = channel_holder[0].queue_declare(name, passive=True)
        return ok.message_count, ok.consumer_count
    except Exception:  # noqa: BLE001 - queue does not exist (yet)
        channel_holder[0] = conn.channel()
        return None, None


def collect(amqp_uri: str, rpc_timeout: float = 3) -> list[dict]:
    rows = []
    with Connection(amqp_uri, connect_timeout=5) as conn:
        holder = [conn.channel()]
        for service in SERVICES:
            _, copies = _depth(holder, conn, f"rpc-{service}")
            row = {"service": service, "copies": copies or 0, "queues": [], "dead_letters": 0,
                   "outbox_pending": None, "health": "down"}
            for event_type, svc, method in broker.SUBSCRIPTIONS:
                if svc != service:
                    continue
                main = broker.queue_name(event_type, svc, method)
                ready, _ = _depth(holder, conn, main)
                retrying, _ = _depth(holder, conn, broker.retry_queue_name(main))
                dead, _ = _depth(holder, conn, broker.dead_letter_queue_name(main))
                row["queues"].append({"event": event_type, "ready": ready, "retrying": retrying,
                                      "dead": dead})
                row["dead_letters"] += dead or 0
            rows.append(row)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=rpc_timeout) as rpc:
        for row in rows:
            if row["service"] == "gateway" or not row["copies"]:
                continue
            try:
                health = getattr(rpc, row["service"]).health()
                row["health"] = health.get("status", "up")
                row["outbox_pending"] = health.get("outbox_pending")
            except Exception:  # noqa: BLE001 - timeout or error: shown as down
                row["health"] = "down"
    for row in rows:
        if row["service"] == "gateway":
            row["health"] = "up" if row["copies"] else "down"
    return rows


def render(rows: list[dict]) -> str:
    out = [f"{'service':<14}{'copies':>7}  {'health':<7}{'outbox':>7}{'dead':>6}  queues (ready/retrying/dead)"]
    for row in rows:
        queues = ", ".join(f"{q['event']} {q['ready']}/{q['retrying']}/{q['dead']}" for q in row["queues"]) or "—"
        outbox = "—" if row["outbox_pending"] is None else str(row["outbox_pending"])
        out.append(f"{row['service']:<14}{row['copies']:>7}  {row['health']:<7}{outbox:>7}"
                   f"{row['dead_letters']:>6}  {queues}")
    return "\n".join(out)
