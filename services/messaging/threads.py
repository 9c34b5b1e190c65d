"""Use cases of the messaging service: a database session in, plain dicts out.

Members see their own threads only (anyone else's is NotFound, exactly like
an unknown id) and never the internal notes nor staff-only history. Staff
functions take the ``actor`` resolved by the gateway from the staff session
(``{"login", "role"}``); :func:`authorize` checks the role's permission and
records every staff access, allowed or refused, in ``access_log``.

Posting is idempotent: the caller chooses the message id (the form carries
one), so a resubmitted form or a retried RPC adds nothing twice.
"""
from __future__ import annotations

import statistics
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from carpimko import inbox, outbox
from carpimko.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from carpimko.events import Event, new_event

from .attachments import CleanFile
from .domain import rules
from .models import AccessLog, Attachment, Inbox, Message, Outbox, Thread, ThreadEvent

FLAG_CONSUMER = "messaging.on_career_year_flagged"
MEMBER, FUND, NOTE = "member", "fund", "note"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    return value.isoformat()


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def check_id(value, name: str = "id") -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"unknown {name}", {}) from None


def _message_id(value) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise InvalidRequest("invalid message id", {"message_id": ["invalid"]}) from None


# -- views ---------------------------------------------------------------------------------
def _unread(session: Session, thread: Thread) -> bool:
    since = thread.member_read_at
    query = select(func.count()).select_from(Message).where(
        Message.thread_id == thread.id, Message.author_kind == FUND)
    if since is not None:
        query = query.where(Message.created_at > since)
    return session.scalar(query) > 0


def summary(session: Session, thread: Thread, staff: bool = False) -> dict:
    view = {
        "id": thread.id, "category": thread.category,
        "category_label": rules.CATEGORIES[thread.category], "subject": thread.subject,
        "status": thread.status, "status_label": rules.STATUSES[thread.status],
        "created_at": _iso(thread.created_at), "updated_at": _iso(thread.updated_at),
        "expected_reply_on": _iso(thread.expected_reply_on),
        "career_year": thread.career_year,
    }
    if staff:
        view.update(file_number=thread.file_number, assigned_to=thread.assigned_to,
                    first_response_at=_iso(thread.first_response_at),
                    flag_id=thread.flag_id, outcome=thread.outcome,
                    overdue=bool(thread.expected_reply_on
                                 and thread.expected_reply_on < _now().date()))
    else:
        view["unread"] = _unread(session, thread)
    return view


def _attachments_of(session: Session, message_ids: list[str]) -> dict[str, list[dict]]:
    rows = session.scalars(select(Attachment).where(Attachment.message_id.in_(message_ids))
                           .order_by(Attachment.created_at, Attachment.filename)).all() \
        if message_ids else []
    out: dict[str, list[dict]] = {}
    for a in rows:
        out.setdefault(a.message_id, []).append({
            "id": a.id, "filename": a.filename, "media_type": a.media_type, "size": a.size})
    return out


def thread_view(session: Session, thread: Thread, staff: bool = False) -> dict:
    kinds = (MEMBER, FUND, NOTE) if staff else (MEMBER, FUND)
    messages = session.scalars(select(Message).where(
        Message.thread_id == thread.id, Message.author_kind.in_(kinds))
        .order_by(Message.created_at, Message.id)).all()
    files = _attachments_of(session, [m.id for m in messages])
    history = select(ThreadEvent).where(ThreadEvent.thread_id == thread.id)
    if not staff:
        history = history.where(ThreadEvent.visible_to_member.is_(True))
    view = summary(session, thread, staff)
    view["messages"] = [{
        "id": m.id, "author_kind": m.author_kind,
        "author": m.author if staff or m.author_kind == MEMBER else "La Carpimko",
        "body": m.body, "created_at": _iso(m.created_at),
        "attachments": files.get(m.id, [])} for m in messages]
    view["history"] = [{"at": _iso(e.at), "kind": e.kind, "status": e.status,
                        "detail": e.detail, **({"actor": e.actor} if staff else {})}
                       for e in session.scalars(history.order_by(ThreadEvent.id)).all()]
    return view


# -- writing ---------------------------------------------------------------------------------
def _history(session: Session, thread: Thread, actor: str, kind: str, detail: str = "",
             visible: bool = True, at: datetime | None = None) -> None:
    session.add(ThreadEvent(thread_id=thread.id, at=at or _now(), actor=actor[:64], kind=kind,
                            status=thread.status, detail=detail[:200],
                            visible_to_member=visible))


def _add_message(session: Session, thread: Thread, message_id: str, kind: str, author: str,
                 body: str, files: list[tuple[CleanFile, str]], at: datetime) -> Message:
    message = Message(id=message_id, thread_id=thread.id, author_kind=kind, author=author[:64],
                      body=body.strip(), created_at=at)
    session.add(message)
    session.flush()
    for clean, storage_name in files:
        session.add(Attachment(id=str(uuid.uuid4()), message_id=message_id, thread_id=thread.id,
                               filename=clean.filename, media_type=clean.media_type,
                               size=len(clean.content), sha256=clean.sha256,
                               storage_name=storage_name, created_at=at))
    return message


def already_posted(session: Session, message_id) -> dict | None:
    """The thread a message id was already posted into ({"thread_id", "file_number"})."""
    message = session.get(Message, _message_id(message_id))
    if message is None:
        return None
    thread = session.get(Thread, message.thread_id)
    return {"thread_id": thread.id, "file_number": thread.file_number}


def start_thread(session: Session, file_number: str, category: str, subject: str, body: str,
                 message_id, files: list[tuple[CleanFile, str]]) -> dict:
    message_id = _message_id(message_id)
    errors = rules.check_text(subject, body, need_subject=True)
    if category not in rules.CATEGORIES:
        errors["category"] = ["message_category"]
    if errors:
        raise InvalidRequest("invalid message", errors)
    now = _now()
    thread = Thread(id=str(uuid.uuid4()), file_number=file_number, category=category,
                    subject=" ".join(subject.split()), status=rules.OPEN, created_at=now,
                    updated_at=now, expected_reply_on=rules.expected_reply_on(now))
    session.add(thread)
    session.flush()
    _add_message(session, thread, message_id, MEMBER, file_number, body, files, now)
    _history(session, thread, file_number, "opened", at=now)
    return thread_view(session, thread)


def _member_thread(session: Session, file_number: str, thread_id) -> Thread:
    thread = session.get(Thread, check_id(thread_id, "thread"))
    if thread is None or thread.file_number != file_number:
        raise NotFound("no such thread", {})  # someone else's thread: the same answer
    return thread


def member_reply(session: Session, file_number: str, thread_id, body: str, message_id,
                 files: list[tuple[CleanFile, str]]) -> dict:
    message_id = _message_id(message_id)
    thread = _member_thread(session, file_number, thread_id)
    errors = rules.check_text(None, body, need_subject=False)
    if errors:
        raise InvalidRequest("invalid message", errors)
    if thread.status == rules.CLOSED:
        raise Conflict("thread closed", {})
    now = _now()
    _add_message(session, thread, message_id, MEMBER, file_number, body, files, now)
    previous = thread.status
    thread.status = rules.status_after_member_message(previous)
    thread.updated_at = now
    thread.expected_reply_on = rules.expected_reply_on(now)
    _history(session, thread, file_number, "member_message", at=now)
    return thread_view(session, thread)


def member_threads(session: Session, file_number: str) -> list[dict]:
    rows = session.scalars(select(Thread).where(Thread.file_number == file_number)
                           .order_by(Thread.updated_at.desc())).all()
    return [summary(session, t) for t in rows]


def member_thread(session: Session, file_number: str, thread_id) -> dict:
    """The thread as the member sees it; reading it marks the fund's replies read."""
    thread = _member_thread(session, file_number, thread_id)
    view = thread_view(session, thread)
    thread.member_read_at = _now()
    return view


_T, _M = Thread.__table__.c, Message.__table__.c
# For the dashboard (every view): the member's threads, newest first, each with whether
# the fund replied since the member last read it (what ``_unread`` tells of one thread),
# in one statement built once: it was a query per thread, and a statement built and
# cached again on every call (profiled).
UNREAD_THREADS = (
    select(_T.id, _T.subject, _T.updated_at,
           exists().where(_M.thread_id == _T.id, _M.author_kind == FUND,
                          or_(_T.member_read_at.is_(None), _M.created_at > _T.member_read_at))
           .label("unread"))
    .where(_T.file_number == bindparam("file_number"))
    .order_by(_T.updated_at.desc()))


def unread(session: Session, file_number: str, limit: int = 3) -> dict:
    """For the dashboard: the number of threads with an unread reply, the latest ones."""
    waiting = [t for t in session.execute(UNREAD_THREADS, {"file_number": file_number})
               if t.unread]
    return {"count": len(waiting),
            "latest": [{"subject": t.subject, "received_at": _iso(t.updated_at),
                        "url": f"/messages/{t.id}"} for t in waiting[:limit]],
            "url": "/messages"}


def member_attachment(session: Session, file_number: str, thread_id, attachment_id) -> Attachment:
    thread = _member_thread(session, file_number, thread_id)
    return _attachment(session, thread, attachment_id, staff=False)


def _attachment(session: Session, thread: Thread, attachment_id, staff: bool) -> Attachment:
    row = session.get(Attachment, check_id(attachment_id, "attachment"))
    if row is None or row.thread_id != thread.id:
        raise NotFound("no such attachment", {})
    if not staff:
        message = session.get(Message, row.message_id)
        if message.author_kind == NOTE:
            raise NotFound("no such attachment", {})
    return row


# -- staff -----------------------------------------------------------------------------------
def check_actor(actor) -> dict:
    if not isinstance(actor, dict) or not isinstance(actor.get("login"), str) \
            or not isinstance(actor.get("role"), str):
        raise Unauthorized("staff actor required", {})
    return actor


def authorize(session: Session, actor: dict, action: str, thread_id: str | None = None,
              file_number: str | None = None) -> bool:
    """Record the access (append-only) and say whether the role allows it."""
    actor = check_actor(actor)
    ok = rules.allowed(actor["role"], action)
    session.add(AccessLog(at=_now(), actor=actor["login"][:64], role=actor["role"][:20],
                          action=action, thread_id=thread_id, file_number=file_number,
                          allowed=ok))
    return ok


def staff_thread_row(session: Session, thread_id) -> Thread:
    thread = session.get(Thread, check_id(thread_id, "thread"))
    if thread is None:
        raise NotFound("no such thread", {})
    return thread


def inbox_view(session: Session, category: str | None = None, status: str | None = None,
               assigned_to: str | None = None, limit: int = 200) -> list[dict]:
    """Threads for advisors, oldest waiting first; closed ones only when asked."""
    query = select(Thread)
    if category:
        if category not in rules.CATEGORIES:
            raise InvalidRequest("unknown category", {"category": ["message_category"]})
        query = query.where(Thread.category == category)
    if status:
        if status not in rules.STATUSES:
            raise InvalidRequest("unknown status", {"status": ["message_status"]})
        query = query.where(Thread.status == status)
    else:
        query = query.where(Thread.status != rules.CLOSED)
    if assigned_to == "":
        query = query.where(Thread.assigned_to.is_(None))
    elif assigned_to:
        query = query.where(Thread.assigned_to == assigned_to)
    rows = session.scalars(query.order_by(Thread.updated_at).limit(limit)).all()
    return [summary(session, t, staff=True) for t in rows]


def counts_by_category(session: Session) -> dict:
    rows = session.execute(select(Thread.category, func.count()).where(
        Thread.status == rules.OPEN).group_by(Thread.category)).all()
    counts = {c: 0 for c in rules.CATEGORIES}
    counts.update({c: n for c, n in rows})
    return counts


def assign(session: Session, actor: dict, thread: Thread, login: str | None) -> dict:
    if login is not None and (not isinstance(login, str) or not 3 <= len(login) <= 64):
        raise InvalidRequest("invalid advisor", {"login": ["staff_login"]})
    thread.assigned_to = login
    _history(session, thread, actor["login"], "assigned", login or "", visible=False)
    return thread_view(session, thread, staff=True)


def reply(session: Session, actor: dict, thread: Thread, body: str, message_id,
          files: list[tuple[CleanFile, str]], await_member: bool = False,
          notify: bool = True) -> dict:
    """The fund answers: the member is told (``message_posted``, through the
    outbox). ``notify=False`` only for data loaded as history (demo data)."""
    message_id = _message_id(message_id)
    errors = rules.check_text(None, body, need_subject=False)
    if errors:
        raise InvalidRequest("invalid message", errors)
    if thread.status == rules.CLOSED:
        raise Conflict("thread closed", {})
    now = _now()
    message = _add_message(session, thread, message_id, FUND, actor["login"], body, files, now)
    thread.status = rules.AWAITING_MEMBER if await_member else rules.ANSWERED
    thread.updated_at = now
    thread.expected_reply_on = None
    if thread.first_response_at is None:
        thread.first_response_at = now
    if thread.assigned_to is None:
        thread.assigned_to = actor["login"]
    _history(session, thread, actor["login"], "fund_reply", at=now)
    if notify:
        outbox.add(session, Outbox, new_event(
            "message_posted", {"thread_id": thread.id, "message_id": message.id,
                               "category": thread.category, "posted_at": now},
            member_id=thread.file_number, correlation_id=thread.id))
    return thread_view(session, thread, staff=True)


def note(session: Session, actor: dict, thread: Thread, body: str, message_id) -> dict:
    """An internal note: staff only, never in the member's view."""
    message_id = _message_id(message_id)
    errors = rules.check_text(None, body, need_subject=False)
    if errors:
        raise InvalidRequest("invalid note", errors)
    _add_message(session, thread, message_id, NOTE, actor["login"], body, [], _now())
    _history(session, thread, actor["login"], "note", visible=False)
    return thread_view(session, thread, staff=True)


def close(session: Session, actor: dict, thread: Thread, outcome: str | None = None) -> dict:
    """Close the thread. A thread opened for a flagged career year needs the
    outcome (the year ``corrected`` or ``confirmed``), which contributions
    learns from ``career_review_resolved``."""
    if thread.status == rules.CLOSED:
        return thread_view(session, thread, staff=True)
    if thread.flag_id is not None and outcome not in rules.OUTCOMES:
        raise InvalidRequest("outcome required", {"outcome": ["career_outcome"]})
    now = _now()
    thread.status = rules.CLOSED
    thread.closed_at = now
    thread.updated_at = now
    thread.expected_reply_on = None
    detail = ""
    if thread.flag_id is not None:
        thread.outcome = outcome
        detail = {"corrected": "année corrigée", "confirmed": "année confirmée"}[outcome]
        outbox.add(session, Outbox, new_event(
            "career_review_resolved",
            {"flag_id": thread.flag_id, "year": thread.career_year, "thread_id": thread.id,
             "outcome": outcome, "resolved_at": now},
            member_id=thread.file_number, correlation_id=thread.flag_id))
    _history(session, thread, actor["login"], "closed", detail, at=now)
    return thread_view(session, thread, staff=True)


def response_times(session: Session, days: int = 90) -> dict:
    """First-response times (from the member's first message to the fund's
    first reply), per category, over the threads opened in the last ``days``
    days; and the threads still waiting for a first reply."""
    since = _now() - timedelta(days=days)
    rows = session.scalars(select(Thread).where(Thread.created_at >= since)).all()
    now = _now()
    per: dict[str, dict] = {}
    for category, label in rules.CATEGORIES.items():
        threads = [t for t in rows if t.category == category]
        hours = [(_aware(t.first_response_at) - _aware(t.created_at)).total_seconds() / 3600
                 for t in threads if t.first_response_at is not None]
        waiting = [(now - _aware(t.created_at)).total_seconds() / 3600
                   for t in threads if t.first_response_at is None and t.status != rules.CLOSED]
        per[category] = {
            "label": label, "threads": len(threads), "answered": len(hours),
            "median_hours": round(statistics.median(hours), 1) if hours else None,
            "mean_hours": round(statistics.fmean(hours), 1) if hours else None,
            "max_hours": round(max(hours), 1) if hours else None,
            "waiting": len(waiting),
            "oldest_waiting_hours": round(max(waiting), 1) if waiting else None,
        }
    return {"days": days, "categories": per}


# -- events ----------------------------------------------------------------------------------
def flag_already_processed(session: Session, event_id: str) -> bool:
    return session.get(Inbox, (FLAG_CONSUMER, event_id)) is not None


def open_for_career_flag(session: Session, event: Event) -> str | None:
    """``career_year_flagged``: open a ``retraite`` thread with the member's
    comment, linked to the flag. Once per event (inbox) and once per flag."""
    if not inbox.claim(session, Inbox, FLAG_CONSUMER, event.event_id):
        return None
    flag_id = str(event.payload["flag_id"])
    if session.scalar(select(Thread).where(Thread.flag_id == flag_id)) is not None:
        return None
    year = event.payload["year"]
    at = event.payload["flagged_at"]
    now = _now()
    thread = Thread(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"carpimko-flag:{flag_id}")),
                    file_number=event.member_id, category="retraite",
                    subject=f"Relevé de carrière : année {year} signalée", status=rules.OPEN,
                    created_at=now, updated_at=now, expected_reply_on=rules.expected_reply_on(now),
                    flag_id=flag_id, career_year=year)
    session.add(thread)
    session.flush()
    _add_message(session, thread, str(uuid.uuid5(uuid.NAMESPACE_URL, f"carpimko-flag-msg:{flag_id}")),
                 MEMBER, event.member_id, event.payload["comment"], [], _aware(at) or now)
    _history(session, thread, event.member_id, "opened", f"année {year} signalée", at=now)
    return thread.id
