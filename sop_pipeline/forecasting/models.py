"""The Prophet configurations that compete per series in the rolling backtest (`forecast.models`).

`auto` lets additive and multiplicative seasonality meet a stiff, Prophet's default and a flexible
trend (changepoint prior scale 0.01, 0.05, 0.3): multiplicative seasonality wins where the seasonal
swing grows with the level (most retail series), a stiff trend where changepoints would chase noise,
a flexible one where the level really moves. For 13 to 23 months of history, where Prophet fits no
yearly shape, a flat level and a stiff trend with one effect per calendar month join them (on
Walmart's 45 stores, 15-21 months at the benchmark's origins, they took the pipeline from 0.1302 to
0.1216 mean WAPE; seasonal naive 0.1207). Each series keeps the configuration with the lowest pooled
WAPE over the backtest's origins, or the simplest within one standard error of it (`simplicity`,
where every origin trained on two years or more); but where `forecast.combine_models` (3)
distinct ones are scored it publishes the mean of its best 3 and of the run's best 2 (lowest mean
backtest WAPE over all the run's series of its level, `backtest.run_ranking`: 3 to 5 forecasts),
always (with fewer, the mean or median of its best few where that did no worse); last cycle's choice
stays within 5% (`backtest.choose_models`). Ties, and series that cannot be backtested, keep the first (the
settings' own `seasonality_mode` and `changepoint_prior_scale`). The backtest races them
(`backtest.race_finalists`): all at the oldest and the latest origin, the best few at the others.

Beside them, for long histories, what a forecaster would try next (see AUTO_MORE); and damped
trends (AUTO_DAMPED): a parent configuration's own fit forecast with its trend's month-to-month
steps shrinking by phi per month, as ETS damps its trend (`fitting.damped`), for the series whose
last trend should not be extrapolated for a year and a half. A damped configuration costs no fit
(the batch solves its parent's problem once, `fitting.fit_exact_batch`), only its backtest scoring.

And level-corrected ones (AUTO_LEVEL, `<parent>_level<months>`, `<parent>_damped<phi>_level<months>`):
the parent's own fit, its forecast (damped first where phi is given) moved by its mean in-sample
residual over the latest 12 or 6 months (`fitting.level_corrected`), what a forecaster does when a
fitted trend lags the recent level. Prophet bends its trend only in the first 80% of the history, so
on long series the last years share one straight line that the level may have left. Again no fit of
their own. Measured with accuracy_bench (mean WAPE, main -> these ten; M1 / tourism every 7th series,
a development sample and a confirmation one from the 4th series on, `--sample-offset 3`): M1 0.1999 ->
0.1879 and 0.1752 -> 0.1657, tourism 0.1962 -> 0.1826 and 0.2098 -> 0.2015, the three single series
0.0473 -> 0.0453, Superstore 0.3735 -> 0.3722, Walmart 0.1192 -> 0.1188. Corrections of the held
trend (phi 0) and of the 0.9-damped ones won on the competitions too but lost on Superstore (0.3805,
0.3862), so they are not here (docs/benchmarks.md has the other levers tried).

Which of these does best over a run's hundreds of series its backtest tells well (M1's 386: the same
four best of 24 in the backtest and on the test months, all damped 0.8 and level-corrected), one series'
three origins do not: every M1 series on the run's best alone scored 0.1552 on the test months against
0.1707 for the per-series choice, but lost on Superstore's and Walmart's families. Its best 2 joining
each series' own best 3 (same samples, main -> this, mean WAPE): M1 0.1879 -> 0.1775 and 0.1657 ->
0.1628, tourism 0.1826 -> 0.1785 and 0.2015 -> 0.1945, the three single series 0.0453 -> 0.0453,
Superstore 0.3722 -> 0.3697, Walmart 0.1188 -> 0.1179; the whole corpus M1 0.1709 -> 0.1608, tourism
0.1881 -> 0.1844 (AutoETS 0.1480, AutoARIMA 0.1819 still ahead). Ranked over all levels at once (the
total with its families) Superstore's total took in the families' best, three times its own flat model's
backtest error: 0.3816.
"""

from __future__ import annotations

from dataclasses import replace

from sop_pipeline.config.schema import ForecastSettings
from sop_pipeline.forecasting.fitting import ProphetConfig

AUTO_CANDIDATES = (
    ("additive", 0.05), ("multiplicative", 0.05),
    ("additive", 0.01), ("multiplicative", 0.01),
    ("additive", 0.3), ("multiplicative", 0.3),
)
# A level without trend and a yearly shape even below two years (a low-order one): on short histories
# the season is most of what can be learnt and a trend fitted to a year and a half mostly extrapolates noise.
AUTO_FLAT = (("additive", 0.05),)
# (name, seasonality mode, changepoint prior scale, changepoint range, transform, window in years)
AUTO_MORE = (
    ("log_additive_cps0.05", "additive", 0.05, 0.8, "log", None),
    ("multiplicative_cps0.05_last8y", "multiplicative", 0.05, 0.9, "none", 8),
)

# (parent configuration, phi): the parent's fit with its trend damped (`fitting.damped`), a forecast of
# the same fit, so no fit of its own (the batch solves the parent's problem once).
AUTO_DAMPED = (
    ("multiplicative_cps0.05", 0.9), ("additive_cps0.05", 0.9),
    ("multiplicative_cps0.3", 0.9), ("additive_cps0.3", 0.9),
)
# (parent configuration, phi, months): the parent's fit, its trend damped by phi where phi is given
# (`fitting.damped`), its forecast moved by its mean residual over the latest months
# (`fitting.level_corrected`), again no fit of its own. The stiff and default trends only: they are the
# ones that lag a level that moved in the last years. Damped hard (0.8: the trend's steps add up to four
# months' worth) and moved, the forecast is the recent level with a trend that fades, as a damped-trend
# exponential smoothing forecasts, Prophet's seasonal shape on top.
AUTO_LEVEL = (
    ("multiplicative_cps0.05", None, 12), ("additive_cps0.05", None, 12),
    ("multiplicative_cps0.01", None, 12), ("additive_cps0.01", None, 12),
    ("multiplicative_cps0.05", None, 6), ("additive_cps0.05", None, 6),
    ("multiplicative_cps0.05", 0.8, 6), ("additive_cps0.05", 0.8, 6),
    ("multiplicative_cps0.01", 0.8, 6), ("additive_cps0.01", 0.8, 6),
)


def simplicity(config: ProphetConfig) -> tuple:
    """How simple a configuration is, simplest lowest (the one-standard-error rule keeps the simplest
    within noise of the best, `backtest.simplest_within_noise`): a level without trend before a
    trend, a stiffer trend before a more flexible one, a more damped one before a less damped (the level
    held, phi 0, first; Prophet's own extrapolation last), additive seasonality before multiplicative,
    the units before their log, the whole history before a window of it."""
    return (config.growth != "flat", config.changepoint_prior_scale,
            1.0 if config.damping is None else config.damping, config.seasonality_mode != "additive",
            config.transform != "none", config.window_months is not None, config.level_months is not None)


def model_name(seasonality_mode: str, changepoint_prior_scale: float) -> str:
    return f"{seasonality_mode}_cps{changepoint_prior_scale:g}"


def damped_name(parent: str, phi: float) -> str:
    return f"{parent}_damped{phi:g}"


def level_name(parent: str, phi: float | None, months: int) -> str:
    """`<parent>_level<months>`, or `<parent>_damped<phi>_level<months>` where the trend is damped."""
    return (parent if phi is None else damped_name(parent, phi)) + f"_level{months}"


def model_configs(settings: ForecastSettings) -> list[ProphetConfig]:
    """The configurations of `settings.models`, the default (first) one first."""
    common = {"seasonality_prior_scale": settings.seasonality_prior_scale,
              "country_holidays": settings.country_holidays, "engine": settings.engine}
    if isinstance(settings.models, list):
        return [ProphetConfig(spec.seasonality_mode, spec.changepoint_prior_scale, name=spec.name,
                              changepoint_range=spec.changepoint_range, transform=spec.transform, damping=spec.damping,
                              level_months=spec.level_months,
                              window_months=None if spec.window_years is None else 12 * spec.window_years, **common)
                for spec in settings.models]
    first = (settings.seasonality_mode, settings.changepoint_prior_scale)
    pairs = [first] if settings.models == "default" else [first] + [p for p in AUTO_CANDIDATES if p != first]
    configs = [ProphetConfig(mode, cps, name=model_name(mode, cps), **common) for mode, cps in pairs]
    if settings.models == "auto":
        configs += [ProphetConfig(mode, cps, name=f"flat_{mode}", growth="flat", yearly="months", **common)
                    for mode, cps in AUTO_FLAT]
        configs.append(ProphetConfig("additive", 0.01, name="monthly_additive_cps0.01", yearly="months", **common))
        configs += [ProphetConfig(mode, cps, name=name, changepoint_range=cpr, transform=transform,
                                  window_months=None if years is None else 12 * years, **common)
                    for name, mode, cps, cpr, transform, years in AUTO_MORE]
        by_name = {c.name: c for c in configs}
        configs += [replace(by_name[parent], name=damped_name(parent, phi), damping=phi)
                    for parent, phi in AUTO_DAMPED if parent in by_name]
        configs += [replace(by_name[parent], name=level_name(parent, phi, months), damping=phi, level_months=months)
                    for parent, phi, months in AUTO_LEVEL if parent in by_name]
    return configs
