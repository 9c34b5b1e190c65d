"""Members' contact details for a batch of events, from accounts.

Shared by the batch consumers (documents, notifications): one
``contact_details_many`` call per ``PER_CALL`` members instead of one call per
event; a member missing from the answer is asked alone with
``contact_details``, so an unknown member fails exactly as a single event
always did (accounts' NotFound, then retries and the dead-letter queue)."""
from __future__ import annotations

from . import rpc

PER_CALL = 500  # what accounts' contact_details_many answers at most


def of_members(accounts, file_numbers, timeout=None) -> dict:
    """``{file_number: contact details}`` for every one of ``file_numbers``."""
    wanted = list(dict.fromkeys(file_numbers))
    found: dict = {}
    for start in range(0, len(wanted), PER_CALL):
        found.update(rpc.call(accounts, "accounts", "contact_details_many",
                              wanted[start:start + PER_CALL], timeout=timeout))
    for file_number in wanted:
        if file_number not in found:
            found[file_number] = rpc.call(accounts, "accounts", "contact_details", file_number,
                                          timeout=timeout)
    return found
