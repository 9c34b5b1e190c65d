"""Documents rendered on first read, with the real services, gateway, RabbitMQ
and database: the chain issues them without any PDF on disk; the first read
(member download, advisor, verification) renders and stores, later reads
serve the same bytes; many first readers at once on two copies of the
service get the same bytes and one file; a document that cannot be drawn as
issued is a clear error to the reader."""
from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from pathlib import Path

import eventlet
import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import update

from carpimko.db import Database
from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.documents.domain import verification
from services.documents.models import Document
from services.documents.service import DocumentsService
from tests.integration.test_documents_chain import documents
from tests.support import bus, factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def suite(container_factory, make_config):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", first_name="Claire",
                         last_name="Martin")
    container_factory(AccountsService, accounts).start()
    config = make_config("documents")
    container_factory(DocumentsService, config).start()
    container_factory(DocumentsService, config).start()  # a second copy of the service
    port = free_port()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")).start()
    return {"documents": config, "base": f"http://127.0.0.1:{port}"}


def stored_files(config) -> list[Path]:
    root = Path(config["DATA_DIR"]) / "documents"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def issue_declaration(config) -> dict[str, Document]:
    """A regularising declaration's three documents, issued (not read)."""
    chain = str(uuid.uuid4())
    recalculated = factories.contributions_recalculated("1234567", chain,
                                                        previous_total="8000.00")
    schedule = factories.schedule_changed("1234567", chain, version=2, previous_total="8000.00")
    bus.publish(config["AMQP_URI"], recalculated, schedule)
    rows = wait_for(lambda: documents(config) if len(documents(config)) == 3 else None)
    return {row.kind: row for row in rows}


def code_of(config, document_id: str) -> str:
    return verification.derived_code(config["VERIFICATION_KEY"].encode(), document_id)


def login(base):
    session = requests.Session()
    r = session.post(f"{base}/api/v1/session",
                     json={"file_number": "1234567", "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return session


def test_the_chain_issues_without_pdfs_and_the_first_download_renders_and_stores(suite):
    config, base = suite["documents"], suite["base"]
    docs = issue_declaration(config)
    assert stored_files(config) == []
    assert all(d.sha256 is None and d.size is None and d.snapshot for d in docs.values())
    member = login(base)
    page = member.get(f"{base}/documents")
    assert page.status_code == 200 and "Relevé de cotisations 2026" in page.text
    assert "&nbsp;Ko" not in page.text  # no size before the first read
    listed = member.get(f"{base}/api/v1/documents").json()["items"]
    assert {d["sha256"] for d in listed} == {None} and {d["size"] for d in listed} == {None}

    statement = docs["contribution_statement"]
    first = member.get(f"{base}/documents/{statement.id}")
    assert first.status_code == 200 and first.content.startswith(b"%PDF-")
    digest = hashlib.sha256(first.content).hexdigest()
    assert first.headers["X-Content-SHA256"] == digest
    assert [p.name for p in stored_files(config)] == [digest]
    row = {d.id: d for d in documents(config)}[statement.id]
    assert row.sha256 == digest and row.size == len(first.content)
    assert row.snapshot == statement.snapshot  # the snapshot is never edited
    second = member.get(f"{base}/api/v1/documents/{statement.id}/content")
    assert second.status_code == 200 and second.content == first.content
    assert len(stored_files(config)) == 1  # the others are still unread
    page = member.get(f"{base}/documents")
    assert page.text.count("&nbsp;Ko") == 1
    # the code printed on it is the one derived from the key and the id
    assert code_of(config, statement.id).encode() in first.content or \
        code_of(config, statement.id) in _text(first.content)


def _text(pdf: bytes) -> str:
    import io

    from pypdf import PdfReader
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)


def test_verification_before_and_after_the_first_read(suite):
    config, base = suite["documents"], suite["base"]
    docs = issue_declaration(config)
    notice, plan = docs["regularisation_notice"], docs["payment_schedule"]
    # a code nobody has read yet is genuine: verifying it draws the document first
    code = code_of(config, notice.id)
    api = requests.get(f"{base}/api/v1/verifications/{code}").json()
    assert api["found"] is True and api["kind"] == "regularisation_notice"
    assert api["sha256"] is not None and len(stored_files(config)) == 1
    download = login(base).get(f"{base}/documents/{notice.id}")
    assert hashlib.sha256(download.content).hexdigest() == api["sha256"]
    assert code in _text(download.content)
    after = requests.get(f"{base}/api/v1/verifications/{code}").json()
    assert after == api and len(stored_files(config)) == 1
    page = requests.get(f"{base}/verify/{code}")
    assert "Document authentique" in page.text and api["sha256"] in page.text

    # comparing a copy of a document never read: drawn first, then compared
    plan_code = code_of(config, plan.id)
    forged = download.content.replace(b"/Title", b"/Titre", 1)
    r = requests.post(f"{base}/verify/{plan_code}",
                      files={"copie": ("echeancier.pdf", forged, "application/pdf")})
    assert r.status_code == 200 and "Votre copie ne correspond pas à l'original" in r.text
    row = {d.id: d for d in documents(config)}[plan.id]
    assert row.sha256 is not None and row.sha256 in r.text
    genuine = login(base).get(f"{base}/documents/{plan.id}").content
    same = requests.post(f"{base}/verify/{plan_code}",
                         files={"copie": ("echeancier.pdf", genuine, "application/pdf")})
    assert "Votre copie est identique à l'original" in same.text


def test_concurrent_first_reads_on_two_copies_give_the_same_bytes_and_one_file(suite):
    config = suite["documents"]
    statement = issue_declaration(config)["contribution_statement"]

    def read(_):
        with ServiceRpcProxy("documents", config) as rpc:
            return rpc.get_content("1234567", statement.id)

    results = list(eventlet.GreenPool(8).imap(read, range(8)))
    contents = {base64.b64decode(r["content_base64"]) for r in results}
    assert len(contents) == 1
    digest = hashlib.sha256(contents.pop()).hexdigest()
    assert {r["sha256"] for r in results} == {digest}
    assert [p.name for p in stored_files(config)] == [digest]
    row = {d.id: d for d in documents(config)}[statement.id]
    assert row.sha256 == digest


def test_render_pending_renders_what_was_never_read(suite):
    config = suite["documents"]
    docs = issue_declaration(config)
    with ServiceRpcProxy("documents", config) as rpc:
        assert rpc.render_pending(2) == 2
        assert rpc.render_pending(100) == 1
        assert rpc.render_pending(100) == 0
    rows = documents(config)
    assert all(r.sha256 and r.size for r in rows) and len(stored_files(config)) == 3
    assert {r.id for r in rows} == {d.id for d in docs.values()}


def test_the_operators_command_draws_every_unread_document_a_batch_at_a_time(suite):
    import io

    from ops import documents_ops

    config = suite["documents"]
    issue_declaration(config)
    out = io.StringIO()
    assert documents_ops.render_pending(config["AMQP_URI"], batch=2, out=out) == 3
    assert "done: 3 document(s) drawn; none left unread" in out.getvalue()
    assert all(r.sha256 for r in documents(config)) and len(stored_files(config)) == 3
    assert documents_ops.render_pending(config["AMQP_URI"], batch=2, out=io.StringIO()) == 0
    with pytest.raises(ValueError, match="--batch"):
        documents_ops.render_pending(config["AMQP_URI"], batch=0)


def test_a_document_that_cannot_be_drawn_as_issued_is_a_clear_error(suite, caplog):
    config, base = suite["documents"], suite["base"]
    statement = issue_declaration(config)["contribution_statement"]
    # as if it had been issued by a layout this service no longer draws
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        session.execute(update(Document).where(Document.id == statement.id)
                        .values(layout_version="2020.1"))
    db.dispose()
    member = login(base)
    with caplog.at_level(logging.ERROR):
        page = member.get(f"{base}/documents/{statement.id}")
        api = member.get(f"{base}/api/v1/documents/{statement.id}/content")
    assert page.status_code == 500
    assert "Ce document ne peut pas être affiché pour le moment" in page.text
    assert api.status_code == 500 and api.json()["error"]["code"] == "document_unavailable"
    assert "issued for layout 2020.1" in caplog.text
    assert stored_files(config) == []



def test_documents_issued_before_the_migration_keep_their_stored_pdf(container_factory, make_config,
                                                                      databases):
    """A database at 0003 with a document rendered at issue, then migrated: it is
    served from its stored copy, never redrawn; a downgrade with unread documents
    is refused rather than losing them."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from carpimko import migrations
    from services.documents.storage import FilesystemStore

    url = databases.url("documents", migrate=False)
    migrations.upgrade("documents", url, "0003")
    config = make_config("documents")
    assert config["DATABASE_URL"] == url
    pdf = b"%PDF-1.4 an old statement, rendered at issue\n%%EOF\n"
    digest = FilesystemStore(Path(config["DATA_DIR"]) / "documents").put(pdf)
    old_id = str(uuid.uuid4())
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO documents (id, file_number, kind, title, year, correlation_id, "
            "source_event_id, sha256, size, media_type, issued_on, created_at) VALUES "
            "(:id, '1234567', 'contribution_statement', 'Relevé de cotisations 2025', 2025, "
            "'c-old', 'e-old', :sha256, :size, 'application/pdf', '2025-11-28', "
            "'2025-11-28 10:00:00+00')"), {"id": old_id, "sha256": digest, "size": len(pdf)})
    engine.dispose()
    migrations.upgrade("documents", url)
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", first_name="Claire",
                         last_name="Martin")
    container_factory(AccountsService, accounts).start()
    container_factory(DocumentsService, config).start()
    with ServiceRpcProxy("documents", config) as rpc:
        old = rpc.get_content("1234567", old_id)
        assert base64.b64decode(old["content_base64"]) == pdf and old["sha256"] == digest
        assert rpc.render_pending(10) == 0
    bus.publish(config["AMQP_URI"], factories.contributions_recalculated("1234567"))
    wait_for(lambda: len(documents(config)) == 2)
    with pytest.raises(RuntimeError, match="1 documents are not rendered yet"):
        command.downgrade(migrations.alembic_config("documents", url), "0003")
