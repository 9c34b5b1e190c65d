"""End to end: the whole suite started with the single-host runner, driven over
HTTP and the batch command; outcomes checked at the real SMTP server, in the
postal output and in the PDFs."""
from __future__ import annotations

import email
import io
from email import policy

import pytest
import requests
from pypdf import PdfReader

from carpimko.broker import EventPublisher
from ops.demo_data import DEMO_PASSWORD
from tests.support import factories
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def login(suite, file_number):
    s = requests.Session()
    r = s.post(f"{suite.url}/api/v1/session",
               json={"file_number": file_number, "password": DEMO_PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return s


def pdf_text(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def declare_and_wait(suite, s, body):
    r = s.post(f"{suite.url}/api/v1/declarations", json=body, timeout=10)
    assert r.status_code == 202, r.text
    url = f"{suite.url}{r.headers['Location']}"
    return wait_for(lambda: (lambda d: d if d["complete"] else None)(s.get(url, timeout=10).json()),
                    timeout=60, message="the declaration to go through the chain")


def statements_expected(suite, s, year: int) -> int:
    """How many statements a declaration of ``year`` gives (domain.md §3.3): the regularisation of ``year``,
    plus the adjusted call of ``year + 1`` when that is the current year and not regularised yet."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    if year + 1 != datetime.now(ZoneInfo("Europe/Paris")).year:
        return 1
    r = s.get(f"{suite.url}/api/v1/contributions/{year + 1}", timeout=10)
    return 1 if r.status_code == 200 and r.json()["status"] == "regularised" else 2


def test_member_with_email_declares_and_is_told_by_email(suite):
    s = login(suite, "1234567")
    before = len(suite.mails())
    done = declare_and_wait(suite, s, {"year": 2026, "professional_income": "40000.00",
                                       "conventioned_income": "40000.00"})
    steps = {step["step"]: step for step in done["steps"]}
    assert steps["member_notified"]["channel"] == "email"
    mails = wait_for(lambda: suite.mails() if len(suite.mails()) == before + 1 else None)
    mail = email.message_from_bytes(mails[-1].read_bytes(), policy=policy.default)
    assert mail["To"] == "claire.martin@example.fr"
    assert "nouveau document" in mail["Subject"]
    assert "9126" not in mail.as_string() and "9 126" not in mail.as_string()

    document_id = steps["document_generated"]["document_id"]
    pdf = s.get(f"{suite.url}/api/v1/documents/{document_id}/content", timeout=10)
    assert pdf.status_code == 200
    text = pdf_text(pdf.content)
    assert "1234567" in text
    assert "9 126,00" in text
    # nobody else can download it
    other = login(suite, "7654321")
    assert other.get(f"{suite.url}/api/v1/documents/{document_id}/content").status_code == 404


def test_member_without_email_gets_a_letter(suite):
    s = login(suite, "7654321")
    before = len(suite.letters())
    calls = statements_expected(suite, s, 2025)
    done = declare_and_wait(suite, s, {"year": 2025, "professional_income": "52000",
                                       "conventioned_income": "50000"})
    assert done["steps"][-1]["channel"] == "post"
    letters = wait_for(lambda: suite.letters() if len(suite.letters()) == before + 1 else None)
    text = pdf_text(letters[-1].read_bytes())
    assert "7654321" in text and "DUPONT" in text.upper() and "Brest".upper() in text.upper()
    # one declaration, one letter: the 2026 call the declaration adjusted is announced in it
    assert "Relevé de cotisations 2025" in text
    assert ("Relevé de cotisations 2026" in text) == (calls == 2)
    import time
    time.sleep(2)  # give a second letter every chance to show up
    assert len(suite.letters()) == before + 1


def test_the_same_event_twice_gives_one_document_and_one_email(suite):
    s = login(suite, "1234567")
    mails_before = len(suite.mails())
    expected = statements_expected(suite, s, 2025)
    event = factories.income_declared("1234567", year=2025, income="39000.00",
                                      conventioned="39000.00")
    publisher = EventPublisher(suite.amqp_uri)
    publisher.publish(event)
    publisher.publish(event)
    publisher.close()
    url = f"{suite.url}/api/v1/declarations/{event['payload']['declaration_id']}"
    wait_for(lambda: s.get(url).status_code == 200 and s.get(url).json()["complete"], timeout=60)
    def chain_documents():
        return sorted((d["kind"], d["year"]) for d in
                      s.get(f"{suite.url}/api/v1/documents").json()["items"]
                      if d["correlation_id"] == event["correlation_id"])

    def statements():
        return [d for d in chain_documents() if d[0] == "contribution_statement"]
    # a statement per call issued (the 2025 regularisation, and the 2026 adjusted call when
    # 2026 is not regularised yet), the notice (39,000 replaces the demo's 39,800) and the
    # respread schedules; never two of a kind for a year, one email for the declaration
    wait_for(lambda: len(statements()) >= expected
             and ("regularisation_notice", 2025) in chain_documents(), timeout=60)
    wait_for(lambda: len(suite.mails()) >= mails_before + 1)
    import time
    time.sleep(2)  # give a duplicate every chance to show up
    assert len(suite.mails()) == mails_before + 1
    body = email.message_from_bytes(suite.mails()[-1].read_bytes(), policy=policy.default)
    told = body.get_body(("plain",)).get_content()
    assert "Relevé de cotisations 2025" in told and "Avis de régularisation 2025" in told
    assert ("Relevé de cotisations 2026" in told) == (expected == 2)
    documents = chain_documents()
    assert len(documents) == len(set(documents)), documents
    assert sorted(year for _, year in statements()) == [2025, 2026][:expected]


def test_batch_import_reports_bad_rows_and_feeds_the_chain(suite, tmp_path):
    csv_file = tmp_path / "declarations.csv"
    csv_file.write_text(
        "file_number,year,professional_income,conventioned_income\n"
        "1234567,2024,\"38 500,00\",38500\n"
        "7654321,2024,51000,49000\n"
        "12345,2024,1000,\n"
        "1234567,2026,abc,\n"
        "1234567,2026,45000.50,\n", encoding="utf-8")
    mails, letters = len(suite.mails()), len(suite.letters())
    result = suite.carpimko("declarations", "import", str(csv_file), "--no-progress")
    assert result.returncode == 2, result.stderr
    assert "line 4: file_number '12345' must be 7 or 9 digits" in result.stderr
    assert "line 5: professional_income 'abc' is not an amount" in result.stderr
    assert "3 declaration(s) published, 2 rejected" in result.stdout
    wait_for(lambda: len(suite.mails()) == mails + 2 and len(suite.letters()) == letters + 1,
             timeout=60, message="2 emails and 1 letter")
    # importing the same file again changes nothing
    again = suite.carpimko("declarations", "import", str(csv_file), "--no-progress")
    assert again.returncode == 2
    import time
    time.sleep(2)
    assert len(suite.mails()) == mails + 2 and len(suite.letters()) == letters + 1


def test_operations_close_the_print_batch_with_the_cli(suite):
    s = login(suite, "7654321")
    declare_and_wait(suite, s, {"year": 2024, "professional_income": "50000",
                                "conventioned_income": None})
    listing = suite.carpimko("letters", "list")
    assert listing.returncode == 0, listing.stderr
    waiting = int(listing.stdout.split(" letter(s) waiting")[0])
    assert waiting >= 1
    closed = suite.carpimko("letters", "close")
    assert closed.returncode == 0, closed.stderr
    assert f"{waiting} letter(s)" in closed.stdout
    batch_id = closed.stdout.split("batch ")[1].split(" closed")[0]
    shown = suite.carpimko("letters", "show", batch_id)
    assert "7654321" in shown.stdout and "BREST" in shown.stdout
    assert "0 letter(s) waiting" in suite.carpimko("letters", "list").stdout


def test_the_runner_starts_a_local_franceconnect_provider(suite):
    """make run offers FranceConnect against a local provider behaving like v2."""
    r = requests.get(f"{suite.url}/franceconnect", allow_redirects=False, timeout=10)
    assert r.status_code in (302, 303), r.text
    location = r.headers["Location"]
    assert location.startswith(f"http://127.0.0.1:{suite.franceconnect_port}/api/v2/authorize")
    assert "acr_values=eidas1" in location and "nonce=" in location and "state=" in location
    discovery = requests.get(f"http://127.0.0.1:{suite.franceconnect_port}/api/v2/"
                             ".well-known/openid-configuration", timeout=10).json()
    assert "ES256" in discovery["id_token_signing_alg_values_supported"]
