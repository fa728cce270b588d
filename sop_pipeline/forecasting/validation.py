"""The blocking data-quality suite on the forecast (Great Expectations, via common.validation)."""

from __future__ import annotations

import pandas as pd

from sop_pipeline.common.validation import Rule, ValidationReport, expectations, validate_frames


def _forecast_rules() -> list[Rule]:
    E = expectations
    shown = ("level", "series_key", "month", "yhat_lower", "yhat", "yhat_upper")
    rules = [Rule(E.ExpectColumnValuesToNotBeNull(column=c), c, f"missing {c} values", shown)
             for c in ("yhat", "yhat_lower", "yhat_upper", "month", "series_key")]
    rules += [Rule(E.ExpectColumnValuesToBeBetween(column=c, min_value=0), c, f"negative {c} values", shown)
              for c in ("yhat", "yhat_lower")]
    rules += [
        Rule(E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="yhat", column_B="yhat_lower", or_equal=True),
              "yhat", "forecasts below their lower bound", shown),
        Rule(E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="yhat_upper", column_B="yhat", or_equal=True),
              "yhat_upper", "forecasts above their upper bound", shown),
        Rule(E.ExpectColumnValuesToBeInSet(column="level", value_set=["total", "family", "sku"]), "level",
              "unknown forecast levels", shown),
    ]
    return rules


def validate_forecast(forecast: pd.DataFrame) -> ValidationReport:
    """The blocking suite on `sop.forecast`: complete, non-negative, and inside its band."""
    return validate_frames("forecast", [forecast], _forecast_rules())
