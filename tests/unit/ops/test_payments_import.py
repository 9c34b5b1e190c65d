"""``carpimko payments import``: row validation and line numbers (no broker: --dry-run)."""
from datetime import date
from decimal import Decimal

import pytest

from ops import cli, payments_import

YEARS = (2024, 2025, 2026)


def write(tmp_path, text):
    path = tmp_path / "bank.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_rows_and_bad_rows_with_their_line_numbers(tmp_path):
    path = write(tmp_path, "reference,file_number,year,amount,paid_on\n"
                           "BNK-1,1234567,2026,760.50,2026-01-06\n"
                           "BNK-2,123,2026,1,2026-01-06\n"
                           "BNK-1,7654321,2026,5,2026-01-06\n"
                           "BNK-3,1234567,2019,5,2026-01-06\n"
                           "BNK-4,1234567,2026,0,2026-01-06\n"
                           "BNK-5,1234567,2026,1.234,2026-01-06\n"
                           "BNK-6,1234567,2026,10,31/02/2026\n"
                           "BNK 7,1234567,2026,10,2026-01-06\n"
                           "BNK-8,123456789,2025,\"1 000,00\",05/02/2026\n"
                           "BNK-9,1234567,2026,10,2026-01-06,extra\n")
    rows = list(payments_import.read_payments(path, YEARS))
    good = [item for _, item in rows if isinstance(item, dict)]
    bad = [(item.line, item.reason) for _, item in rows if not isinstance(item, dict)]
    assert good == [
        {"reference": "BNK-1", "file_number": "1234567", "year": 2026, "amount": Decimal("760.50"),
         "paid_on": date(2026, 1, 6)},
        {"reference": "BNK-8", "file_number": "123456789", "year": 2025, "amount": Decimal("1000.00"),
         "paid_on": date(2026, 2, 5)},
    ]
    assert bad == [
        (3, "file_number '123' must be 7 or 9 digits"),
        (4, "reference 'BNK-1' already on line 2"),
        (5, "year '2019' is not one of 2024, 2025, 2026"),
        (6, "amount must be more than 0, got '0'"),
        (7, "amount has more than two decimals: '1.234'"),
        (8, "paid_on '31/02/2026' is not a date (YYYY-MM-DD or DD/MM/YYYY)"),
        (9, "reference 'BNK 7' must be 1 to 64 letters, digits or . _ / -"),
        (11, "too many fields"),
    ]


def test_missing_columns_stop_before_anything(tmp_path):
    path = write(tmp_path, "reference,file_number,amount\nX,1234567,1\n")
    with pytest.raises(SystemExit, match="line 1: missing column\\(s\\) year, paid_on"):
        list(payments_import.read_payments(path, YEARS))


def test_dry_run_command_exit_codes(tmp_path, capsys):
    ok = write(tmp_path, "reference,file_number,year,amount,paid_on\nBNK-1,1234567,2026,10,2026-01-06\n")
    assert cli.main(["payments", "import", str(ok), "--dry-run"]) == 0
    assert "1 payment(s) valid, 0 rejected" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("reference,file_number,year,amount,paid_on\nBNK-1,12,2026,10,2026-01-06\n", encoding="utf-8")
    assert cli.main(["payments", "import", str(bad), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert f"{bad}: line 2: file_number '12' must be 7 or 9 digits" in captured.err
