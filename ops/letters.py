"""``carpimko letters list|close|show``: the postal print batches, through the
notifications service (RPC: the service owns its tables)."""
from __future__ import annotations

from nameko.standalone.rpc import ClusterRpcProxy


def _proxy(amqp_uri: str, timeout: float):
    return ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout)


def list_letters(amqp_uri: str, timeout: float = 10) -> str:
    with _proxy(amqp_uri, timeout) as rpc:
        overview = rpc.notifications.letters_overview()
    lines = [f"{len(overview['queued'])} letter(s) waiting for the next batch"]
    for letter in overview["queued"]:
        lines.append(f"  {letter['queued_at']}  {letter['file_number']:>9}  {letter['pages']} page(s)  {letter['id']}")
    lines.append(f"{len(overview['batches'])} closed batch(es), newest first")
    for batch in overview["batches"]:
        lines.append(f"  {batch['id']}  {batch['letters']} letter(s), {batch['pages']} page(s)  {batch['pdf']}")
    return "\n".join(lines)


def close(amqp_uri: str, cut_off: str | None, timeout: float = 120) -> str:
    with _proxy(amqp_uri, timeout) as rpc:
        batch = rpc.notifications.close_letter_batch(cut_off)
    if batch is None:
        return "nothing to close: no letter queued before the cut-off (or this batch exists already)"
    return (f"batch {batch['id']} closed: {batch['letters']} letter(s), {batch['pages']} page(s)\n"
            f"  PDF:      {batch['pdf']}\n  manifest: {batch['manifest']}\n  sha256:   {batch['sha256']}")


def show(amqp_uri: str, batch_id: str, timeout: float = 10) -> str:
    with _proxy(amqp_uri, timeout) as rpc:
        letters = rpc.notifications.batch_letters(batch_id)
    if not letters:
        return f"no batch {batch_id!r} (see `carpimko letters list`)"
    return "\n".join(f"{i:4d}  {l['file_number']:>9}  {l['name']}  /  {' / '.join(l['address'])}  "
                     f"({l['pages']} p.)" for i, l in enumerate(letters, start=1))
