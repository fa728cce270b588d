"""Forecast reconciliation across total, families and SKUs with Nixtla's hierarchicalforecast.

The hierarchy: the total, each family, and under a family its fitted SKUs plus one "rest" node
holding the SKUs too short or sparse to fit alone (their base forecast: their share of the
family's). A family without fitted SKUs is itself a bottom node. MinTrace with structural weights
(`wls_struct`: each node's variance taken proportional to the bottom series under it) combines the
levels' forecasts into coherent bottom forecasts (sparse from DENSE_MAX_BOTTOM bottom nodes up).
The covariance-based variants (`mint_shrink`, `wls_var`) read in-sample residuals, which flatter the
models that follow their history closest: on Superstore's 17 sub-categories their backtest family
WAPE was 0.74 and 0.67 against 0.58 for `wls_struct` (three rolling origins).
"""

from __future__ import annotations

import numpy as np

RECONCILERS = ("wls_struct", "ols")  # the second where the first is ill-conditioned


# Up to this many bottom nodes MinTrace runs dense, its projection solved exactly; above, sparse: the dense
# one holds the summing matrix and its projections as dense (nodes x bottom nodes) arrays, 20 GB at 50,000
# SKUs (a run there was stopped at 19 GB), while the sparse one keeps them sparse and solves by BiCGSTAB to
# hierarchicalforecast's 1e-5 residual (0.1 s at 50,000; forecasts within 0.05% of the exact projection).
DENSE_MAX_BOTTOM = 2000


def min_trace(sparse: bool = False):
    """hierarchicalforecast's MinTrace (or MinTraceSparse), imported on first use (with scikit-learn and
    dask.dataframe, 2-4 s; `executor.preload` calls this ahead of the forecast)."""
    from hierarchicalforecast.methods import MinTrace, MinTraceSparse

    return MinTraceSparse if sparse else MinTrace


def summing_matrix(n_aggregates: int, bottom_family: np.ndarray, family_row: dict[int, int]):
    """The sparse summing matrix (total, then the families that are not bottom nodes, then the bottom
    nodes): the total sums every bottom node, a family row (`family_row`: family index -> row) the
    bottom nodes of its family (`bottom_family`), and each bottom node is itself."""
    from scipy import sparse

    n_bottom = len(bottom_family)
    in_family = np.flatnonzero(np.isin(bottom_family, list(family_row)))
    rows = np.concatenate([np.zeros(n_bottom, int), [family_row[f] for f in bottom_family[in_family]],
                           n_aggregates + np.arange(n_bottom)]).astype(int)
    cols = np.concatenate([np.arange(n_bottom), in_family, np.arange(n_bottom)])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_aggregates + n_bottom, n_bottom))


def reconcile(total: np.ndarray, families: list[np.ndarray], bottoms: list[tuple[int, np.ndarray]],
              family_is_bottom: list[bool], dense_max: int = DENSE_MAX_BOTTOM) -> tuple[np.ndarray, str]:
    """Coherent forecasts of the bottom nodes from every node's base forecast (one row per month):
    families that are their own bottom first (in family order), then `bottoms` (family index,
    forecast) in the order given; MinTrace dense up to `dense_max` bottom nodes, sparse above.
    Returns (matrix, method)."""
    aggregates = [total] + [node for node, alone in zip(families, family_is_bottom) if not alone]
    bottom_nodes = [node for node, alone in zip(families, family_is_bottom) if alone] + [n for _, n in bottoms]
    bottom_family = np.array([f for f, alone in enumerate(family_is_bottom) if alone] + [f for f, _ in bottoms], int)
    n_bottom = len(bottom_nodes)
    aggregated = [f for f, alone in enumerate(family_is_bottom) if not alone]
    S = summing_matrix(len(aggregates), bottom_family, {f: 1 + k for k, f in enumerate(aggregated)})
    sparse = n_bottom > dense_max
    MinTrace, S = min_trace(sparse), S if sparse else S.toarray()
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
