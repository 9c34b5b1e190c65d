"""A declaration's progress through the chain (gateway/progress.py)."""
from gateway.progress import STEPS, declaration_progress, is_complete

DECLARATION = {"id": "decl-1", "declared_at": "2026-11-28T13:05:00+00:00",
               "assessment": {"computed_at": "2026-11-28T13:05:01+00:00", "total": "9126.00"}}
STATEMENT = {"id": "doc-1", "kind": "contribution_statement",
             "created_at": "2026-11-28T13:05:02+00:00"}
NOTICE = {"id": "n-1", "channel": "email", "document_id": "doc-1",
          "sent_at": "2026-11-28T13:05:03+00:00"}


def test_complete_chain():
    steps = declaration_progress(DECLARATION, [STATEMENT], [NOTICE])
    assert steps == [
        {"step": "declared", "done": True, "at": "2026-11-28T13:05:00+00:00"},
        {"step": "contributions_recalculated", "done": True, "at": "2026-11-28T13:05:01+00:00",
         "total": "9126.00"},
        {"step": "document_generated", "done": True, "at": "2026-11-28T13:05:02+00:00",
         "document_id": "doc-1"},
        {"step": "member_notified", "done": True, "at": "2026-11-28T13:05:03+00:00",
         "channel": "email"},
    ]
    assert [s["step"] for s in steps] == list(STEPS)
    assert is_complete(steps) is True


def test_only_declared():
    steps = declaration_progress({"declared_at": "2026-11-28T13:05:00+00:00",
                                  "assessment": None}, [], [])
    assert [s["done"] for s in steps] == [True, False, False, False]
    assert steps[1] == {"step": "contributions_recalculated", "done": False, "at": None,
                        "total": None}
    assert steps[2] == {"step": "document_generated", "done": False, "at": None,
                        "document_id": None}
    assert steps[3] == {"step": "member_notified", "done": False, "at": None, "channel": None}
    assert is_complete(steps) is False


def test_missing_assessment_key():
    steps = declaration_progress({"declared_at": "x"}, [], [])
    assert steps[1]["done"] is False


def test_other_kinds_of_document_do_not_count():
    other = {"id": "doc-0", "kind": "payment_schedule", "created_at": "x"}
    steps = declaration_progress(DECLARATION, [other], [])
    assert steps[2]["done"] is False
    assert [s["done"] for s in steps] == [True, True, False, False]


def test_statement_found_among_other_documents():
    other = {"id": "doc-0", "kind": "payment_schedule", "created_at": "x"}
    steps = declaration_progress(DECLARATION, [other, STATEMENT], [])
    assert steps[2]["document_id"] == "doc-1"
    assert steps[3]["done"] is False
    assert is_complete(steps) is False


def test_notification_of_another_document_does_not_count():
    elsewhere = {**NOTICE, "document_id": "doc-0"}
    steps = declaration_progress(DECLARATION, [STATEMENT], [elsewhere])
    assert steps[3] == {"step": "member_notified", "done": False, "at": None, "channel": None}


def test_notification_of_the_statement_is_found_among_others():
    elsewhere = {**NOTICE, "id": "n-0", "document_id": "doc-0", "channel": "email"}
    by_post = {**NOTICE, "channel": "post", "sent_at": "2026-11-29T08:00:00+00:00"}
    steps = declaration_progress(DECLARATION, [STATEMENT], [elsewhere, by_post])
    assert steps[3] == {"step": "member_notified", "done": True,
                        "at": "2026-11-29T08:00:00+00:00", "channel": "post"}


def test_is_complete_needs_every_step():
    steps = declaration_progress(DECLARATION, [STATEMENT], [NOTICE])
    steps[2]["done"] = False
    assert is_complete(steps) is False
    assert is_complete([]) is True


def test_the_statement_of_the_declared_year_is_followed_when_the_next_year_is_adjusted_too():
    from gateway.progress import declaration_progress
    declaration = {"year": 2025, "declared_at": "2026-06-01T10:00:00+00:00",
                   "assessment": {"computed_at": "2026-06-01T10:00:01+00:00", "total": "7816.62"}}
    documents = [
        {"id": "d-2026", "kind": "contribution_statement", "year": 2026, "created_at": "2026-06-01T10:00:02+00:00"},
        {"id": "d-2025", "kind": "contribution_statement", "year": 2025, "created_at": "2026-06-01T10:00:03+00:00"},
    ]
    notifications = [{"document_id": "d-2025", "channel": "post", "sent_at": "2026-06-01T10:00:04+00:00"}]
    steps = declaration_progress(declaration, documents, notifications)
    assert steps[2]["document_id"] == "d-2025" and steps[3]["done"]
