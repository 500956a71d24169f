"""Shared fixture for the understanding tests: one rules-only understander for the session."""

from __future__ import annotations

import pytest

from assistant.understanding import Understander


@pytest.fixture(scope="session")
def understander() -> Understander:
    return Understander()
