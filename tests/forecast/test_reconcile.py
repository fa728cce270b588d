"""MinTrace reconciliation (`reconcile.reconcile`, hierarchicalforecast's sparse MinTrace) against the
closed form of the weighted least-squares projection, computed here with dense NumPy algebra:
bottom = (S' W^-1 S)^-1 S' W^-1 y_hat, W = diag(S 1) (wls_struct: a node's variance proportional
to the number of bottom nodes under it; Wickramasuriya, Athanasopoulos & Hyndman 2019)."""

from __future__ import annotations

import numpy as np
import pytest

from sop_pipeline.forecasting.reconcile import DENSE_MAX_BOTTOM, reconcile, summing_matrix


def test_the_summing_matrix_of_a_small_hierarchy():
    # families 0 and 2 have SKUs (bottom nodes 1-3 and 4), family 1 is its own bottom node (node 0)
    S = summing_matrix(3, np.array([1, 0, 0, 0, 2]), {0: 1, 2: 2}).toarray()
    assert S.tolist() == [
        [1, 1, 1, 1, 1],   # the total
        [0, 1, 1, 1, 0],   # family 0
        [0, 0, 0, 0, 1],   # family 2
        *np.eye(5, dtype=int).tolist(),
    ]


@pytest.mark.parametrize("n_skus, dense_max, rtol", [
    (600, DENSE_MAX_BOTTOM, 1e-9),  # dense: the projection solved exactly
    (3000, 1000, 5e-4),             # sparse: BiCGSTAB to hierarchicalforecast's 1e-5 residual
])
def test_reconciled_forecasts_are_the_weighted_least_squares_projection(n_skus, dense_max, rtol):
    rng = np.random.default_rng(5)
    n_families, months = 30, 18
    family_is_bottom = [f % 7 == 3 for f in range(n_families)]  # a few families without fitted SKUs
    bottoms = [(int(f), rng.gamma(1.5, 40.0, months))
               for f in rng.integers(0, n_families, n_skus) if not family_is_bottom[f]]
    bottoms.sort(key=lambda b: b[0])
    families = []
    for f in range(n_families):
        under = sum((b for g, b in bottoms if g == f), np.zeros(months))
        families.append(rng.gamma(1.5, 40.0, months) if family_is_bottom[f] else under * rng.uniform(0.7, 1.3))
    total = (sum(families) * 1.15)  # base forecasts that do not add up at any level

    coherent, method = reconcile(total, families, bottoms, family_is_bottom, dense_max)

    aggregated = [f for f in range(n_families) if not family_is_bottom[f]]
    bottom_family = [f for f in range(n_families) if family_is_bottom[f]] + [f for f, _ in bottoms]
    n_bottom = len(bottom_family)
    S = np.zeros((1 + len(aggregated) + n_bottom, n_bottom))
    S[0] = 1
    for row, f in enumerate(aggregated, start=1):
        S[row] = [g == f for g in bottom_family]
    S[1 + len(aggregated):] = np.eye(n_bottom)
    y_hat = np.vstack([total, *[families[f] for f in aggregated],
                       *[families[f] for f in range(n_families) if family_is_bottom[f]], *[b for _, b in bottoms]])
    w_inv = 1.0 / S.sum(axis=1)
    expected = np.linalg.solve(S.T @ (w_inv[:, None] * S), S.T @ (w_inv[:, None] * y_hat))

    assert method == "wls_struct" and coherent.shape == (n_bottom, months)
    np.testing.assert_allclose(coherent, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
    # and not just the base forecasts passed through: the total's excess is spread over the bottom nodes
    assert np.abs(coherent.sum(axis=0) - total).max() < np.abs(y_hat[-n_bottom:].sum(axis=0) - total).max()
