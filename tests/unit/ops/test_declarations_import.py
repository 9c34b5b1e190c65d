"""CSV import of income declarations (ops/declarations_import.py), without a broker."""
import io
from decimal import Decimal

import pytest

from carpimko.events import parse_event
from ops import declarations_import as imp
from ops.declarations_import import Rejected, read_declarations, run

YEARS = (2024, 2025, 2026)
HEADER = "file_number,year,professional_income,conventioned_income\n"


def write(tmp_path, body: str, header: str = HEADER, name="decl.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes((header + body).encode(encoding))
    return path


def items(path):
    return [(line, item) for line, _digest, item in read_declarations(path, YEARS)]


def rejected_reasons(path):
    return {line: item.reason for line, item in items(path) if isinstance(item, Rejected)}


def dry_run(path):
    return run(str(path), "amqp://unused", YEARS, dry_run=True, progress=False,
               out=io.StringIO())


def test_good_rows(tmp_path):
    path = write(tmp_path, "1234567,2026,40000,40000\n"
                           "123456789,2025,12543.66,\n"
                           " 7654321 , 2024 , 0 , 0 \n")
    assert items(path) == [
        (2, {"file_number": "1234567", "year": 2026, "professional_income": Decimal("40000"),
             "conventioned_income": Decimal("40000")}),
        (3, {"file_number": "123456789", "year": 2025,
             "professional_income": Decimal("12543.66"), "conventioned_income": None}),
        (4, {"file_number": "7654321", "year": 2024, "professional_income": Decimal("0"),
             "conventioned_income": Decimal("0")}),
    ]
    assert dry_run(path) == (3, [])


def test_bad_rows_are_reported_with_line_and_field(tmp_path):
    path = write(tmp_path,
                 "1234567,2026,40000,30000\n"      # 2 good
                 "123456,2026,40000,\n"            # 3 file number
                 "1234567,2031,40000,\n"           # 4 unknown year
                 "1234567,2026,quarante mille,\n"  # 5 not numeric
                 "1234567,2026,30000,40000\n"      # 6 conventioned > professional
                 "1234567,2026,40000.125,\n"       # 7 three decimals
                 "1234567,2026,,\n"                # 8 missing income
                 "1234567,2026,-5,\n"              # 9 negative
                 "1234567,2026,100000000,\n"       # 10 too large
                 "1234567,2026,40000,0,oops\n"     # 11 too many fields
                 "1234567,2026,40000,10.001\n"     # 12 three decimals, conventioned
                 "1234567,twenty,40000,\n"         # 13 year not a number
                 "1234567,2026,40000,40000\n")     # 14 good
    reasons = rejected_reasons(path)
    assert reasons == {
        3: "file_number '123456' must be 7 or 9 digits",
        4: "year '2031' is not one of 2024, 2025, 2026",
        5: "professional_income 'quarante mille' is not an amount",
        6: "conventioned_income cannot exceed professional_income",
        7: "professional_income has more than two decimals: '40000.125'",
        8: "professional_income is required",
        9: "professional_income must be a positive amount, got '-5'",
        10: "professional_income is too large: '100000000'",
        11: "too many fields",
        12: "conventioned_income has more than two decimals: '10.001'",
        13: "year 'twenty' is not one of 2024, 2025, 2026",
    }
    assert [line for line, item in items(path) if isinstance(item, dict)] == [2, 14]
    published, rejected = dry_run(path)
    assert published == 2
    assert [(r.line, r.reason) for r in rejected] == sorted(reasons.items())


@pytest.mark.parametrize("number", ["12345678", "1234567890", "12345a7", "", "+123456"])
def test_file_number_variants_rejected(tmp_path, number):
    path = write(tmp_path, f"{number},2026,40000,\n")
    assert rejected_reasons(path) == {2: f"file_number {number!r} must be 7 or 9 digits"}


def test_superscript_digits_are_not_a_file_number(tmp_path):
    path = write(tmp_path, "¹²³⁴⁵⁶⁷,2026,40000,\n")
    assert 2 in rejected_reasons(path)


@pytest.mark.parametrize("raw, amount", [
    ('"40000,50"', Decimal("40000.50")),
    ('"40 000,50"', Decimal("40000.50")),
    ('"40\u00a0000,5"', Decimal("40000.5")),
    ("40000.50", Decimal("40000.50")),
    ("0,01", None),  # unquoted: the comma splits the field
])
def test_decimal_comma(tmp_path, raw, amount):
    path = write(tmp_path, f"1234567,2026,{raw},\n")
    [(line, item)] = items(path)
    if amount is None:
        assert isinstance(item, Rejected)
    else:
        assert item["professional_income"] == amount


def test_quoted_comma_amounts_in_both_columns(tmp_path):
    path = write(tmp_path, '1234567,2026,"12 543,66","10 000,1"\n')
    [(_, item)] = items(path)
    assert (item["professional_income"], item["conventioned_income"]) == (
        Decimal("12543.66"), Decimal("10000.1"))


def test_bom_and_crlf_accepted(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "1234567,2026,40000,\n").replace(
        "\n", "\r\n").encode())
    assert items(path) == [(2, {"file_number": "1234567", "year": 2026,
                                "professional_income": Decimal("40000"),
                                "conventioned_income": None})]
    assert dry_run(path) == (1, [])


def test_header_with_spaces_and_other_order(tmp_path):
    path = write(tmp_path, "40000,,2026,1234567\n",
                 header=" professional_income , conventioned_income ,year, file_number\n")
    assert items(path)[0][1]["file_number"] == "1234567"


def test_blank_lines_keep_physical_line_numbers(tmp_path):
    path = write(tmp_path, "1234567,2026,40000,\n\n\n123,2026,40000,\n")
    assert rejected_reasons(path) == {5: "file_number '123' must be 7 or 9 digits"}
    assert items(path)[0][0] == 2


@pytest.mark.parametrize("header, missing", [
    ("file_number,year,professional_income\n", "conventioned_income"),
    ("file_number,annee,professional_income,conventioned_income\n", "year"),
    ("numero;annee;revenus\n", "file_number, year, professional_income, conventioned_income"),
    ("", "file_number, year, professional_income, conventioned_income"),
])
def test_missing_column_stops_with_a_message(tmp_path, header, missing):
    path = write(tmp_path, "", header=header)
    with pytest.raises(SystemExit) as info:
        items(path)
    assert str(info.value) == (f"{path}: line 1: missing column(s) {missing}; expected header: "
                               "file_number,year,professional_income,conventioned_income")
    with pytest.raises(SystemExit):
        dry_run(path)


def test_unknown_file(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        dry_run(tmp_path / "nope.csv")


def test_digest_is_the_file_content_hash(tmp_path):
    import hashlib
    path = write(tmp_path, "1234567,2026,40000,\n")
    [(_, digest, _)] = list(read_declarations(path, YEARS))
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


class FakePublisher:
    instances = []

    def __init__(self, uri):
        self.uri, self.published, self.closed = uri, [], False
        FakePublisher.instances.append(self)

    def publish(self, envelope):
        self.published.append(envelope)

    def close(self):
        self.closed = True


@pytest.fixture
def fake_broker(monkeypatch):
    FakePublisher.instances = []
    topology = []
    monkeypatch.setattr(imp, "EventPublisher", FakePublisher)
    monkeypatch.setattr(imp, "declare_topology", topology.append)
    return topology


def test_publishes_valid_events_with_deterministic_ids(tmp_path, fake_broker):
    path = write(tmp_path, "1234567,2026,\"40000,5\",\n123,2026,1,\n123456789,2025,10,10\n")
    published, rejected = run(str(path), "amqp://x", YEARS, progress=False, out=io.StringIO())
    assert (published, [(r.line, r.reason[:11]) for r in rejected]) == (2, [(3, "file_number")])
    assert fake_broker == ["amqp://x"]
    [publisher] = FakePublisher.instances
    assert publisher.uri == "amqp://x" and publisher.closed
    events = [parse_event(e) for e in publisher.published]
    assert [(e.type, e.member_id, e.payload["year"], e.payload["professional_income"],
             e.payload["conventioned_income"], e.payload["source"]) for e in events] == [
        ("income_declared", "1234567", 2026, Decimal("40000.50"), None, "batch"),
        ("income_declared", "123456789", 2025, Decimal("10.00"), Decimal("10.00"), "batch"),
    ]
    for e in events:
        assert e.correlation_id == str(e.payload["declaration_id"])
        assert e.causation_id is None

    # the same file again: the same ids, so consumers see duplicates
    run(str(path), "amqp://x", YEARS, progress=False, out=io.StringIO())
    again = FakePublisher.instances[1].published
    assert [e["event_id"] for e in again] == [e.event_id for e in events]
    assert [e["payload"]["declaration_id"] for e in again] == [
        str(e.payload["declaration_id"]) for e in events]
    assert len({e.event_id for e in events}) == 2

    # a different file: different ids
    other = write(tmp_path, "1234567,2026,\"40000,5\",\n", name="other.csv")
    run(str(other), "amqp://x", YEARS, progress=False, out=io.StringIO())
    assert FakePublisher.instances[2].published[0]["event_id"] != events[0].event_id


def test_dry_run_never_touches_the_broker(tmp_path, fake_broker):
    path = write(tmp_path, "1234567,2026,40000,\n")
    assert dry_run(path) == (1, [])
    assert FakePublisher.instances == [] and fake_broker == []


def test_publisher_closed_when_publishing_fails(tmp_path, fake_broker, monkeypatch):
    def boom(self, envelope):
        raise ConnectionError("no confirm")

    monkeypatch.setattr(FakePublisher, "publish", boom)
    path = write(tmp_path, "1234567,2026,40000,\n")
    with pytest.raises(ConnectionError):
        run(str(path), "amqp://x", YEARS, progress=False, out=io.StringIO())
    assert FakePublisher.instances[0].closed is True
