"""Prophet's MAP estimate computed in-process, exactly as Prophet's Stan program defines it.

Prophet fits by handing its data to CmdStan's optimiser, which costs 0.1-0.3 s a fit, nearly all
of it process start-up and CSV file traffic: the optimisation itself takes milliseconds. This
module solves the same problem with NumPy/SciPy and plugs into Prophet as a Stan backend.

The objective (``prophet/stan_model/prophet.stan``; parameters k, m, delta[S], sigma_obs > 0,
beta[K]) is the log posterior as Stan's optimiser reports it in ``lp__``: ``~`` statements drop
the terms that do not depend on parameters, and MAP has no Jacobian term for ``sigma_obs``::

    lp = - T log(sigma) - |y - mu|^2 / (2 sigma^2)                y ~ normal_id_glm(...)
         - (k^2 + m^2) / 50 - 2 sigma^2                            k, m ~ N(0, 5); sigma ~ N(0, 0.5)
         - sum(|delta|) / tau - sum((beta / sigmas)^2) / 2         delta ~ Laplace(0, tau); beta ~ N(0, sigmas)

    mu    = trend .* (1 + X_sm beta) + X_sa beta,   X_sm = X .* s_m',  X_sa = X .* s_a'
    trend = (k + A delta) .* t + (m - A (t_change .* delta))   (linear; A[i, j] = t[i] >= t_change[j])
          = m                                                   (flat)

so trend = Phi u is linear in u = (k, m, delta) and mu is bilinear in (u, beta): linear in both
with additive seasonality (then -lp is convex in (u, beta) for fixed sigma), a product with
multiplicative seasonality (non-convex: like CmdStan we start from Prophet's own init, and also
from the additive model's optimum mapped to multiplicative coefficients, keeping the best; a
single start can land in a worse local optimum than CmdStan's, see `_additive_starts`).

The one non-smooth term is the Laplace prior. Split delta = d_plus - d_minus with both >= 0 and
sum|delta| becomes the linear sum(d_plus + d_minus): the problem is smooth with simple bounds,
which is what L-BFGS-B solves (``method="lbfgs"``, analytic gradients). There sigma is profiled
out: for fixed mean parameters d lp / d sigma = 0 reads 4 sigma^4 + T sigma^2 - RSS = 0, whose
positive root is sigma^2 = 2 RSS / (T + sqrt(T^2 + 16 RSS)), and by the envelope theorem the
profiled gradient is the partial gradient at that sigma.

L-BFGS-B alone is slow and not reliable here: correlated Fourier columns and weak priors make
these problems ill-conditioned, it takes hundreds of iterations, and on 4 of 132 real fits (66
real monthly series, additive and multiplicative) SciPy's relative-reduction test stopped it
after ~20 iterations, up to 10 log-posterior units short. So every fit ends with an orthant-wise
Newton method with the exact Hessian, on theta = (k, m, delta, beta) with sigma profiled out:
the changepoint rates at zero with |d smooth / d delta_j| <= 1/tau stay at zero (the split
variables at their bound), the others keep their sign, the Newton step on the free variables is
projected back onto that orthant, and an Armijo line search that falls back to the first
breakpoint guarantees descent. It stops when the Newton decrement (about twice the lp still to
gain) is below 1e-12 max(1, |lp|), which certifies the KKT conditions to that precision. Started straight from Prophet's init,
this Newton method reaches the same optimum as L-BFGS-B + Newton polish on all 132 real fits
(lp equal to 5e-13) in 7 iterations (median) and ~1/20 of the time, so it is the default
(``method="newton"``), with L-BFGS-B as a rescue when it cannot certify convergence.

Out of scope, and handed to Prophet's own ``CmdStanPyBackend``: logistic growth, MCMC sampling
and optimiser options that change the problem (e.g. ``jacobian=True``).
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from prophet.models import CmdStanPyBackend, IStanBackend, StanBackendEnum
from scipy.linalg.lapack import dposv, dpotrf, dpotrs
from scipy.optimize import minimize

__all__ = [
    "log_posterior", "map_estimate", "ExactFit", "ExactStanBackend", "use_exact_backend",
    "unsupported_reason", "fit_predict_many", "ManyFits", "SharedDesign", "SeriesFit",
]

LINEAR, LOGISTIC, FLAT = 0, 1, 2
SIGMA_FLOOR = 1e-12            # a series the model interpolates exactly has an unbounded lp: stop there
NEWTON_TOL = 1e-12             # Newton decrement (per unit of |lp|, at least 1) that counts as converged
NEWTON_MAX_ITER = 200
CERTIFIED = "exact (shared design)"  # a shared-design fit's method where its solve is certified
DEGENERATE_NOTE = "sigma_obs -> 0: the mean can interpolate the data, the posterior has no maximum"
DEGENERATE_SIGMA = 1e-6        # sigma_obs (in Prophet's scaled units) below which a stalled fit is
                               # sliding into the sigma -> 0 funnel rather than short of an optimum
# CmdStan optimiser options that only steer *how* the optimum is found: the exact engine ignores them.
IGNORED_OPTIONS = frozenset({
    "algorithm", "iter", "tol_obj", "tol_rel_obj", "tol_grad", "tol_rel_grad", "tol_param",
    "history_size", "init_alpha", "refresh", "show_console", "output_dir", "seed", "sig_figs",
    "save_iterations", "require_converged", "timeout", "time_fmt", "save_profile",
})


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class _Design:
    """Prophet's Stan data as dense arrays: mu = (Phi u) * (1 + Xm beta) + Xa beta."""

    y: np.ndarray            # (T,)
    phi: np.ndarray          # (T, 2 + S) trend basis for u = (k, m, delta)
    xa: np.ndarray           # (T, K) additive columns of X (others zero)
    xm: np.ndarray           # (T, K) multiplicative columns of X (others zero)
    inv_var: np.ndarray      # (K,) 1 / sigmas^2
    lam: float               # 1 / tau, the weight of the Laplace prior
    has_mult: bool
    jtj: np.ndarray | None   # [Phi, Xa]' [Phi, Xa] when the mean is linear (no multiplicative column)

    @property
    def T(self) -> int:
        return self.y.shape[0]

    @property
    def S(self) -> int:
        return self.phi.shape[1] - 2

    @property
    def K(self) -> int:
        return self.xa.shape[1]

    def with_y(self, y: np.ndarray) -> _Design:
        return _Design(np.asarray(y, float), self.phi, self.xa, self.xm, self.inv_var, self.lam,
                       self.has_mult, self.jtj)


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=float)


def _trend_basis(t: np.ndarray, t_change: np.ndarray, trend_indicator: int) -> np.ndarray:
    """Phi with trend = Phi @ (k, m, delta): Stan's linear_trend, or flat_trend."""
    phi = np.zeros((len(t), 2 + len(t_change)))
    phi[:, 1] = 1.0
    if trend_indicator == LINEAR:
        # A of Stan's get_changepoint_matrix, for sorted t and t_change (Prophet sorts both).
        phi[:, 0] = t
        phi[:, 2:] = np.where(t[:, None] >= t_change[None, :], t[:, None] - t_change[None, :], 0.0)
    elif trend_indicator != FLAT:
        raise ValueError(f"trend_indicator {trend_indicator} is not supported by the exact engine")
    return phi


def _design(stan_data: Mapping[str, Any]) -> _Design:
    y = _array(stan_data["y"]).reshape(-1)
    X = _array(stan_data["X"]).reshape(len(y), -1)
    s_a = _array(stan_data["s_a"]).reshape(-1)
    s_m = _array(stan_data["s_m"]).reshape(-1)
    phi = _trend_basis(_array(stan_data["t"]).reshape(-1), _array(stan_data["t_change"]).reshape(-1),
                       int(stan_data["trend_indicator"]))
    xa, xm = X * s_a[None, :], X * s_m[None, :]
    has_mult = bool(np.any(xm))
    J = None if has_mult else np.hstack([phi, xa])
    return _Design(y=y, phi=phi, xa=xa, xm=xm, inv_var=1.0 / _array(stan_data["sigmas"]).reshape(-1) ** 2,
                   lam=1.0 / float(stan_data["tau"]), has_mult=has_mult,
                   jtj=None if J is None else J.T @ J)


def _mean(d: _Design, u: np.ndarray, beta: np.ndarray):
    trend = d.phi @ u
    mult = 1.0 + d.xm @ beta if d.has_mult else None
    mu = (trend * mult if d.has_mult else trend) + d.xa @ beta
    return trend, mult, mu


def _neg_lp(d: _Design, u: np.ndarray, beta: np.ndarray, sigma: float) -> float:
    r = d.y - _mean(d, u, beta)[2]
    return (d.T * math.log(sigma) + 0.5 * float(r @ r) / sigma**2 + 2.0 * sigma**2
            + (u[0] ** 2 + u[1] ** 2) / 50.0 + d.lam * float(np.abs(u[2:]).sum())
            + 0.5 * float(beta**2 @ d.inv_var))


def _flat(params: Mapping[str, Any], name: str) -> np.ndarray:
    return np.asarray(params[name], dtype=float).reshape(-1)


def log_posterior(params: Mapping[str, Any], stan_data: Mapping[str, Any]) -> float:
    """Prophet's log posterior at `params`, on the scale of the ``lp__`` CmdStan's optimiser reports.

    `params` holds k, m, delta, sigma_obs and beta in any shape (Prophet's ``model.params`` with
    its (1, n) arrays, or flat arrays); `stan_data` is the dict Prophet hands its backend. The
    constants are dropped as Stan's ``~`` drops them, so fits of the same data compare directly.
    Linear and flat growth only (ValueError for logistic).
    """
    d = _design(stan_data)
    u = np.concatenate([_flat(params, "k"), _flat(params, "m"), _flat(params, "delta")])
    sigma = float(_flat(params, "sigma_obs")[0])
    return -_neg_lp(d, u, _flat(params, "beta"), sigma) if sigma > 0 else -math.inf


# ----------------------------------------------------------------------------- the solvers


def _profiled_sigma2(rss: float, T: int) -> float:
    """argmax over sigma of -T log sigma - rss / (2 sigma^2) - 2 sigma^2, squared (stable root)."""
    return max(2.0 * rss / (T + math.sqrt(T * T + 16.0 * rss)), SIGMA_FLOOR**2)


def _lbfgs_split(d: _Design, u: np.ndarray, beta: np.ndarray, maxiter: int):
    """L-BFGS-B on x = (k, m, d_plus[S], d_minus[S], beta[K]) >= bounds, sigma profiled out."""
    S, T = d.S, d.T

    def fun(x: np.ndarray):
        uu = np.concatenate([x[:2], x[2:2 + S] - x[2 + S:2 + 2 * S]])
        b = x[2 + 2 * S:]
        trend, mult, mu = _mean(d, uu, b)
        r = d.y - mu
        rss = float(r @ r)
        sig2 = _profiled_sigma2(rss, T)
        w = 1.0 / sig2
        f = (0.5 * T * math.log(sig2) + 0.5 * rss * w + 2.0 * sig2 + (uu[0] ** 2 + uu[1] ** 2) / 50.0
             + d.lam * float(x[2:2 + 2 * S].sum()) + 0.5 * float(b**2 @ d.inv_var))
        gu = -w * (d.phi.T @ (r * mult if d.has_mult else r))
        gu[:2] += uu[:2] / 25.0
        gb = -w * (d.xa.T @ r) + b * d.inv_var
        if d.has_mult:
            gb -= w * (d.xm.T @ (trend * r))
        return f, np.concatenate([gu[:2], gu[2:] + d.lam, d.lam - gu[2:], gb])

    x0 = np.concatenate([u[:2], np.maximum(u[2:], 0.0), np.maximum(-u[2:], 0.0), beta])
    bounds = [(None, None)] * 2 + [(0.0, None)] * (2 * S) + [(None, None)] * d.K
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": maxiter, "maxcor": 20, "ftol": 1e-15, "gtol": 1e-10, "maxls": 40})
    x = res.x
    u = np.concatenate([x[:2], x[2:2 + S] - x[2 + S:2 + 2 * S]])
    u[2:][np.abs(u[2:]) < 1e-12] = 0.0  # d_plus - d_minus rounding: the Newton step re-frees these
    return u, x[2 + 2 * S:], int(res.nit)


def _smooth_grad_hess(d: _Design, u: np.ndarray, beta: np.ndarray, s: float):
    """Gradient and Hessian of -lp without the Laplace term, in z = (u, beta, log sigma)."""
    P_u = 2 + d.S
    trend, mult, mu = _mean(d, u, beta)
    r = d.y - mu
    rss = float(r @ r)
    w, e2s = math.exp(-2.0 * s), math.exp(2.0 * s)
    n = P_u + d.K + 1
    H = np.empty((n, n))
    if d.has_mult:
        J = np.hstack([d.phi * mult[:, None], d.xa + trend[:, None] * d.xm])
        H[:-1, :-1] = J.T @ J
        # the bilinear mean's own curvature: d2 mu_i / du_a dbeta_b = phi_ia xm_ib
        C = d.phi.T @ (r[:, None] * d.xm)
        H[:P_u, P_u:-1] -= C
        H[P_u:-1, :P_u] -= C.T
        Jr = J.T @ r
    else:
        H[:-1, :-1] = d.jtj
        Jr = np.concatenate([d.phi.T @ r, d.xa.T @ r])
    H[:-1, :-1] *= w
    H[-1, :-1] = H[:-1, -1] = 2.0 * w * Jr
    H[-1, -1] = 2.0 * w * rss + 8.0 * e2s
    g = np.empty(n)
    g[:-1] = -w * Jr
    g[-1] = d.T - w * rss + 4.0 * e2s
    g[:2] += u[:2] / 25.0
    H[0, 0] += 1.0 / 25.0
    H[1, 1] += 1.0 / 25.0
    g[P_u:-1] += beta * d.inv_var
    H[np.arange(P_u, n - 1), np.arange(P_u, n - 1)] += d.inv_var
    return g, H


def _newton_step(H: np.ndarray, g: np.ndarray, H_fallback: np.ndarray) -> np.ndarray:
    """-H^-1 g by Cholesky. Where H is not positive definite, the same with H_fallback, and
    where that is not either, the Levenberg-Marquardt step of the scaled D^-1 H_fallback D^-1 +
    lambda I, D = sqrt(diag), with the smallest lambda of a short ladder that makes it positive
    definite. Cholesky only: an eigendecomposition costs far more on a busy machine (OpenBLAS
    threads) and these systems are tiny."""
    for matrix in (H, H_fallback):
        chol, info = dpotrf(matrix, lower=1, clean=0)
        if info == 0:
            step, info = dpotrs(chol, g, lower=1)
            if info == 0 and np.all(np.isfinite(step)):
                return -step
    diag = np.diag(H_fallback)
    scale = np.sqrt(np.maximum(diag, 1e-12 * max(float(diag.max()), 1e-300)))
    Hs = H_fallback / scale[:, None] / scale[None, :]
    gs = g / scale
    for lam in (1e-6, 1e-4, 1e-2, 1.0, float(np.abs(Hs).sum(axis=1).max()) + 1.0):
        chol, info = dpotrf(Hs + lam * np.eye(len(g)), lower=1, clean=0)
        if info == 0:
            step, info = dpotrs(chol, gs, lower=1)
            if info == 0 and np.all(np.isfinite(step)):
                return -step / scale
    return -gs / scale  # a scaled gradient step (not reached for a finite matrix)


def _profiled_neg_lp(d: _Design, u: np.ndarray, beta: np.ndarray) -> tuple[float, float]:
    """min over sigma of -lp, and the sigma attaining it."""
    r = d.y - _mean(d, u, beta)[2]
    rss = float(r @ r)
    sig2 = _profiled_sigma2(rss, d.T)
    f = (0.5 * d.T * math.log(sig2) + 0.5 * rss / sig2 + 2.0 * sig2 + (u[0] ** 2 + u[1] ** 2) / 50.0
         + d.lam * float(np.abs(u[2:]).sum()) + 0.5 * float(beta**2 @ d.inv_var))
    return f, math.sqrt(sig2)


def _orthant_newton(d: _Design, u: np.ndarray, beta: np.ndarray, max_iter: int = NEWTON_MAX_ITER):
    """Orthant-wise Newton on theta = (u, beta) for -lp with sigma profiled out.

    sigma is always at its optimum for the current theta, so the gradient in log sigma is zero
    and the Newton step of the joint problem in (theta, log sigma) is the Newton step of the
    profiled one, whose Hessian is the Schur complement H_tt - h h' / H_ss of the joint Hessian.
    Each iteration: the orthant of every changepoint rate (its sign; for a zero, the side the
    gradient pushes it to when that beats the prior's kink 1/tau, else it stays at zero); the
    Newton step on the free variables, re-solved without any zero rate whose step leaves its
    orthant; an Armijo search along the step projected onto the orthant, falling back to the
    first breakpoint (a rate reaching zero) below which the path is smooth, so that a decrease
    always exists. Where the profiled Hessian is not positive definite (far from the optimum) the
    fixed-sigma Hessian H_tt is used, and if that is not either, a Levenberg-Marquardt step.
    Returns (u, beta, sigma, iterations, converged).
    """
    P_u = 2 + d.S
    idx = np.arange(2, P_u)  # the changepoint rates within theta
    theta = np.concatenate([u, beta])
    f, sigma = _profiled_neg_lp(d, u, beta)
    decrement, it = math.inf, 0
    while it < max_iter:
        it += 1
        g, H = _smooth_grad_hess(d, theta[:P_u], theta[P_u:], math.log(sigma))
        h = H[:-1, -1]
        g, H_fixed = g[:-1], H[:-1, :-1]
        H_prof = H_fixed - np.outer(h, h) / H[-1, -1]
        delta, g_delta = theta[idx], g[idx]
        at_zero = delta == 0
        orth = np.sign(delta)
        orth[at_zero & (g_delta < -d.lam)] = 1.0
        orth[at_zero & (g_delta > d.lam)] = -1.0
        pg = g.copy()  # the pseudo-gradient: the minimum-norm subgradient
        pg[idx] += d.lam * orth
        pg[idx[orth == 0]] = 0.0
        free = np.ones(len(theta), bool)
        free[idx[orth == 0]] = False
        step = np.zeros_like(theta)
        for _ in range(d.S + 1):
            fi = np.flatnonzero(free)
            step[:] = 0.0
            step[fi] = _newton_step(H_prof[fi[:, None], fi], pg[fi], H_fixed[fi[:, None], fi])
            wrong = at_zero & (orth != 0) & (step[idx] * orth < 0)
            if not wrong.any():
                break
            free[idx[wrong]] = False
            orth[wrong] = 0.0
            pg[idx[wrong]] = 0.0
        decrement = -float(pg @ step)
        if not decrement > NEWTON_TOL * max(1.0, abs(f)):  # converged (a NaN stops too)
            break
        toward_zero = ~at_zero & (step[idx] * orth < 0)
        hits = np.full(d.S, math.inf)
        hits[toward_zero] = -delta[toward_zero] / step[idx][toward_zero]
        alpha_break = float(hits.min()) if d.S else math.inf
        alpha, f_new, sigma_new, new = 1.0, math.inf, sigma, theta
        for _ in range(60):
            new = theta + alpha * step
            d_new = new[idx]
            d_new[(d_new * orth <= 0) | (hits <= alpha)] = 0.0  # project onto the orthant
            new[idx] = d_new
            f_new, sigma_new = _profiled_neg_lp(d, new[:P_u], new[P_u:])
            if f_new <= f + 1e-4 * min(float(pg @ (new - theta)), 0.0):
                break
            alpha = alpha_break if alpha / 2 < alpha_break < alpha else alpha / 2
        if not f_new < f:
            break  # no decrease left at machine precision
        theta, f, sigma = new, f_new, sigma_new
    # sigma at its floor: the mean interpolates the data and lp has no maximum (T <= #parameters)
    converged = bool(decrement <= NEWTON_TOL * max(1.0, abs(f))) and sigma > 2 * SIGMA_FLOOR
    return theta[:P_u], theta[P_u:], sigma, it, converged


@dataclass
class ExactFit:
    """One MAP fit: flat parameter arrays, the log posterior, and how the solver got there."""

    params: dict[str, np.ndarray]  # k, m, delta, sigma_obs, beta, trend (flat arrays)
    lp: float                      # log_posterior(params, stan_data)
    converged: bool                # Newton decrement below NEWTON_TOL * max(1, |lp|): a KKT point
    note: str                      # why it is not certified ("" when converged)
    degenerate: bool               # sigma_obs -> 0: the mean interpolates the data, lp is unbounded
    solver: str                    # "newton", "newton+lbfgs rescue" or "lbfgs+newton"
    newton_iterations: int
    lbfgs_iterations: int

    @property
    def optimized_params_dict(self) -> OrderedDict:
        """As cmdstanpy's CmdStanMLE.optimized_params_dict: lp__, k, m, delta[1], ..., trend[T]."""
        out: OrderedDict[str, float] = OrderedDict(lp__=self.lp)
        for name in ("k", "m", "delta", "sigma_obs", "beta", "trend"):
            values = self.params[name]
            if name in ("k", "m", "sigma_obs"):
                out[name] = float(values[0])
            else:
                out.update((f"{name}[{i + 1}]", float(v)) for i, v in enumerate(values))
        return out


def map_estimate(stan_data: Mapping[str, Any], stan_init: Mapping[str, Any] | None = None, *,
                 method: str = "newton", lbfgs_maxiter: int = 2000) -> ExactFit:
    """Prophet's MAP estimate for `stan_data` (the dict Prophet gives its backend).

    Starts from `stan_init` (Prophet's own init, or a warm start; its sigma_obs is not needed:
    sigma starts at its optimum for the start's mean). `method="newton"`: orthant-wise Newton,
    with L-BFGS-B and a second Newton run as a rescue when the first cannot certify convergence;
    `method="lbfgs"`: L-BFGS-B on the split then the Newton polish (see the module docstring).
    """
    return _solve(_design(stan_data), stan_init, method, lbfgs_maxiter)


def _solve(d: _Design, stan_init: Mapping[str, Any] | None, method: str = "newton",
           lbfgs_maxiter: int = 2000) -> ExactFit:
    """The fit from `stan_init`; with multiplicative columns also from the additive starts
    (`_additive_starts`), keeping the certified optimum with the highest lp."""
    if stan_init is None:
        stan_init = {"k": 0.0, "m": float(np.mean(d.y)), "delta": np.zeros(d.S), "beta": np.zeros(d.K)}
    u = np.concatenate([_flat(stan_init, "k")[:1], _flat(stan_init, "m")[:1], _flat(stan_init, "delta")])
    beta = _flat(stan_init, "beta")
    if u.size != 2 + d.S or beta.size != d.K:
        raise ValueError("stan_init does not match the data's S and K")
    fit = _solve_from(d, u, beta, method, lbfgs_maxiter)
    if d.has_mult and fit.converged:
        for label, u0, beta0 in _additive_starts(d, u):
            other = _solve_from(d, u0, beta0, "newton", lbfgs_maxiter, rescue=False)
            if other.converged and other.lp > fit.lp:
                fit = dataclasses.replace(other, solver=f"{other.solver} from the {label}")
    return fit


# The additive starts of a multiplicative fit: (tau divided by, the solver's label). Prophet's init alone
# leaves the exact engine in a worse local optimum than CmdStan's on some sparse multiplicative series (the
# two engines' paths from one start reach different optima): of the 282 multiplicative fits the pipeline
# made on Superstore, 4 ended more than 0.01 below CmdStan (0.06, 0.31, 2.4, 5.3) from Prophet's init
# alone, 2 (0.06, 0.31) with the additive start at tau besides it, none with a second additive start at
# 10 tau (tests/forecast/test_exact_engine_on_pipeline_fits.py). The second start was dropped: a weak
# changepoint prior makes it the costliest solve of all, 15 of the demo forecast's 33 CPU s, and on the
# demo's 1,361 multiplicative fits the two additive starts together raised the log posterior by more than
# 1e-6 (relative) on 5.
ADDITIVE_STARTS = ((1.0, "additive fit"),)


def _additive_starts(d: _Design, u: np.ndarray):
    """Starts for the non-convex multiplicative problem (`ADDITIVE_STARTS`): the optimum of the same
    model with every column additive (convex for fixed sigma, so its start does not matter), its
    multiplicative coefficients divided by its mean trend level (mu = trend (1 + X beta) with trend
    near its mean is the additive mu = trend + X (level beta))."""
    mult = np.any(d.xm != 0, axis=0)
    xa = d.xa + d.xm
    J = np.hstack([d.phi, xa])
    additive = _Design(d.y, d.phi, xa, np.zeros_like(d.xm), d.inv_var, d.lam, False, J.T @ J)
    for factor, label in ADDITIVE_STARTS:
        u0, beta0, *_ = _orthant_newton(dataclasses.replace(additive, lam=d.lam / factor), u, np.zeros(d.K))
        level = float(np.mean(d.phi @ u0))
        if not (level > 0 and np.all(np.isfinite(beta0))):
            continue
        beta0 = beta0.copy()
        beta0[mult] /= level
        yield label, u0, beta0


def _solve_from(d: _Design, u: np.ndarray, beta: np.ndarray, method: str, lbfgs_maxiter: int,
                rescue: bool = True) -> ExactFit:
    lbfgs_it = 0
    if method == "lbfgs":
        u, beta, lbfgs_it = _lbfgs_split(d, u, beta, lbfgs_maxiter)
        solver = "lbfgs+newton"
    elif method != "newton":
        raise ValueError(f"unknown method {method!r}")
    else:
        solver = "newton"
    u, beta, sigma, newton_it, converged = _orthant_newton(d, u, beta)
    if not converged and rescue and method == "newton" and sigma > DEGENERATE_SIGMA:
        u2, beta2, lbfgs_it = _lbfgs_split(d, u, beta, lbfgs_maxiter)
        u2, beta2, sigma2, it2, converged2 = _orthant_newton(d, u2, beta2)
        if _neg_lp(d, u2, beta2, sigma2) <= _neg_lp(d, u, beta, sigma):
            u, beta, sigma, converged = u2, beta2, sigma2, converged2
        newton_it += it2
        solver = "newton+lbfgs rescue"
    params = {"k": u[:1].copy(), "m": u[1:2].copy(), "delta": u[2:].copy(),
              "sigma_obs": np.array([sigma]), "beta": beta.copy(), "trend": d.phi @ u}
    degenerate = not converged and sigma <= DEGENERATE_SIGMA
    note = "" if converged else DEGENERATE_NOTE if degenerate else "no convergence certificate"
    return ExactFit(params=params, lp=-_neg_lp(d, u, beta, sigma), converged=converged, note=note,
                    degenerate=degenerate,
                    solver=solver, newton_iterations=newton_it, lbfgs_iterations=lbfgs_it)


# ----------------------------------------------------------------------------- Prophet backend


def unsupported_reason(stan_data: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> str | None:
    """Why the exact engine does not fit this problem (CmdStan does then), or None when it does."""
    trend_indicator = int(stan_data["trend_indicator"])
    if trend_indicator == LOGISTIC:
        return "logistic growth"
    if trend_indicator not in (LINEAR, FLAT):
        return f"trend_indicator {trend_indicator}"
    for name, value in (options or {}).items():
        if name in ("init", "inits") and (value is None or isinstance(value, Mapping)):
            continue
        if name == "jacobian" and not value:
            continue
        if name not in IGNORED_OPTIONS:
            return f"option {name}={value!r}"
    return None


def _start(stan_init: Mapping[str, Any], custom: Mapping[str, Any] | None) -> dict[str, Any]:
    """Prophet's start, or the caller's warm start checked as CmdStanPyBackend.sanitize_custom_inits
    checks it (a value of the wrong type or shape keeps Prophet's)."""
    start = {name: stan_init[name] for name in ("k", "m", "sigma_obs", "delta", "beta")}
    for name in ("k", "m", "sigma_obs"):
        try:
            start[name] = float(np.asarray(custom[name], dtype=float).reshape(-1)[0])  # type: ignore[index]
        except Exception:
            pass
    for name in ("delta", "beta"):
        try:
            value = np.asarray(custom[name], dtype=float)  # type: ignore[index]
        except Exception:
            continue
        if value.shape == np.shape(stan_init[name]):
            start[name] = value
    return start


class ExactStanBackend(IStanBackend):
    """A Prophet Stan backend that computes the MAP fit in-process (see the module docstring).

    `last_method` says which engine fitted last: "exact", or "cmdstan (fallback: <reason>)".
    A degenerate series, where the mean can interpolate the data so that sigma_obs slides to 0
    and the posterior has no maximum (a straight line; a short or sparse series with more
    parameters than months), has no MAP to reproduce: the exact fit there (sigma_obs at its floor
    or heading to it, the mean through the data) is kept and marked "exact (degenerate: ...)",
    because CmdStan can spend a minute sliding down the same funnel to an arbitrary stopping
    point. `degenerate_to_cmdstan=True` hands these to CmdStan as stock Prophet would. Any other
    fit the solver cannot certify optimal goes to CmdStan.
    `stan_fit` (also Prophet's ``model.stan_fit``) is the ExactFit of an exact fit, which has
    cmdstanpy's `optimized_params_dict` with lp__, or CmdStan's own result after a fallback.
    """

    def __init__(self, fallback: CmdStanPyBackend | None = None, method: str = "newton",
                 degenerate_to_cmdstan: bool = False) -> None:
        self._fallback = fallback
        self.method = method
        self.degenerate_to_cmdstan = degenerate_to_cmdstan
        self.last_method: str | None = None
        self.last_fit: ExactFit | None = None
        self.last_stan_data: dict[str, Any] | None = None
        super().__init__()

    @staticmethod
    def get_type() -> str:
        # Prophet rebuilds a backend by this name through StanBackendEnum (cross-validation copies,
        # regressor sub-models) and that enum knows only CmdStanPy: the copies fit with CmdStan,
        # which solves the same problem.
        return StanBackendEnum.CMDSTANPY.name

    def load_model(self) -> None:
        return None  # nothing to compile or load; CmdStan loads on the first fallback

    @property
    def fallback(self) -> CmdStanPyBackend:
        if self._fallback is None:
            self._fallback = CmdStanPyBackend()
        self._fallback.newton_fallback = self.newton_fallback
        return self._fallback

    def fit(self, stan_init: dict[str, Any], stan_data: dict[str, Any], **kwargs: Any) -> OrderedDict:
        self.last_stan_data = stan_data
        reason = unsupported_reason(stan_data, kwargs)
        if reason is None:
            custom = kwargs.get("init") if kwargs.get("init") is not None else kwargs.get("inits")
            result = None
            try:
                result = map_estimate(stan_data, _start(stan_init, custom), method=self.method)
                if not np.isfinite(result.lp):
                    raise FloatingPointError("non-finite log posterior")
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                result, reason = None, f"exact engine failed: {exc}"
            if result is not None and result.converged:
                return self._exact(result, "exact")
            if result is not None and result.degenerate and not self.degenerate_to_cmdstan:
                return self._exact(result, f"exact (degenerate: {result.note})")
            if result is not None:
                reason = f"exact solver not certified: {result.note}"
                try:
                    return self._cmdstan(stan_init, stan_data, reason, kwargs)
                except RuntimeError:
                    return self._exact(result, f"exact (not certified: {result.note}; CmdStan failed too)")
        return self._cmdstan(stan_init, stan_data, reason, kwargs)

    def _exact(self, result: ExactFit, method: str) -> OrderedDict:
        self.last_method, self.last_fit, self.stan_fit = method, result, result
        out: OrderedDict[str, np.ndarray] = OrderedDict(lp__=np.array([[result.lp]]))
        for name in ("k", "m", "delta", "sigma_obs", "beta", "trend"):
            out[name] = result.params[name].reshape((1, -1))
        return out

    def _cmdstan(self, stan_init, stan_data, reason, kwargs) -> OrderedDict:
        self.last_method, self.last_fit = f"cmdstan (fallback: {reason})", None
        params = self.fallback.fit(stan_init, stan_data, **kwargs)
        self.stan_fit = self.fallback.stan_fit
        return params

    def sampling(self, stan_init: dict[str, Any], stan_data: dict[str, Any], samples: int,
                 **kwargs: Any) -> OrderedDict:
        self.last_method, self.last_fit = "cmdstan (fallback: MCMC sampling)", None
        params = self.fallback.sampling(stan_init, stan_data, samples, **kwargs)
        self.stan_fit = self.fallback.stan_fit
        return params

    def cleanup(self) -> None:
        if self._fallback is not None:
            self._fallback.cleanup()


def use_exact_backend(model, method: str = "newton", degenerate_to_cmdstan: bool = False):
    """Make the un-fitted Prophet `model` fit with the exact engine; returns the same model.

    Prophet's predict, plot and plot_components read only ``model.params``, which the exact
    backend fills in CmdStan's shapes (lp__, k, m, delta, sigma_obs, beta, trend), so everything
    after `fit` works unchanged. The CmdStan backend Prophet's constructor loaded is kept for
    fallbacks.
    """
    if getattr(model, "history", None) is not None:
        raise ValueError("use_exact_backend needs an un-fitted Prophet model")
    current = getattr(model, "stan_backend", None)
    if isinstance(current, ExactStanBackend):
        current.method, current.degenerate_to_cmdstan = method, degenerate_to_cmdstan
    else:
        model.stan_backend = ExactStanBackend(
            fallback=current if isinstance(current, CmdStanPyBackend) else None, method=method,
            degenerate_to_cmdstan=degenerate_to_cmdstan)
    return model


# ----------------------------------------------------------------------------- many series, one design


@dataclass
class SeriesFit:
    """One series fitted on a shared design: yhat over history then future, and its parameters."""

    yhat: np.ndarray            # history dates then future dates, as Prophet's predict()["yhat"]
    lp: float                   # log posterior (NaN for Prophet's constant-series rule)
    params: dict                # k, m, delta, sigma_obs, beta (flat arrays, Prophet's scaled units)
    method: str                 # "exact (shared design)", "prophet rule (constant series: no fit)", ...
    converged: bool
    trend: np.ndarray | None = None   # Prophet's trend on the same dates (predict()["trend"])
    factor: np.ndarray | None = None  # 1 + its multiplicative terms: yhat = trend * factor + additive terms

    @property
    def certified(self) -> bool:
        """A solve with its convergence certificate (not a rule, not degenerate, not a fallback)."""
        return self.method == CERTIFIED

    @property
    def optimum(self) -> tuple[np.ndarray, np.ndarray]:
        """(u, beta) = ((k, m, delta), beta) in the solver's scaled units: an additive optimum that
        starts the multiplicative fit of the same values (`solve_batch`)."""
        return np.concatenate([self.params["k"], self.params["m"], self.params["delta"]]), self.params["beta"]


class SharedDesign:
    """Prophet's model for one set of dates, built once and solved for many series.

    Prophet's preprocessing and predict depend on the dates only, except for y's scale (absmax or
    minmax, applied here as Prophet applies it). So one un-fitted model goes through Prophet's own
    ``preprocess`` to build the Stan data (trend basis, changepoints, Fourier and holiday columns,
    priors), and every series then costs one exact solve plus a matrix product for its forecast:
    the same numbers as its own Prophet fit + predict (tests check it), without the pandas work.
    `usable` is False where that does not hold (logistic growth, extra regressors, conditional
    seasonalities, MCMC, other scalings): fit those through Prophet itself.
    `variant` changes the seasonality mode or the changepoint prior scale without Prophet: both
    only change Stan data columns that are known in closed form (s_a/s_m, tau).
    """

    def __init__(self, model, ds, future_ds, *, method: str = "newton") -> None:
        self.method = method
        self.config_of = (model.seasonality_mode, float(model.changepoint_prior_scale))
        self.ds = pd.DatetimeIndex(pd.to_datetime(pd.Series(ds))).sort_values()
        future = pd.DatetimeIndex(pd.to_datetime(pd.Series(future_ds)))
        self.all_ds = self.ds.append(future).sort_values()
        self.scaling = model.scaling
        self.usable = (model.growth in ("linear", "flat") and not model.extra_regressors
                       and model.mcmc_samples == 0 and model.scaling in ("absmax", "minmax")
                       and all(p["condition_name"] is None for p in model.seasonalities.values())
                       and len(self.ds) >= 2)
        if not self.usable:
            return
        # Any varying y builds the same design: only y_scale depends on y, and it is applied per series.
        dummy = np.arange(len(self.ds), dtype=float)
        data = dataclasses.asdict(model.preprocess(pd.DataFrame({"ds": self.ds, "y": dummy})))
        frame = model.setup_dataframe(pd.DataFrame({"ds": self.all_ds}))
        x_all = model.make_all_seasonality_features(frame)[0].to_numpy(float)
        x_hist = _array(data["X"]).reshape(len(self.ds), -1)
        # the forecast dates' features must extend the training design exactly
        if x_all.shape[1] != x_hist.shape[1] or not np.allclose(
                x_all[np.searchsorted(self.all_ds, self.ds)], x_hist, rtol=1e-12, atol=1e-12):
            self.usable = False
            return
        self.data = data
        self.design = _design(data)
        self.x_all = x_all
        self.s_a, self.s_m = _array(data["s_a"]).reshape(-1), _array(data["s_m"]).reshape(-1)
        self.t_hist = _array(data["t"]).reshape(-1)
        self.trend_indicator = int(data["trend_indicator"])
        self.phi_all = _trend_basis(frame["t"].to_numpy(float), _array(data["t_change"]).reshape(-1),
                                    self.trend_indicator)
        self.no_changepoints = len(model.changepoints) == 0
        self.n_history = len(self.ds)

    def variant(self, seasonality_mode: str | None = None, changepoint_prior_scale: float | None = None) -> SharedDesign:
        """The same dates with every seasonal/holiday column additive or multiplicative, or another tau."""
        other = object.__new__(SharedDesign)
        other.__dict__.update(self.__dict__)
        data = dict(self.data)
        if seasonality_mode is not None:
            multiplicative = seasonality_mode == "multiplicative"
            ones, zeros = np.ones(self.design.K), np.zeros(self.design.K)
            data["s_a"], data["s_m"] = (zeros, ones) if multiplicative else (ones, zeros)
            other.s_a, other.s_m = np.asarray(data["s_a"], float), np.asarray(data["s_m"], float)
        if changepoint_prior_scale is not None:
            data["tau"] = float(changepoint_prior_scale)
        other.config_of = (seasonality_mode or self.config_of[0],
                           self.config_of[1] if changepoint_prior_scale is None else float(changepoint_prior_scale))
        other.data = data
        other.design = _design({**data, "y": np.zeros(self.n_history)})
        return other

    def fit(self, y, init: Mapping[str, Any] | None = None) -> SeriesFit:
        """Fit one series (values on `ds`, in date order) from Prophet's init or a warm start `init`
        (k, m, delta, beta in Prophet's scaled units; ignored when its shape does not match)."""
        y = np.asarray(y, dtype=float)
        d0 = self.design
        floor = float(y.min()) if self.scaling == "minmax" else 0.0
        scale = float(y.max() - floor) if self.scaling == "minmax" else float(np.abs(y).max())
        scale = scale if scale != 0 else 1.0
        y_s = (y - floor) / scale
        t = self.t_hist
        # Prophet's init (linear_growth_init / flat_growth_init) on the sorted history
        if self.trend_indicator == LINEAR:
            k0 = (y_s[-1] - y_s[0]) / (t[-1] - t[0])
            m0 = y_s[0] - k0 * t[0]
        else:
            k0, m0 = 0.0, float(y_s.mean())
        start = {"k": k0, "m": m0, "delta": np.zeros(d0.S), "beta": np.zeros(d0.K)}
        if init is not None:
            start = _start({**start, "sigma_obs": 1.0}, init)
        fit = None if y.max() == y.min() else _solve(d0.with_y(y_s), start, self.method)
        return _series_fit(self, fit, k0, m0, scale, floor)

    def fit_many(self, ys, inits: list[Mapping[str, Any] | None] | None = None,
                 additive_optima: list[tuple[np.ndarray, np.ndarray] | None] | None = None) -> list[SeriesFit]:
        """`fit` for many series at once (rows of `ys`): one batched solve, the same results.
        `additive_optima`: per row, the additive model's certified optimum (`SeriesFit.optimum`) of
        the same values, dates and prior, where known: a multiplicative fit's additive start."""
        return _fit_many(self, ys, inits, additive_optima)


def _fit_many(self: SharedDesign, ys: np.ndarray, inits: list[Mapping[str, Any] | None] | None = None,
              additive_optima: list | None = None) -> list[SeriesFit]:
    """`fit` for every row of `ys` (values on `ds`), with one batched solve (`solve_batch`) for all of
    them: the same starts, certificates, fallbacks and results as fitting them one by one."""
    ys = np.atleast_2d(np.asarray(ys, dtype=float))
    inits = inits if inits is not None else [None] * len(ys)
    d0, t = self.design, self.t_hist
    if self.scaling == "minmax":
        floor = ys.min(axis=1)
        scale = ys.max(axis=1) - floor
    else:
        floor = np.zeros(len(ys))
        scale = np.abs(ys).max(axis=1)
    scale = np.where(scale != 0, scale, 1.0)
    y_s = (ys - floor[:, None]) / scale[:, None]
    if self.trend_indicator == LINEAR:
        k0 = (y_s[:, -1] - y_s[:, 0]) / (t[-1] - t[0])
        m0 = y_s[:, 0] - k0 * t[0]
    else:
        k0, m0 = np.zeros(len(ys)), y_s.mean(axis=1)
    U0 = np.zeros((len(ys), 2 + d0.S))
    U0[:, 0], U0[:, 1] = k0, m0
    B0 = np.zeros((len(ys), d0.K))
    for i, init in enumerate(inits):
        if init is not None:
            start = _start({"k": k0[i], "m": m0[i], "sigma_obs": 1.0, "delta": U0[i, 2:], "beta": B0[i]}, init)
            U0[i] = np.concatenate([[start["k"], start["m"]], np.asarray(start["delta"], float).reshape(-1)])
            B0[i] = np.asarray(start["beta"], float).reshape(-1)
    constant = ys.max(axis=1) == ys.min(axis=1)
    varying = np.flatnonzero(~constant)
    known = None if additive_optima is None else [additive_optima[i] for i in varying]
    solved = dict(zip(varying, solve_batch(d0, y_s[varying], U0[varying], B0[varying], known), strict=True)) \
        if varying.size else {}
    return [_series_fit(self, solved.get(i), k0[i], m0[i], scale[i], floor[i]) for i in range(len(ys))]


def _series_fit(self: SharedDesign, fit: ExactFit | None, k0: float, m0: float, scale: float,
                floor: float) -> SeriesFit:
    """One series' `SeriesFit` from its solve (None for a constant series: Prophet's own rule, no
    fit, the start with sigma_obs = 1e-9), its start (k0, m0) and its scaling (y = y_s * scale + floor)."""
    d0 = self.design
    converged = True
    if fit is None:
        u, beta, sigma, lp = np.concatenate([[k0, m0], np.zeros(d0.S)]), np.zeros(d0.K), 1e-9, math.nan
        method = "prophet rule (constant series: no fit)"
    else:
        u = np.concatenate([fit.params["k"], fit.params["m"], fit.params["delta"]])
        beta, sigma, lp = fit.params["beta"], float(fit.params["sigma_obs"][0]), fit.lp
        converged = fit.converged or fit.degenerate
        method = (CERTIFIED if fit.converged else
                  f"exact (shared design, degenerate: {fit.note})" if fit.degenerate else
                  f"exact (shared design, not certified: {fit.note})")
    if self.no_changepoints:  # as Prophet.fit: fold the dummy changepoint's rate into k
        u = np.concatenate([[u[0] + u[2:].sum(), u[1]], np.zeros(d0.S)])
    trend = (self.phi_all @ u) * scale + floor
    factor = 1.0 + self.x_all @ (beta * self.s_m)
    yhat = trend * factor + scale * (self.x_all @ (beta * self.s_a))
    params = {"k": u[:1], "m": u[1:2], "delta": u[2:], "sigma_obs": np.array([sigma]), "beta": beta}
    return SeriesFit(yhat, lp, params, method, converged, trend, factor)


@dataclass
class ManyFits:
    """Fits of many series on the same dates: yhat over history then future, and per-series details."""

    ds: pd.DatetimeIndex        # history dates then future dates
    yhat: np.ndarray            # (n_series, len(ds)), as Prophet's predict()["yhat"]
    lp: np.ndarray              # (n_series,) log posterior (NaN where Prophet fitted no model)
    params: list[dict]          # per series: k, m, delta, sigma_obs, beta (flat arrays)
    methods: list[str]          # "exact (shared design)", or what the per-series Prophet fit used


def fit_predict_many(make_model: Callable[[], Any], ds, ys, future_ds, *,
                     method: str = "newton") -> ManyFits:
    """Fit ``make_model()`` (an un-fitted Prophet) to every row of `ys` (n_series x len(ds)), all
    on the dates `ds`, and predict yhat on `ds` followed by `future_ds`.

    Series go through one `SharedDesign`; where it is not usable, and for a series with missing y
    or one the shared solve cannot certify, the series goes through its own Prophet fit with the
    exact backend. Only yhat is computed: no uncertainty intervals.
    """
    ds = pd.DatetimeIndex(pd.to_datetime(pd.Series(ds)))
    ys = np.atleast_2d(np.asarray(ys, dtype=float))
    if ys.shape[1] != len(ds):
        raise ValueError(f"ys has {ys.shape[1]} columns for {len(ds)} dates")
    order = np.argsort(ds.to_numpy(), kind="mergesort")  # Prophet sorts the history, and predict's rows
    ds, ys = ds[order], ys[:, order]
    shared = SharedDesign(make_model(), ds, future_ds, method=method)
    all_ds = shared.all_ds
    lp = np.full(len(ys), np.nan)
    params: list[dict] = [{}] * len(ys)
    methods = [""] * len(ys)
    yhat = np.empty((len(ys), len(all_ds)))

    def one_by_one(i: int) -> None:
        model = use_exact_backend(make_model(), method)
        model.fit(pd.DataFrame({"ds": ds, "y": ys[i]}))
        if not model.mcmc_samples:
            model.uncertainty_samples = 0  # yhat does not depend on it
        yhat[i] = model.predict(pd.DataFrame({"ds": all_ds}))["yhat"].to_numpy()
        params[i] = {n: np.asarray(model.params[n], float).reshape(-1)
                     for n in ("k", "m", "delta", "sigma_obs", "beta")}
        backend = model.stan_backend
        methods[i] = backend.last_method or "prophet (constant series: no fit)"
        lp[i] = backend.last_fit.lp if backend.last_fit is not None else np.nan

    for i in range(len(ys)):
        fit = shared.fit(ys[i]) if shared.usable and np.all(np.isfinite(ys[i])) else None
        if fit is None or not fit.converged or "degenerate" in fit.method:
            one_by_one(i)  # as ExactStanBackend decides, through Prophet
            continue
        yhat[i], lp[i], params[i], methods[i] = fit.yhat, fit.lp, fit.params, fit.method
    return ManyFits(all_ds, yhat, lp, params, methods)


# ----------------------------------------------------------------------------- many series, one solve
#
# The same orthant-wise Newton method as `_orthant_newton`, run on many series of one design at
# once: every quantity gains a leading series axis, the Hessians are stacked (n, P, P) and solved
# by NumPy's batched LAPACK calls, and the line search runs for all series together with a step
# length per series. The free set differs per series: a fixed variable's row and column become
# the identity and its gradient zero, so its step is zero and the others' are those of the free
# subsystem. A series leaves the batch when it converges or stalls. Where the batched Cholesky
# finds a Hessian not positive definite, that iteration's steps go series by series through
# `_newton_step` (its fallbacks). A series the batch cannot certify is solved again by `_solve`
# (with its L-BFGS-B rescue), so the certificates and fallbacks are those of a single fit.


def _batch_mean(d: _Design, U: np.ndarray, B: np.ndarray):
    trend = U @ d.phi.T
    if d.has_mult:
        mult = 1.0 + B @ d.xm.T
        return trend, mult, trend * mult + B @ d.xa.T
    return trend, None, trend + B @ d.xa.T


def _batch_profiled_neg_lp(d: _Design, Y: np.ndarray, U: np.ndarray, B: np.ndarray):
    r = Y - _batch_mean(d, U, B)[2]
    rss = np.einsum("nt,nt->n", r, r)
    T = d.T
    sig2 = np.maximum(2.0 * rss / (T + np.sqrt(T * T + 16.0 * rss)), SIGMA_FLOOR**2)
    f = (0.5 * T * np.log(sig2) + 0.5 * rss / sig2 + 2.0 * sig2 + (U[:, 0] ** 2 + U[:, 1] ** 2) / 50.0
         + d.lam * np.abs(U[:, 2:]).sum(axis=1) + 0.5 * (B**2 @ d.inv_var))
    return f, np.sqrt(sig2)


def _batch_grad_hess(d: _Design, Y: np.ndarray, U: np.ndarray, B: np.ndarray, s: np.ndarray):
    """`_smooth_grad_hess` for a stack of series: g (n, P), H_tt (n, P, P), h (n, P), H_ss (n,)."""
    P_u = 2 + d.S
    trend, mult, mu = _batch_mean(d, U, B)
    r = Y - mu
    rss = np.einsum("nt,nt->n", r, r)
    w, e2s = np.exp(-2.0 * s), np.exp(2.0 * s)
    if d.has_mult:
        J = np.concatenate([d.phi[None] * mult[:, :, None], d.xa[None] + trend[:, :, None] * d.xm[None]], axis=2)
        H = np.matmul(J.transpose(0, 2, 1), J)
        C = np.matmul(d.phi.T[None] * r[:, None, :], d.xm)
        H[:, :P_u, P_u:] -= C
        H[:, P_u:, :P_u] -= C.transpose(0, 2, 1)
        Jr = np.einsum("ntp,nt->np", J, r)
    else:
        H = np.broadcast_to(d.jtj, (len(Y), *d.jtj.shape)).copy()
        Jr = np.concatenate([r @ d.phi, r @ d.xa], axis=1)
    H *= w[:, None, None]
    diag = np.arange(H.shape[1])
    H[:, 0, 0] += 1.0 / 25.0
    H[:, 1, 1] += 1.0 / 25.0
    H[:, diag[P_u:], diag[P_u:]] += d.inv_var
    g = -w[:, None] * Jr
    g[:, :2] += U[:, :2] / 25.0
    g[:, P_u:] += B * d.inv_var
    return g, H, 2.0 * w[:, None] * Jr, 2.0 * w * rss + 8.0 * e2s


def _batch_steps(H: np.ndarray, g: np.ndarray, H_fallback: np.ndarray, free: np.ndarray) -> np.ndarray:
    """-H^-1 g on each series' free variables (zero on the others), as `_newton_step` per series:
    H where it is positive definite, else H_fallback, else the Levenberg-Marquardt ladder of
    `_newton_step` on H_fallback. A fixed variable is an identity row and column with a zero
    right-hand side, so its step is zero and the free variables' are those of their subsystem."""
    both = free[:, :, None] & free[:, None, :]
    diag = np.arange(H.shape[1])
    rhs = np.where(free, g, 0.0)
    step = np.zeros_like(g)
    todo = np.arange(len(g))
    M = None
    for matrix in (H, H_fallback):
        if not todo.size:
            return step
        M = np.where(both[todo], matrix[todo], 0.0)
        M[:, diag, diag] += ~free[todo]
        solved, ok = _cholesky_steps(M, rhs[todo])
        step[todo[ok]] = solved[ok]
        todo, M = todo[~ok], M[~ok]
    if todo.size:  # neither positive definite
        step[todo] = _levenberg_marquardt_steps(M, rhs[todo], free[todo])
    return step


def _levenberg_marquardt_steps(M: np.ndarray, g: np.ndarray, free: np.ndarray) -> np.ndarray:
    """`_newton_step`'s last resort for a stack: the step of the scaled D^-1 M D^-1 + lambda I,
    D = sqrt(diag) over the free variables, with the smallest lambda of the same ladder that makes it
    positive definite; a scaled gradient step where none does (not reached for a finite matrix)."""
    diag = np.einsum("nii->ni", M)
    largest = np.where(free, diag, -np.inf).max(axis=1)
    scale = np.where(free, np.sqrt(np.maximum(diag, 1e-12 * np.maximum(largest, 1e-300)[:, None])), 1.0)
    Ms = M / scale[:, :, None] / scale[:, None, :]
    gs = g / scale
    step = -gs / scale
    todo = np.arange(len(g))
    eye = np.eye(M.shape[1])
    row_sums = np.where(free, np.abs(Ms).sum(axis=1), 0.0).max(axis=1)
    for lam in (1e-6, 1e-4, 1e-2, 1.0, None):
        if not todo.size:
            break
        shift = (row_sums[todo] + 1.0) if lam is None else np.full(todo.size, lam)
        solved, ok = _cholesky_steps(Ms[todo] + shift[:, None, None] * eye, gs[todo])
        step[todo[ok]] = solved[ok] / scale[todo[ok]]
        todo = todo[~ok]
    return step


def _cholesky_steps(M: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(-M^-1 rhs, ok) for each matrix of the stack, by LAPACK's Cholesky factor and solve in one call
    (dposv), the test and the solve `_newton_step` makes; ok is False where M is not positive definite
    or the step is not finite. Measured back to back on the demo's forecast (one worker, CPU s): 16.4 and
    18.7 this way against 19.5 and 20.5 with a Cholesky test a matrix and one batched LU for the stack,
    18.3 with the LU from 16 matrices up; the batched LU wins only on all-additive batches whose Hessians
    are all positive definite (`forecast_bench --engines-only`: 611 fits/s a core against 392)."""
    out = np.zeros_like(rhs)
    ok = np.zeros(len(M), bool)
    for j in range(len(M)):
        _, x, info = dposv(M[j], rhs[j], lower=1)
        if info == 0 and np.all(np.isfinite(x)):
            out[j], ok[j] = -x, True
    return out, ok


def _orthant_newton_batch(d: _Design, Y: np.ndarray, U: np.ndarray, B: np.ndarray,
                          max_iter: int = NEWTON_MAX_ITER):
    """`_orthant_newton` for every row of Y (scaled series on design `d`) from starts U, B.
    Returns U, B, sigma, iterations, converged (arrays with a leading series axis)."""
    n, P_u, lam = len(Y), 2 + d.S, d.lam
    cp_slice = slice(2, P_u)
    theta = np.concatenate([U, B], axis=1).astype(float)
    f, sigma = _batch_profiled_neg_lp(d, Y, theta[:, :P_u], theta[:, P_u:])
    decrement = np.full(n, math.inf)
    iterations = np.zeros(n, int)
    active = np.ones(n, bool)
    for _ in range(max_iter):
        a = np.flatnonzero(active)
        if not a.size:
            break
        iterations[a] += 1
        th, Ya, fa = theta[a], Y[a], f[a]
        g, H_fixed, h, H_ss = _batch_grad_hess(d, Ya, th[:, :P_u], th[:, P_u:], np.log(sigma[a]))
        H_prof = H_fixed - h[:, :, None] * h[:, None, :] / H_ss[:, None, None]
        delta, g_delta = th[:, cp_slice], g[:, cp_slice]
        at_zero = delta == 0
        orth = np.sign(delta)
        orth[at_zero & (g_delta < -lam)] = 1.0
        orth[at_zero & (g_delta > lam)] = -1.0
        pg = g.copy()
        pg[:, cp_slice] += lam * orth
        pg[:, cp_slice][orth == 0] = 0.0
        free = np.ones(th.shape, bool)
        free[:, cp_slice] = orth != 0
        step = _batch_steps(H_prof, pg, H_fixed, free)
        for _ in range(d.S):
            wrong = at_zero & (orth != 0) & (step[:, cp_slice] * orth < 0)
            rows = np.flatnonzero(wrong.any(axis=1))
            if not rows.size:
                break
            free[:, cp_slice][wrong] = False
            orth[wrong] = 0.0
            pg[:, cp_slice][wrong] = 0.0
            step[rows] = _batch_steps(H_prof[rows], pg[rows], H_fixed[rows], free[rows])
        dec = -np.einsum("np,np->n", pg, step)
        decrement[a] = dec
        moving = dec > NEWTON_TOL * np.maximum(1.0, np.abs(fa))  # a NaN stops too
        active[a[~moving]] = False
        m = np.flatnonzero(moving)
        if not m.size:
            continue
        th, st, og, fm, pgm = th[m], step[m], orth[m], fa[m], pg[m]
        dz, sd = at_zero[m], st[:, cp_slice]
        toward_zero = ~dz & (sd * og < 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            hits = np.where(toward_zero, -th[:, cp_slice] / np.where(toward_zero, sd, 1.0), math.inf)
        alpha_break = hits.min(axis=1) if d.S else np.full(len(m), math.inf)
        alpha = np.ones(len(m))
        new, f_new, sigma_new = th.copy(), np.full(len(m), math.inf), sigma[a[m]].copy()
        searching = np.ones(len(m), bool)
        for _ in range(60):
            s_rows = np.flatnonzero(searching)
            if not s_rows.size:
                break
            cand = th[s_rows] + alpha[s_rows, None] * st[s_rows]
            dn = cand[:, cp_slice]
            dn[(dn * og[s_rows] <= 0) | (hits[s_rows] <= alpha[s_rows, None])] = 0.0
            fc, sc = _batch_profiled_neg_lp(d, Ya[m[s_rows]], cand[:, :P_u], cand[:, P_u:])
            new[s_rows], f_new[s_rows], sigma_new[s_rows] = cand, fc, sc
            ok = fc <= fm[s_rows] + 1e-4 * np.minimum(np.einsum("np,np->n", pgm[s_rows], cand - th[s_rows]), 0.0)
            searching[s_rows[ok]] = False
            halve = s_rows[~ok]
            ab, al = alpha_break[halve], alpha[halve]
            alpha[halve] = np.where((al / 2 < ab) & (ab < al), ab, al / 2)
        improved = f_new < fm  # not improved: no decrease left at machine precision
        rows = a[m]
        active[rows[~improved]] = False
        up = rows[improved]
        theta[up], f[up], sigma[up] = new[improved], f_new[improved], sigma_new[improved]
    converged = (decrement <= NEWTON_TOL * np.maximum(1.0, np.abs(f))) & (sigma > 2 * SIGMA_FLOOR)
    return theta[:, :P_u], theta[:, P_u:], sigma, iterations, converged


def _batch_neg_lp(d: _Design, Y, U, B, sigma) -> np.ndarray:
    r = Y - _batch_mean(d, U, B)[2]
    return (d.T * np.log(sigma) + 0.5 * np.einsum("nt,nt->n", r, r) / sigma**2 + 2.0 * sigma**2
            + (U[:, 0] ** 2 + U[:, 1] ** 2) / 50.0 + d.lam * np.abs(U[:, 2:]).sum(axis=1)
            + 0.5 * (B**2 @ d.inv_var))


def solve_batch(d: _Design, Y: np.ndarray, U0: np.ndarray, B0: np.ndarray,
                additive_optima: list[tuple[np.ndarray, np.ndarray] | None] | None = None) -> list[ExactFit]:
    """`_solve` (method "newton") for every row of Y from the starts U0, B0, in batched solves.

    With multiplicative columns the certified fits are also started from the additive fits
    (`_additive_starts`, batched), keeping the best, as `_solve` does; where `additive_optima`
    gives a row's additive optimum (u, beta), solved already as a configuration of its own, that
    problem is not solved again: it is convex, so its optimum does not depend on the start (the
    first additive start, tau unchanged). Rows the batch cannot certify go through `_solve` one by
    one (its rescue and its notes)."""
    Y = np.asarray(Y, float)
    U, B, sigma, iterations, converged = _orthant_newton_batch(d, Y, U0, B0)
    lp = -_batch_neg_lp(d, Y, U, B, sigma)
    solver = ["newton"] * len(Y)
    c = np.flatnonzero(converged)
    if d.has_mult and c.size:
        mult = np.any(d.xm != 0, axis=0)
        xa = d.xa + d.xm
        J = np.hstack([d.phi, xa])
        additive = _Design(d.y, d.phi, xa, np.zeros_like(d.xm), d.inv_var, d.lam, False, J.T @ J)
        for factor, label in ADDITIVE_STARTS:
            Ua, Ba = np.zeros((len(c), 2 + d.S)), np.zeros((len(c), d.K))
            given = np.array([factor == 1.0 and additive_optima is not None and additive_optima[i] is not None
                              for i in c], bool)
            for j in np.flatnonzero(given):
                Ua[j], Ba[j] = additive_optima[c[j]]
            if (rest := np.flatnonzero(~given)).size:
                Ua[rest], Ba[rest], *_ = _orthant_newton_batch(dataclasses.replace(additive, lam=d.lam / factor),
                                                               Y[c[rest]], U0[c[rest]], np.zeros((len(rest), d.K)))
            level = (Ua @ d.phi.T).mean(axis=1)
            ok = (level > 0) & np.all(np.isfinite(Ba), axis=1)
            if not ok.any():
                continue
            rows, Ua, Ba = c[ok], Ua[ok], Ba[ok].copy()
            Ba[:, mult] /= level[ok, None]
            U2, B2, s2, it2, conv2 = _orthant_newton_batch(d, Y[rows], Ua, Ba)
            lp2 = -_batch_neg_lp(d, Y[rows], U2, B2, s2)
            better = conv2 & (lp2 > lp[rows])
            for j in np.flatnonzero(better):
                i = rows[j]
                U[i], B[i], sigma[i], lp[i], iterations[i] = U2[j], B2[j], s2[j], lp2[j], it2[j]
                solver[i] = f"newton from the {label}"
    fits: list[ExactFit] = []
    for i in range(len(Y)):
        # Solved again one by one even where degenerate (sigma slid to 0: no maximum): where a path
        # into that funnel stops depends on rounding, so a batch's stop would depend on the batch's
        # composition, i.e. on the executor and the worker count; one row alone stops in one place.
        if not converged[i]:
            start = {"k": U0[i, :1], "m": U0[i, 1:2], "delta": U0[i, 2:], "beta": B0[i]}
            fits.append(_solve(d.with_y(Y[i]), start, "newton"))
            continue
        params = {"k": U[i, :1].copy(), "m": U[i, 1:2].copy(), "delta": U[i, 2:].copy(),
                  "sigma_obs": np.array([sigma[i]]), "beta": B[i].copy(), "trend": d.phi @ U[i]}
        fits.append(ExactFit(params=params, lp=float(lp[i]), converged=True, note="", degenerate=False,
                             solver=solver[i], newton_iterations=int(iterations[i]), lbfgs_iterations=0))
    return fits
