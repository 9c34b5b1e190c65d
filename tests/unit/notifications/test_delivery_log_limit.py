"""``delivery_log``'s ``limit`` (the dashboard asks for the latest few): a
whole number from 1 to 100, anything else a clear InvalidRequest."""
import pytest

from carpimko.errors import InvalidRequest
from services.notifications.service import _log_limit


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_a_limit_from_1_to_100_is_taken(limit):
    assert _log_limit(limit) == limit


@pytest.mark.parametrize("limit", [0, 101, -5, "20", 2.5, True, None])
def test_anything_else_is_refused(limit):
    with pytest.raises(InvalidRequest) as caught:
        _log_limit(limit)
    assert "limit" in caught.value.fields
