"""End to end: the yearly-call campaign through the whole chain (its own suite, so that the demo members
have no call of 2026 yet), checked at the real SMTP server and in the postal output."""
from __future__ import annotations

import time

import pytest
import requests

from ops.demo_data import DEMO_PASSWORD
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def told(suite) -> int:
    return len(suite.mails()) + len(suite.letters())


def test_the_yearly_campaign_tells_each_member_it_calls_once(suite):
    """A call and the schedule it respreads are one decision: each member the campaign calls gets one email
    or one letter (the statement), not a second one for the schedule, which is still issued."""
    before = told(suite)
    result = suite.carpimko("campaign", "yearly-call", "--year", "2026", "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    issued = int(result.stdout.split(" call(s) issued")[0].split()[-1])
    assert issued >= 2, result.stdout
    wait_for(lambda: told(suite) >= before + issued, timeout=60, message=f"{issued} emails or letters")
    time.sleep(3)  # a second message per member would arrive meanwhile
    assert told(suite) == before + issued

    s = requests.Session()
    assert s.post(f"{suite.url}/api/v1/session", json={"file_number": "1234567", "password": DEMO_PASSWORD},
                  timeout=10).status_code == 200
    titles = [d["title"] for d in s.get(f"{suite.url}/api/v1/documents", timeout=10).json()["items"]]
    assert "Relevé de cotisations 2026" in titles and "Échéancier de paiement 2026" in titles

    again = suite.carpimko("campaign", "yearly-call", "--year", "2026", "--no-progress")
    assert again.returncode == 0 and again.stdout.startswith("0 call(s) issued"), again.stdout
    time.sleep(2)
    assert told(suite) == before + issued
