"""Documents rendered on first read (services/documents/deferred.py): the
derived verification code, the snapshot taken at issue, and that rendering it
gives the same bytes every time."""
from __future__ import annotations

import copy
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from carpimko.errors import DocumentUnavailable
from services.documents import deferred, rendering
from services.documents.domain import verification

KEY = b"unit-tests-verification-key"
PUBLIC_URL = "https://espace.carpimko.test"
ROOT = Path(__file__).resolve().parents[3]
MEMBER = {"full_name": "Mme Claire MARTIN", "address_lines": ["12 rue des Lilas", "69003 LYON"]}


def statement(verification_block=None) -> dict:
    return {
        "file_number": "1234567", "member": copy.deepcopy(MEMBER), "year": 2026,
        "status": "regularised", "issued_on": "2026-11-28", "income_used": "40000.00",
        "income_declared": True,
        "lines": [{"scheme": "rb_t1", "label": "Régime de base – tranche 1", "base": "40000.00",
                   "rate": "8.73", "fixed": "0.00", "amount": "3492.00"},
                  {"scheme": "id", "label": "Invalidité-décès", "base": None, "rate": None,
                   "fixed": "1022.00", "amount": "1022.00"}],
        "total": "4514.00", "previous_total": None, "parameters_version": "2026.1",
        "notes": ["Vos revenus 2026 ont été déclarés le 12/05/2026."],
        "basis": "income", "income_year": 2026, "changes": None,
        "verification": verification_block,
    }


def schedule(verification_block=None) -> dict:
    return {"file_number": "1234567", "member": copy.deepcopy(MEMBER), "issued_on": "2026-11-28",
            "verification": verification_block, "year": 2026, "frequency": "quarterly",
            "instalments": [{"due_on": f"2026-{m:02d}-05", "amount": "1128.50"}
                            for m in (2, 5, 8, 11)],
            "total": "4514.00", "credit": "0.00", "previous_total": None}


def regularisation(verification_block=None) -> dict:
    return {"file_number": "1234567", "member": copy.deepcopy(MEMBER), "issued_on": "2026-11-28",
            "verification": verification_block, "year": 2025, "income_used": "40000.00",
            "regularised_lines": [{"label": "Régime de base", "amount": "3492.00"},
                                  {"label": "Invalidité-décès", "amount": "1022.00"}],
            "provisional_total": "4000.00", "regularised_total": "4514.00", "balance": "514.00"}


KINDS = {"contribution_statement": statement, "payment_schedule": schedule,
         "regularisation_notice": regularisation}


def pending_of(issued) -> deferred.Pending:
    """What the service reads back from the row ``issued`` is recorded as."""
    return deferred.Pending(issued.document_id, issued.kind, issued.snapshot,
                            issued.layout_version,
                            verification.code_hash(verification.canonical(issued.verification_code)))


# -- the derived verification code ---------------------------------------------------------------

def test_derived_code_is_a_well_formed_code_fixed_by_the_key_and_the_id():
    code = verification.derived_code(KEY, "5f0c2d1e-0000-4000-8000-000000000001")
    assert verification.canonical(code) is not None and len(code) == 19 and code.count("-") == 3
    assert code == verification.derived_code(KEY, "5f0c2d1e-0000-4000-8000-000000000001")
    assert code != verification.derived_code(KEY, "5f0c2d1e-0000-4000-8000-000000000002")
    assert code != verification.derived_code(b"another key", "5f0c2d1e-0000-4000-8000-000000000001")
    assert verification.canonical(code.lower().replace("-", " ")) == code.replace("-", "")


def test_derived_codes_spread_over_the_whole_alphabet():
    codes = [verification.canonical(verification.derived_code(KEY, f"id-{n}")) for n in range(400)]
    assert len(set(codes)) == 400
    assert set("".join(codes)) == set(verification.ALPHABET)


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="key"):
        verification.derived_code(b"", "some-id")


# -- the snapshot taken at issue -------------------------------------------------------------------

def test_issue_keeps_the_data_without_the_code_and_pins_the_layout():
    seen = []

    def data_of(block):
        seen.append(block)
        return statement(block)

    issued = deferred.issue("contribution_statement", "Relevé de cotisations 2026", 2026, data_of,
                            KEY, PUBLIC_URL)
    code = verification.derived_code(KEY, issued.document_id)
    assert issued.verification_code == code and issued.sha256 is None and issued.size is None
    assert seen == [{"code": code, "url": f"{PUBLIC_URL}/verify/{code}"}]
    assert issued.snapshot == {"public_url": PUBLIC_URL,
                               "data": {k: v for k, v in statement().items()
                                        if k != "verification"}}
    assert code not in repr(issued.snapshot)  # the row never holds the code
    assert issued.layout_version == rendering.LAYOUT_VERSION


def test_issue_refuses_data_the_renderer_would_refuse():
    bad = lambda block: {**schedule(block), "total": "1.00"}  # instalments do not add up
    with pytest.raises(ValueError, match="payment schedule: 'total"):
        deferred.issue("payment_schedule", "Échéancier de paiement 2026", 2026, bad, KEY, PUBLIC_URL)
    missing = lambda block: {k: v for k, v in statement(block).items() if k != "lines"}
    with pytest.raises(ValueError, match="missing required key 'lines'"):
        deferred.issue("contribution_statement", "Relevé", 2026, missing, KEY, PUBLIC_URL)


def test_issue_refuses_a_kind_without_data_checks():
    with pytest.raises(KeyError):
        deferred.issue("access_letter", "Courrier", None, lambda b: {}, KEY, PUBLIC_URL)


# -- rendering on first read -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_rendering_a_snapshot_gives_the_same_bytes_every_time(kind):
    issued = deferred.issue(kind, "t", 2026, KINDS[kind], KEY, PUBLIC_URL)
    first = deferred.render(pending_of(issued), KEY)
    second = deferred.render(pending_of(issued), KEY)
    assert first == second and first.startswith(b"%PDF-")
    # and exactly the PDF the data would have given rendered at issue
    code = issued.verification_code
    at_issue = rendering.RENDERERS[kind](KINDS[kind]({"code": code,
                                                      "url": f"{PUBLIC_URL}/verify/{code}"}))
    assert first == at_issue
    assert code.encode() in first or code in _text(first)


def _text(pdf: bytes) -> str:
    import io

    from pypdf import PdfReader
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_another_process_renders_the_same_bytes():
    """Another copy of the service (its own font caches, hash seed, clock)."""
    issued = deferred.issue("contribution_statement", "t", 2026, statement, KEY, PUBLIC_URL)
    here = hashlib.sha256(deferred.render(pending_of(issued), KEY)).hexdigest()
    script = (
        "import hashlib, json, sys; from services.documents import deferred;"
        "p = deferred.Pending(**json.loads(sys.argv[1]));"
        "print(hashlib.sha256(deferred.render(p, sys.argv[2].encode())).hexdigest())")
    import json
    pending = pending_of(issued)
    there = subprocess.run(
        [sys.executable, "-c", script, json.dumps(pending.__dict__), KEY.decode()],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"})
    assert there.stdout.strip() == here


def test_a_snapshot_of_another_layout_version_is_refused(caplog):
    issued = deferred.issue("payment_schedule", "t", 2026, schedule, KEY, PUBLIC_URL)
    pending = pending_of(issued)
    older = deferred.Pending(pending.id, pending.kind, pending.snapshot, "2020.1",
                             pending.verification_hash)
    with pytest.raises(DocumentUnavailable):
        deferred.render(older, KEY)
    assert "issued for layout 2020.1" in caplog.text


def test_a_key_other_than_the_one_it_was_issued_under_is_refused(caplog):
    issued = deferred.issue("payment_schedule", "t", 2026, schedule, KEY, PUBLIC_URL)
    with pytest.raises(DocumentUnavailable):
        deferred.render(pending_of(issued), b"a rotated key")
    assert "verification code is not the one issued" in caplog.text


def test_a_snapshot_the_renderer_refuses_is_a_clear_error(caplog):
    issued = deferred.issue("regularisation_notice", "t", 2025, regularisation, KEY, PUBLIC_URL)
    pending = pending_of(issued)
    broken = {**pending.snapshot, "data": {**pending.snapshot["data"], "balance": "1.00"}}
    with pytest.raises(DocumentUnavailable):
        deferred.render(deferred.Pending(pending.id, pending.kind, broken, pending.layout_version,
                                         pending.verification_hash), KEY)
    assert "regularisation notice: 'balance' is 1.00" in caplog.text


# -- the layout version guard ----------------------------------------------------------------------

#: what LAYOUT_VERSION draws for fixed data: if this test fails, the renderers
#: draw something else for the same data. Bump rendering.LAYOUT_VERSION (and
#: record the new digests here): documents issued under the previous version
#: are refused, never silently redrawn (render them first: render_pending).
LAYOUT_DIGESTS = {
    "2026.1": {
        "contribution_statement": "8a0adfc67a76dd005fa8e170d194fe6499cb40ac6b3c06b5838df36379d26d51",
        "payment_schedule": "396bb34fc744b49be34cb74f9904433e3f48f4cbf9fc66cab8055d9f631bc5f0",
        "regularisation_notice": "cd5670c05e26fbb1a1c88a614f447160ac875366bdf7a0ea8ce91602f1df0e10",
    },
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_layout_version_is_bumped_when_what_is_drawn_changes(kind):
    document_id = "5f0c2d1e-0000-4000-8000-00000000000a"
    code = verification.derived_code(KEY, document_id)
    data = KINDS[kind]({"code": code, "url": f"{PUBLIC_URL}/verify/{code}"})
    digest = hashlib.sha256(rendering.RENDERERS[kind](data)).hexdigest()
    assert LAYOUT_DIGESTS[rendering.LAYOUT_VERSION][kind] == digest, (
        f"the {kind} drawn for the same data changed: bump rendering.LAYOUT_VERSION")
