"""Exactness tests never skip in CI: a missing oracle fails there."""

from __future__ import annotations

import pytest

from tests.conftest import require


def test_a_missing_oracle_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require("babylm_no_such_oracle")


def test_a_missing_oracle_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ModuleNotFoundError):
        require("babylm_no_such_oracle")
    assert require("json").dumps([1]) == "[1]"  # a present one is returned
