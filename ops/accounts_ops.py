"""``carpimko accounts unlock FILE --advisor NAME``: an advisor unlocks an
account locked after failed logins (after checking the caller's identity on
the phone), through the accounts service (RPC). Recorded in the audit log."""
from __future__ import annotations

from nameko.standalone.rpc import ClusterRpcProxy


def unlock(amqp_uri: str, file_number: str, advisor: str, timeout: float = 10) -> int:
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
        was_locked = rpc.accounts.unlock_account(file_number, advisor)
    print(f"{file_number}: unlocked" if was_locked else f"{file_number}: was not locked")
    return 0


def add_staff(amqp_uri: str, login: str, name: str, role: str, password: str | None = None,
              timeout: float = 10) -> int:
    import getpass
    import sys

    from nameko.exceptions import RemoteError

    from carpimko.errors import CarpimkoError

    password = password or getpass.getpass("Password (12 characters or more): ")
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
            created = rpc.accounts.staff_create(None, login, name, role, password)
    except (CarpimkoError, RemoteError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(f"{created['login']} ({created['role']}) created. Add this to the authenticator app "
          f"(shown once):\n{created['provisioning_uri']}")
    return 0
