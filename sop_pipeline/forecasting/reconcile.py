"""Forecast reconciliation across total, families and SKUs with Nixtla's hierarchicalforecast.

The hierarchy: the total, each family, and under a family its fitted SKUs plus one "rest" node
holding the SKUs too short or sparse to fit alone (their base forecast: their share of the
family's). A family without fitted SKUs is itself a bottom node. MinTrace with structural weights
(`wls_struct`: each node's variance taken proportional to the bottom series under it) combines the
levels' forecasts into coherent bottom forecasts. The covariance-based variants (`mint_shrink`,
`wls_var`) read in-sample residuals, which flatter the models that follow their history closest:
on Superstore's 17 sub-categories their backtest family WAPE was 0.74 and 0.67 against 0.58 for
`wls_struct` (three rolling origins).
"""

from __future__ import annotations

import numpy as np

RECONCILERS = ("wls_struct", "ols")  # the second where the first is ill-conditioned


def min_trace():
    """hierarchicalforecast's MinTrace, imported on first use (with scikit-learn and dask.dataframe, 2-4 s;
    `executor.preload` calls this ahead of the forecast)."""
    from hierarchicalforecast.methods import MinTrace

    return MinTrace


def reconcile(total: np.ndarray, families: list[np.ndarray], bottoms: list[tuple[int, np.ndarray]],
              family_is_bottom: list[bool]) -> tuple[np.ndarray, str]:
    """Coherent forecasts of the bottom nodes from every node's base forecast (one row per month):
    families that are their own bottom first (in family order), then `bottoms` (family index,
    forecast) in the order given. Returns (matrix, method)."""
    MinTrace = min_trace()
    aggregates = [total] + [node for node, alone in zip(families, family_is_bottom) if not alone]
    bottom_nodes = [node for node, alone in zip(families, family_is_bottom) if alone] + [n for _, n in bottoms]
    bottom_family = [f for f, alone in enumerate(family_is_bottom) if alone] + [f for f, _ in bottoms]
    n_bottom = len(bottom_nodes)
    S = np.zeros((len(aggregates) + n_bottom, n_bottom))
    S[0] = 1.0
    row = 1
    for f, alone in enumerate(family_is_bottom):
        if not alone:
            S[row] = [1.0 if bf == f else 0.0 for bf in bottom_family]
            row += 1
    S[row:] = np.eye(n_bottom)
    y_hat = np.vstack(aggregates + bottom_nodes)
    if n_bottom == 1:  # one series: nothing to reconcile
        return y_hat[-1:].copy(), "none"
    for method in RECONCILERS:  # neither reads in-sample residuals
        try:
            mean = MinTrace(method=method).fit_predict(S=S, y_hat=y_hat)["mean"]
        except Exception:  # ill-conditioned: the next method
            continue
        if np.all(np.isfinite(mean)):
            return np.asarray(mean)[-n_bottom:], method
    return y_hat[-n_bottom:].copy(), "bottom_up"
