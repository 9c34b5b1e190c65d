"""Issuing on a migrated database: idempotency, supersession, verification,
the verification codes and the content store."""
from __future__ import annotations

import hashlib
import json
import os
from datetime import date

import pytest
from sqlalchemy import func, select

from carpimko.db import Database
from carpimko.events import parse_event
from services.documents import issuing
from services.documents.domain import verification
from services.documents.models import Document, Outbox
from services.documents.storage import DocumentStore, FilesystemStore, StoredContentCorrupted
from tests.support import factories


@pytest.fixture
def db(databases):
    database = Database(databases.url("documents"), pool_size=2)
    yield database
    database.dispose()


def recalculated(correlation_id=None):
    return parse_event(factories.contributions_recalculated("1234567", correlation_id))


def record(db, event, code, sha="a" * 64):
    with db.transaction() as session:
        return issuing.record_statement(session, event, sha, 1234, date(2026, 11, 28), code,
                                        "C. M.")


def count(db, model):
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


# ------------------------------------------------------------------ issuing

def test_the_same_event_never_yields_two_documents(db):
    event = recalculated()
    first = record(db, event, verification.new_code())
    assert first is not None
    assert record(db, event, verification.new_code()) is None  # redelivered: nothing new
    assert count(db, Document) == 1
    assert count(db, Outbox) == 1


def test_a_new_version_supersedes_and_both_stay_verifiable(db):
    old_code, new_code = verification.new_code(), verification.new_code()
    old = record(db, recalculated(), old_code, "a" * 64)
    new = record(db, recalculated(), new_code, "b" * 64)
    with db.transaction() as session:
        assert session.get(Document, old).superseded_by == new
        assert session.get(Document, new).superseded_by is None
        assert issuing.verify(session, old_code) == {
            "found": True, "kind": "contribution_statement", "title": "Relevé de cotisations 2026",
            "issued_on": "2026-11-28", "initials": "C. M.", "sha256": "a" * 64,
            "superseded": True}
        assert issuing.verify(session, new_code)["sha256"] == "b" * 64
        assert issuing.verify(session, new_code)["superseded"] is False


def test_only_the_hash_of_the_code_is_stored(db):
    code = verification.new_code()
    doc_id = record(db, recalculated(), code)
    with db.transaction() as session:
        doc = session.get(Document, doc_id)
        stored = doc.verification_hash
    assert stored == verification.code_hash(verification.canonical(code))
    assert code.replace("-", "") not in stored and len(stored) == 64


@pytest.mark.parametrize("typed", ["unknown", "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "", "x" * 200])
def test_unknown_or_malformed_codes_same_shape(db, typed):
    record(db, recalculated(), verification.new_code())
    with db.transaction() as session:
        assert issuing.verify(session, typed) == {
            "found": False, "kind": None, "title": None, "issued_on": None, "initials": None,
            "sha256": None, "superseded": None}


def test_code_is_read_back_forgivingly(db):
    code = verification.new_code()
    record(db, recalculated(), code)
    typed = " " + code.lower().replace("-", " ").replace("0", "o") + " "
    with db.transaction() as session:
        assert issuing.verify(session, typed)["found"] is True


def test_statement_data_carries_the_verification_block():
    event = recalculated()
    code, block = issuing.new_verification("https://espace.example/")
    data = issuing.statement_data(event, {"full_name": "Mme Claire MARTIN",
                                          "address_lines": ["1 rue", "75002 PARIS"]},
                                  date(2026, 11, 28), block)
    assert data["verification"] == {"code": code, "url": f"https://espace.example/verify/{code}"}


def test_member_initials():
    assert issuing.member_initials({"first_name": "Claire", "last_name": "Martin"}) == "C. M."
    assert issuing.member_initials({"first_name": "Jean-Pierre", "last_name": "le Gall"}) \
        == "J.-P. L. G."
    assert issuing.member_initials({"full_name": "Mme Élodie DURAND"}) == "É. D."


# ------------------------------------------------------------ verification codes

def test_codes_are_random_well_formed_and_unique():
    codes = {verification.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert len(code) == 19 and code.count("-") == 3
        assert verification.canonical(code) == code.replace("-", "")
        assert set(code.replace("-", "")) <= set(verification.ALPHABET)


@pytest.mark.parametrize("typed, expected", [
    ("k7qh-3mzp-xw9c-t4rb", "K7QH3MZPXW9CT4RB"),
    ("K7QH 3MZP XW9C T4RB", "K7QH3MZPXW9CT4RB"),
    ("OOOO-IIII-LLLL-2222", "0000111111112222"),
    ("K7QH-3MZP-XW9C", None),
    ("K7QH-3MZP-XW9C-T4RU", None),   # U is not in the alphabet
    (None, None),
])
def test_canonical(typed, expected):
    assert verification.canonical(typed) == expected


def test_code_hash_never_collides_with_malformed():
    assert verification.code_hash(None) != verification.code_hash("0" * 16)
    assert len(verification.code_hash(None)) == 64


# ------------------------------------------------------------------- storage

def test_filesystem_store_is_content_addressed_and_immutable(tmp_path):
    store: DocumentStore = FilesystemStore(tmp_path)
    content = b"%PDF-1.4 example"
    digest = store.put(content)
    assert digest == hashlib.sha256(content).hexdigest()
    assert store.exists(digest) and store.get(digest) == content
    path = tmp_path / digest[:2] / digest[2:4] / digest
    before = os.stat(path).st_mtime_ns
    assert store.put(content) == digest  # the same content again: nothing rewritten
    assert os.stat(path).st_mtime_ns == before
    assert not os.stat(path).st_mode & 0o222  # read-only
    assert not store.exists("0" * 64)
    with pytest.raises(FileNotFoundError):
        store.get("0" * 64)
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(StoredContentCorrupted):
        store.get(digest)
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temporary file left


# -- career statement (issue #6) --------------------------------------------------------------------------------

def career_requested():
    from uuid import uuid4
    from carpimko.events import new_event
    return parse_event(new_event("career_statement_requested", {
        "request_id": uuid4(), "as_of": date(2026, 11, 28),
        "years": [{"year": 2024, "income": "40000.00", "quarters": 4, "rb_points": "557.21", "rc_points": "10.16"},
                  {"year": 2025, "income": None, "quarters": 4, "rb_points": "400.00", "rc_points": "8.00"}]},
        member_id="1234567"))


def test_career_statement_is_rendered_from_the_request_and_recorded_once(db):
    import io
    from pypdf import PdfReader
    from services.documents import rendering

    event = career_requested()
    member = {"full_name": "Mme Claire MARTIN", "address_lines": ["1 rue de la Paix", "75002 PARIS"]}
    data = issuing.career_statement_data(event, member, date(2026, 11, 28),
                                         {"code": "K7QH-3MZP-XW9C-T4RB", "url": "https://x/verify/K7QH-3MZP-XW9C-T4RB"})
    pdf = rendering.render_career_statement(data)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    text = text.replace("\u202f", " ").replace("\u00a0", " ")
    assert "RELEVÉ DE CARRIÈRE" in text and "1234567" in text and "Trimestres validés 8" in text
    assert "40 000,00" in text and "non connus" in text and "957,21" in text and "K7QH-3MZP-XW9C-T4RB" in text
    with db.transaction() as session:
        first = issuing.record_career_statement(session, event, "a" * 64, len(pdf), date(2026, 11, 28))
    with db.transaction() as session:
        assert issuing.record_career_statement(session, event, "a" * 64, len(pdf), date(2026, 11, 28)) is None
        doc = session.get(Document, first)
        assert (doc.kind, doc.title, doc.year) == ("career_statement", "Relevé de carrière au 28/11/2026", 2026)


def test_career_statement_request_carries_a_called_year_apart():
    """A year only called travels with its status and call; an event without them (older producer) is final."""
    from uuid import uuid4
    from carpimko.events import new_event
    event = parse_event(new_event("career_statement_requested", {
        "request_id": uuid4(), "as_of": date(2026, 11, 28),
        "years": [{"year": 2025, "income": "46000.00", "quarters": 4, "rb_points": "517.62", "rc_points": "11.04"},
                  {"year": 2026, "income": None, "quarters": 4, "rb_points": "507.28", "rc_points": "7.02",
                   "status": "provisional",
                   "call": {"stage": "adjusted", "income_year": 2025, "income": "46000.00"}}]},
        member_id="1234567"))
    member = {"full_name": "Mme Claire MARTIN", "address_lines": ["1 rue de la Paix", "75002 PARIS"]}
    years = issuing.career_statement_data(event, member, date(2026, 11, 28))["years"]
    assert (years[0]["status"], years[0]["call"]) == ("final", None)
    assert years[1]["status"] == "provisional"
    assert years[1]["call"] == {"stage": "adjusted", "income_year": 2025, "income": "46000.00"}
    assert event.payload["years"][0]["status"] == "final"  # the contract's default for an older event


# ------------------------------------------- several documents from one event

def test_one_event_two_documents_one_claim_one_announcement_to_the_member(db):
    event = recalculated()
    issued = [issuing.Issued("contribution_statement", "Relevé de cotisations 2026", 2026,
                             "a" * 64, 10, verification.new_code()),
              issuing.Issued("regularisation_notice", "Avis de régularisation 2026", 2026,
                             "b" * 64, 10, verification.new_code())]
    with db.transaction() as session:
        ids = issuing.record_documents(session, issuing.STATEMENT_CONSUMER, event, issued,
                                       date(2026, 11, 28), "C. M.")
    assert len(ids) == 2
    with db.transaction() as session:
        assert issuing.record_documents(session, issuing.STATEMENT_CONSUMER, event, issued,
                                        date(2026, 11, 28), "C. M.") is None
        events = [parse_event(json.loads(row.body)) for row in session.scalars(select(Outbox))]
    assert count(db, Document) == 2
    payloads = {e.payload["kind"]: e.payload for e in events}
    assert payloads["contribution_statement"]["notify"] is True
    assert payloads["contribution_statement"]["also_issued"] == ["Avis de régularisation 2026"]
    assert payloads["regularisation_notice"]["notify"] is False
    assert {e.version for e in events} == {3}
    assert {e.correlation_id for e in events} == {event.correlation_id}


# ------------------------------------------------------------- batches of events

def test_still_to_process_drops_processed_events_and_repeats_in_one_query(db):
    done, fresh, other = recalculated(), recalculated(), recalculated()
    record(db, done, verification.new_code())
    queries = []
    from sqlalchemy import event as sa_event
    batch = [fresh, done, fresh, other, done]
    with db.transaction() as session:
        bind = session.get_bind()
        listener = lambda *args: queries.append(args[2])  # noqa: E731
        sa_event.listen(bind, "before_cursor_execute", listener)
        try:
            left = issuing.still_to_process(session, issuing.STATEMENT_CONSUMER, batch)
        finally:
            sa_event.remove(bind, "before_cursor_execute", listener)
    assert [e.event_id for e in left] == [fresh.event_id, other.event_id]  # in order, once each
    assert len(queries) == 1
    with db.transaction() as session:  # another consumer has processed none of them
        assert len(issuing.still_to_process(session, "documents.on_schedule_changed", batch)) == 3
        assert issuing.still_to_process(session, issuing.STATEMENT_CONSUMER, []) == []


def test_put_many_stores_each_content_once_and_leaves_no_temporary_file(tmp_path):
    store = FilesystemStore(tmp_path)
    contents = [b"%PDF-1.4 one", b"%PDF-1.4 two", b"%PDF-1.4 one"]
    existing = store.put(b"%PDF-1.4 two")
    path = tmp_path / existing[:2] / existing[2:4] / existing
    before = os.stat(path).st_mtime_ns
    digests = store.put_many(contents)
    assert digests == [hashlib.sha256(c).hexdigest() for c in contents]
    assert all(store.get(d) == c for d, c in zip(digests, contents))
    assert os.stat(path).st_mtime_ns == before  # already there: not rewritten
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(p.name for p in stored) == sorted(set(digests))
    assert all(not os.stat(p).st_mode & 0o222 for p in stored)
    assert store.put_many([]) == []


def test_put_many_flushes_every_file_before_any_is_at_its_address(tmp_path, monkeypatch):
    """Durability: nothing is visible at its address (and so nothing can be
    recorded as stored) before every file of the batch is on disk."""
    import services.documents.storage as storage
    store = FilesystemStore(tmp_path)
    contents = [b"%PDF-1.4 a", b"%PDF-1.4 b", b"%PDF-1.4 c"]
    synced = []

    def fsync_all(fds):
        assert not any(store.exists(hashlib.sha256(c).hexdigest()) for c in contents)
        synced.append(len(fds))

    monkeypatch.setattr(storage, "_fsync_all", fsync_all)
    store.put_many(contents)
    assert synced == [3]  # one flush for the batch
    assert all(store.exists(hashlib.sha256(c).hexdigest()) for c in contents)


def test_put_many_failing_to_flush_stores_nothing(tmp_path, monkeypatch):
    import services.documents.storage as storage
    store = FilesystemStore(tmp_path)

    def failing(fds):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "_fsync_all", failing)
    with pytest.raises(OSError):
        store.put_many([b"%PDF-1.4 a", b"%PDF-1.4 b"])
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def schedule_event():
    return parse_event(factories.schedule_changed("1234567", reason="frequency_changed",
                                                  caused=False))


def schedule_issued(sha):
    return issuing.Issued("payment_schedule", "Échéancier de paiement 2026", 2026, sha, 10,
                          verification.new_code())


def test_record_batch_supersedes_in_order_and_skips_what_was_claimed(db):
    before = schedule_event()
    with db.transaction() as session:  # a schedule recorded by an earlier batch
        issuing.record_documents(session, "documents.on_schedule_changed", before,
                                 [schedule_issued("0" * 64)], date(2026, 11, 28), "C. M.")
    first, second, third = schedule_event(), schedule_event(), schedule_event()
    statement = recalculated()
    batch = [(first, [schedule_issued("a" * 64)], "C. M.", True, []),
             (before, [schedule_issued("f" * 64)], "C. M.", True, []),  # already claimed: skipped
             (second, [schedule_issued("b" * 64)], "C. M.", False, []),
             (statement, [issuing.Issued("contribution_statement", "Relevé de cotisations 2026",
                                         2026, "e" * 64, 10, verification.new_code())],
              "C. M.", True, []),
             (third, [schedule_issued("c" * 64)], "C. M.", True, [])]
    with db.transaction() as session:
        assert issuing.record_batch(session, "documents.on_schedule_changed", batch,
                                    date(2026, 11, 28)) == 4
    with db.transaction() as session:
        rows = {d.sha256: d for d in session.scalars(select(Document))}
        announced = [parse_event(json.loads(r.body)) for r in session.scalars(select(Outbox))]
    assert set(rows) == {"0" * 64, "a" * 64, "b" * 64, "c" * 64, "e" * 64}
    # one chain: the earlier batch's, then the batch's in their order; the last is current
    assert rows["0" * 64].superseded_by == rows["a" * 64].id
    assert rows["a" * 64].superseded_by == rows["b" * 64].id
    assert rows["b" * 64].superseded_by == rows["c" * 64].id
    assert rows["c" * 64].superseded_by is None and rows["e" * 64].superseded_by is None
    notify = {e.payload["sha256"]: e.payload["notify"] for e in announced}
    assert notify == {"0" * 64: True, "a" * 64: True, "b" * 64: False, "c" * 64: True,
                      "e" * 64: True}
    assert {e.causation_id for e in announced} >= {first.event_id, second.event_id,
                                                   third.event_id, statement.event_id}


def test_record_batch_supersedes_only_the_current_document_of_each_key(db):
    """One UPDATE for the batch: each (member, kind, year) supersedes its own
    current document, never another member's, year's or kind's, and a kind
    without a year (None) matches only documents without a year."""
    def issued(kind, year, sha):
        return issuing.Issued(kind, f"{kind} {year}", year, sha, 10, verification.new_code())

    def event(member):
        return parse_event(factories.schedule_changed(member, reason="frequency_changed",
                                                      caused=False))

    consumer = "documents.on_schedule_changed"
    with db.transaction() as session:  # what earlier batches issued
        issuing.record_batch(session, consumer, [
            (event("1234567"), [issued("payment_schedule", 2026, "1" * 64),
                                issued("undated_notice", None, "2" * 64)], "C. M.", True, []),
            (event("1234567"), [issued("payment_schedule", 2025, "3" * 64)], "C. M.", True, []),
            (event("7654321"), [issued("payment_schedule", 2026, "4" * 64)], "A. B.", True, []),
        ], date(2026, 11, 28))
    with db.transaction() as session:
        assert issuing.record_batch(session, consumer, [
            (event("1234567"), [issued("payment_schedule", 2026, "a" * 64),
                                issued("undated_notice", None, "b" * 64)], "C. M.", True, []),
            (event("1234567"), [issued("undated_notice", None, "c" * 64)], "C. M.", False, []),
        ], date(2026, 11, 28)) == 2
    with db.transaction() as session:
        rows = {d.sha256: d for d in session.scalars(select(Document))}
        announced = [json.loads(r.body)["payload"]
                     for r in session.scalars(select(Outbox).order_by(Outbox.id))]
    sha_of = {d.id: sha for sha, d in rows.items()}
    superseded = {sha: sha_of.get(d.superseded_by) for sha, d in rows.items()}
    assert superseded == {"1" * 64: "a" * 64, "2" * 64: "b" * 64, "b" * 64: "c" * 64,
                          "3" * 64: None, "4" * 64: None, "a" * 64: None, "c" * 64: None}
    # the outbox in the batches' order, the first document of each event told
    assert [(p["sha256"], p["notify"]) for p in announced] == [
        ("1" * 64, True), ("2" * 64, False), ("3" * 64, True), ("4" * 64, True),
        ("a" * 64, True), ("b" * 64, False), ("c" * 64, False)]


def test_only_documents_issued_for_a_first_read_wait_for_one(db):
    """A letter carrying a secret keeps neither content nor snapshot: it must
    not look like a document waiting for its first read (render_pending would
    count it for ever), and neither must a document drawn at issue."""
    from services.documents import deferred, letters
    from tests.unit.documents.test_deferred import schedule

    access = {"file_number": "1234567", "issued_on": "2026-11-28",
              "member": {"full_name": "Claire Martin", "first_name": "Claire",
                         "last_name": "Martin", "address_lines": ["1 rue A", "75001 Paris"]}}
    with db.transaction() as session:
        letters.record(session, "access_letter", access, "key-1", None, 900, "ABCD-EFGH-JKMN-PQRS")
    record(db, recalculated(), "K7QH-3MZP-XW9C-T4RB")  # drawn at issue: content kept
    issued = deferred.issue("payment_schedule", "Échéancier 2026", 2026,
                            lambda v: {**schedule(), "verification": v}, b"key", "http://x")
    with db.transaction() as session:
        issuing.insert_document(session, issued, file_number="1234567", correlation_id="c",
                                source_key="deferred-1", issued_on=date(2026, 11, 28),
                                initials="C. M.")
    with db.transaction() as session:
        assert deferred.pending_ids(session, 100) == [issued.document_id]
        assert session.scalar(select(func.count()).select_from(Document)
                              .where(Document.snapshot.is_(None))) == 2


def test_letters_are_recorded_once_per_issue_key_and_access_letters_supersede(db):
    """``letters.record`` writes Core statements: a kept letter is found by its
    issue key (its SHA-256), a second one under the same key is refused by the
    unique source key, and an access letter (content never kept) supersedes
    the member's previous access letter only."""
    from sqlalchemy.exc import IntegrityError

    from services.documents import letters

    member = {"full_name": "Claire Martin", "first_name": "Claire", "last_name": "Martin",
              "address_lines": ["1 rue A", "75001 Paris"]}
    notice = {"file_number": "1234567", "issued_on": "2026-11-28", "member": member,
              "subject": "Un nouveau document est disponible"}
    with db.transaction() as session:
        assert letters.kept_sha256(session, "notif-1") is None
        notice_id = letters.record(session, "notification_letter", notice, "notif-1",
                                   "a" * 64, 1200, "AAAA-BBBB-CCCC-DDDD")
    with db.transaction() as session:
        assert letters.kept_sha256(session, "notif-1") == "a" * 64
        assert letters.kept_sha256(session, "notif-2") is None
    with pytest.raises(IntegrityError):
        with db.transaction() as session:
            letters.record(session, "notification_letter", notice, "notif-1", "b" * 64, 1300,
                           "EEEE-FFFF-GGGG-HHHH")
    access = {"file_number": "1234567", "issued_on": "2026-11-28", "member": member}
    with db.transaction() as session:
        first = letters.record(session, "access_letter", access, "reset-1", "c" * 64, 900,
                               "JJJJ-KKKK-MMMM-NNNN")
    with db.transaction() as session:
        second = letters.record(session, "access_letter", access, "reset-1", None, 900,
                                "PPPP-QQQQ-RRRR-SSSS")
        assert letters.kept_sha256(session, "reset-1") is None  # nothing of it is kept
    with db.transaction() as session:
        rows = {d.id: d for d in session.scalars(select(Document))}
    assert rows[first].superseded_by == second and rows[second].superseded_by is None
    assert rows[first].sha256 is None  # a secret-bearing letter's hash is never stored
    assert rows[notice_id].superseded_by is None and rows[notice_id].sha256 == "a" * 64
    assert rows[notice_id].title == "Un nouveau document est disponible"
    assert rows[notice_id].source_event_id == "letter:notif-1"
    assert rows[notice_id].member_initials == rows[second].member_initials == "C. M."
    assert rows[notice_id].snapshot is None and rows[notice_id].verification_hash
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Document)
                              .where(Document.snapshot.is_(None))) == 3
