"""The one backoff rule (core.retry)."""

import pytest

from core import retry


def test_backoff_grows_is_capped_and_jittered(monkeypatch):
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: high)
    assert [retry.backoff_seconds(n, first=10) for n in range(4)] == pytest.approx([12, 24, 48, 96])
    assert retry.backoff_seconds(2, first=10, factor=3) == pytest.approx(108)
    assert retry.backoff_seconds(9, first=10, cap=100) == pytest.approx(120)  # the cap, then the jitter
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: low)
    assert retry.backoff_seconds(0, first=60, jitter=(1.0, 1.2)) == 60
    assert retry.backoff_seconds(-1, first=60, jitter=(1.0, 1.2)) == 60  # never below the first wait
