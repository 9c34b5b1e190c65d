"""The load scenario, short: the end-to-end smoke test (no error allowed)."""
import pytest

from tests.support.load import run_locust

pytestmark = pytest.mark.e2e


def test_member_journeys_under_load_without_errors(suite, tmp_path):
    figures = run_locust(suite.url, users=8, spawn_rate=8, duration="20s", workdir=tmp_path)
    assert figures["requests"] > 50, figures
    assert figures["failures"] == 0, figures["failure_details"]
    print(f"\nload smoke: {figures['requests']} requests, {figures['rps']:.1f} req/s, "
          f"p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms")
