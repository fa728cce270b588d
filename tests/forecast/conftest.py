"""Fixtures shared by the forecast tests."""

from __future__ import annotations

import numpy as np
import pytest

import sop_pipeline.forecasting.exact as exact


@pytest.fixture
def solve_rows(monkeypatch) -> list[int]:
    """The number of series in each batched exact solve (`SharedDesign.fit_many` call) made while the test runs:
    a configuration that costs no fit of its own must add none."""
    rows: list[int] = []
    original = exact.SharedDesign.fit_many

    def counting(self, ys, *args, **kwargs):
        rows.append(len(np.atleast_2d(ys)))
        return original(self, ys, *args, **kwargs)

    monkeypatch.setattr(exact.SharedDesign, "fit_many", counting)
    return rows
