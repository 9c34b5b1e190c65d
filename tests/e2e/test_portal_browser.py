"""The member portal in a real browser: Debian's Chromium driven by Playwright,
against the whole suite (``RunningSuite``), with an axe-core accessibility check
(no serious or critical violation) on every page, a check that nothing is wider
than a 360 px phone, and no Content-Security-Policy violation.

The scenarios are in ``browser_scenarios.py`` and run in a child process (Playwright
does not work under the eventlet monkey patching this process needs). Chromium
comes from the system (``/usr/bin/chromium``; ``.ci/run`` installs it), never from
``playwright install``: without it these tests skip locally and fail under ``CI=true``.

``CARPIMKO_SCREENSHOTS=docs/screenshots`` also writes the README's screenshots
(dashboard and declaration page, desktop and 360 px wide).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def chromium():
    if Path(CHROMIUM).exists():
        return CHROMIUM
    reason = f"{CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def run(name: str, suite) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "tests.e2e.browser_scenarios", name, suite.url],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-6000:]}"


@pytest.mark.parametrize("scenario", [
    "member_journey_login_dashboard_declare_progress_download_logout",
    "keyboard_only_login_and_navigation",
    "error_pages_and_api_docs_are_accessible",
    "survivor_sees_no_declaration_entry",
    "career_page_what_if_flag_and_statement",
    "member_messaging_read_reply_write_with_a_photo",
])
def test_portal_in_chromium(chromium, suite, scenario):
    run(scenario, suite)
