"""Each service's migrations build the schema its models describe, and the
documents' supersede step is planned on its index even before PostgreSQL has
statistics of the table (docs/benchmarks.md, fifth run)."""
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from carpimko import migrations
from services.accounts.models import Base as AccountsBase
from services.contributions.models import Base as ContributionsBase
from services.documents import issuing
from services.documents.models import Base as DocumentsBase
from services.messaging.models import Base as MessagingBase
from services.notifications.models import Base as NotificationsBase

MODELS = {"accounts": AccountsBase, "contributions": ContributionsBase,
          "documents": DocumentsBase, "notifications": NotificationsBase,
          "messaging": MessagingBase}


@pytest.mark.parametrize("service", sorted(MODELS))
def test_the_migrated_schema_is_the_models_schema(databases, service):
    engine = create_engine(databases.url(service))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection),
                                           MODELS[service].metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_the_index_of_current_documents_goes_down_and_up_again(databases):
    url = databases.url("documents")
    command.downgrade(migrations.alembic_config("documents", url), "0004")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection),
                                           DocumentsBase.metadata)
        assert [d[0] for d in differences] == ["add_index"]
        assert differences[0][1].name == "ix_documents_current"
        migrations.upgrade("documents", url)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection),
                                    DocumentsBase.metadata) == []
    finally:
        engine.dispose()


def _scans_of_documents(plan: dict):
    """Every node of an EXPLAIN (FORMAT JSON) plan reading ``documents``."""
    if plan.get("Relation Name") == "documents" or plan.get("Index Name", "").startswith(
            ("ix_documents", "documents_")):
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans_of_documents(child)


@pytest.mark.parametrize("statistics", ["none", "taken while the table was small"])
def test_a_batch_supersedes_only_its_members_documents_whatever_the_statistics(
        databases, statistics):
    """40,000 documents written after the last ANALYZE (or with none), as in
    the first minutes of a campaign on a fresh deployment: the batch's UPDATE
    must read the batch's members' documents only. It used to hash-join the
    batch to every (current) document, once per batch: 39 ms at 80,000."""
    url = databases.url("documents")
    if not url.startswith("postgresql"):
        pytest.skip("a PostgreSQL plan")
    engine = create_engine(url)
    insert_documents = text(
        "INSERT INTO documents (id, file_number, kind, title, year, correlation_id, "
        "source_event_id, media_type, issued_on, created_at) "
        "SELECT gen_random_uuid()::text, (3000000 + n / 4)::text, "
        "CASE n % 4 WHEN 0 THEN 'statement' WHEN 1 THEN 'schedule' "
        "WHEN 2 THEN 'regularisation' ELSE 'certificate' END, 't', 2025, 'c', "
        "gen_random_uuid()::text, 'application/pdf', CURRENT_DATE, now() "
        "FROM generate_series(:first, :last) AS n")
    try:
        with engine.begin() as connection:
            if statistics != "none":
                connection.execute(insert_documents, {"first": 0, "last": 7})
        if statistics != "none":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE documents"))
        with engine.begin() as connection:
            connection.execute(insert_documents, {"first": 8, "last": 39999})
            keys = {(str(3002000 + n * 97), "statement", 2025): str(uuid.uuid4())
                    for n in range(50)}
            params = {}
            for n, ((file_number, kind, year), document_id) in enumerate(keys.items()):
                params.update({f"f{n}": file_number, f"k{n}": kind, f"y{n}": year,
                               f"d{n}": document_id})
            statement = issuing._supersede_statement(len(keys))
            plan = connection.execute(text("EXPLAIN (FORMAT JSON) " + statement.text),
                                      params).scalar()[0]["Plan"]
            scans = list(_scans_of_documents(plan))
            assert scans, plan
            for scan in scans:
                assert scan["Node Type"] != "Seq Scan", plan
                if scan["Node Type"] in ("Index Scan", "Bitmap Index Scan"):
                    assert "file_number" in scan.get("Index Cond", ""), plan
            connection.execute(statement, params)
            superseded = connection.scalar(text(
                "SELECT count(*) FROM documents WHERE superseded_by IS NOT NULL"))
            assert superseded == 50
    finally:
        engine.dispose()


def test_an_interrupted_build_of_the_index_is_built_again(databases):
    """A concurrent build that was interrupted leaves an invalid index; the
    migration run again replaces it with a valid one."""
    url = databases.url("documents")
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL's concurrent index builds")
    command.downgrade(migrations.alembic_config("documents", url), "0004")
    engine = create_engine(url)
    validity = text("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = 'ix_documents_current'")
    try:
        with engine.begin() as connection:  # what an interrupted build leaves
            connection.execute(text("CREATE INDEX ix_documents_current ON documents "
                                    "(file_number, kind, year) WHERE superseded_by IS NULL"))
            connection.execute(text(
                "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
                "'ix_documents_current'::regclass"))
        with engine.connect() as connection:
            assert connection.scalar(validity) is False
        migrations.upgrade("documents", url)
        with engine.connect() as connection:
            assert connection.scalar(validity) is True
    finally:
        engine.dispose()
