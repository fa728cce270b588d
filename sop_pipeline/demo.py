"""The demo data generator: daily sales of a kitchen and home-goods maker.

`python -m sop_pipeline.demo [--out assets/demo] [--seed 2026]` writes `sales_history.csv` with the
columns `date,sku,family,units,revenue` (ISO dates): six product families, about 150 SKUs (ids like
`CKW-0001`) and four years of daily sales ending on 2026-10-31, so the default plan cycle is 2026-11.

What is in it, so forecasts and plans have something real to find:
- trend: each SKU grows or shrinks by its own yearly rate;
- yearly seasonality with different peaks per family (Q4 gifting for cookware, cutlery and small
  appliances; holiday baking for bakeware; January and back-to-school organising for storage;
  spring and summer for textiles) and a weekly pattern (weekends sell more);
- noise: negative-binomial daily units (Poisson with a gamma-distributed rate), so slow movers
  have many days without a sale; zero-sale days are omitted from the file;
- life cycles: a few SKUs are discontinued (sales fade, then stop) and a few are launched
  mid-history (sales ramp up over a few months);
- prices: each SKU has a list price that rises 3 % every January; on promotion days (about 6 % of
  days) it sells at a 10-25 % discount and sells more. revenue = units × the day's price.

Everything comes from `numpy.random.default_rng(seed)`, so the same seed gives the same file,
byte for byte. `write_large_sales` streams tens of millions of rows in chunks with bounded memory,
for ingest benchmarks.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

DEMO_END = date(2026, 10, 31)
DEMO_SEED = 2026
DEMO_SKUS = 150
DEMO_YEARS = 4


@dataclass(frozen=True)
class Family:
    name: str
    prefix: str
    share: float  # of the SKU count
    price_range: tuple[float, float]
    # Seasonal peaks: (day of year, height relative to the base, width in days).
    peaks: tuple[tuple[int, float, float], ...]


FAMILIES: tuple[Family, ...] = (
    Family("Cookware", "CKW", 0.20, (25.0, 180.0), ((340, 1.2, 25), (130, 0.3, 20))),
    Family("Cutlery", "CUT", 0.15, (10.0, 150.0), ((350, 1.5, 20), (160, 0.3, 20))),
    Family("Bakeware", "BKW", 0.15, (8.0, 45.0), ((330, 1.0, 30), (100, 0.4, 15))),
    Family("Small Appliances", "SAP", 0.15, (30.0, 250.0), ((332, 1.8, 15), (355, 0.8, 10))),
    Family("Storage", "STO", 0.17, (5.0, 40.0), ((15, 0.9, 20), (230, 0.7, 20))),
    Family("Textiles", "TEX", 0.18, (6.0, 50.0), ((140, 0.7, 45), (300, 0.2, 20))),
)

# Monday .. Sunday: shoppers buy more at weekends.
WEEKDAY_FACTOR = np.array([0.85, 0.9, 0.95, 1.0, 1.1, 1.3, 1.2])
PROMO_PROBABILITY = 0.06
PROMO_UPLIFT = 1.6
PRICE_RISE_PER_YEAR = 0.03
DISPERSION = 3.0  # gamma shape: lower = noisier days
LIFECYCLE_RAMP_DAYS = 90.0  # launches ramp up, discontinued SKUs fade out, over about this long
NEVER = 10**9  # end day of SKUs that are not discontinued


@dataclass(frozen=True)
class Catalogue:
    """The SKUs and their hidden attributes (one array element per SKU)."""

    sku: np.ndarray
    family: np.ndarray
    season_index: np.ndarray  # index into FAMILIES
    base_rate: np.ndarray  # mean units per day before trend and season
    growth: np.ndarray  # yearly trend
    price: np.ndarray  # list price on day 0
    launch_day: np.ndarray  # day index of the first possible sale (0 = sold from the start)
    end_day: np.ndarray  # day index after the last possible sale (NEVER = not discontinued)


def _catalogue(n_skus: int, n_days: int, rng: np.random.Generator,
               launched_share: float, discontinued_share: float) -> Catalogue:
    shares = np.array([f.share for f in FAMILIES])
    counts = np.floor(shares / shares.sum() * n_skus).astype(int)
    counts[: n_skus - counts.sum()] += 1  # hand out the rounding remainder
    season_index = np.repeat(np.arange(len(FAMILIES)), counts)
    sku = np.array([f"{FAMILIES[f].prefix}-{i + 1:04d}"
                    for f, n in enumerate(counts) for i in range(n)])
    family = np.array([FAMILIES[f].name for f in season_index])

    low = np.array([FAMILIES[f].price_range[0] for f in season_index])
    high = np.array([FAMILIES[f].price_range[1] for f in season_index])
    position = rng.uniform(0, 1, n_skus)
    price = np.round(low * (high / low) ** position, 2) - 0.01  # log-uniform, priced like x.99
    price = np.maximum(price, 0.99)
    # Dearer items sell fewer units; a log-normal spread gives a few fast movers and a long tail.
    base_rate = np.exp(rng.normal(0.6, 0.9, n_skus)) * (1.6 - position)
    growth = rng.normal(0.04, 0.08, n_skus)

    launch_day = np.zeros(n_skus, dtype=np.int64)
    end_day = np.full(n_skus, NEVER, dtype=np.int64)
    order = rng.permutation(n_skus)
    n_launched = int(round(launched_share * n_skus))
    n_ended = int(round(discontinued_share * n_skus))
    launched, ended = order[:n_launched], order[n_launched:n_launched + n_ended]
    # Launches between a quarter and about five sixths of the way in, so most have a year or more
    # of sales (useful analogs for new products) and a few are still ramping up.
    launch_day[launched] = rng.integers(n_days // 4, max(n_days * 5 // 6, n_days // 4 + 1), n_launched)
    end_day[ended] = rng.integers(n_days // 2, max(n_days - 120, n_days // 2 + 1), n_ended)
    # Launched SKUs start well: new items are stocked to sell.
    base_rate[launched] = np.maximum(base_rate[launched], 1.5)
    return Catalogue(sku, family, season_index, base_rate, growth, price, launch_day, end_day)


def _season_table() -> np.ndarray:
    """Seasonal factor by family (row) and day of year 1..366 (column), averaging 1 over a year."""
    doy = np.arange(1, 367)
    table = np.ones((len(FAMILIES), doy.size))
    for f, fam in enumerate(FAMILIES):
        for peak_day, height, width in fam.peaks:
            distance = np.abs(doy - peak_day)
            distance = np.minimum(distance, 365.25 - distance)  # wrap around the new year
            table[f] += height * np.exp(-0.5 * (distance / width) ** 2)
        table[f] /= table[f][:365].mean()
    return table


def _simulate(cat: Catalogue, start: date, day_from: int, day_to: int,
              rng: np.random.Generator, season: np.ndarray) -> pl.DataFrame:
    """Sales of every SKU on days [day_from, day_to) counted from `start`; zero days omitted."""
    days = np.arange(day_from, day_to)
    dates = np.datetime64(start) + days.astype("timedelta64[D]")
    doy = (dates - dates.astype("datetime64[Y]")).astype(int)  # 0-based day of year
    weekday = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    start_year = start.year

    d = days[:, None]
    lam = (cat.base_rate[None, :]
           * np.exp(cat.growth[None, :] * d / 365.25)
           * season[cat.season_index[None, :], doy[:, None]]
           * WEEKDAY_FACTOR[weekday][:, None])
    # Life cycle: a logistic ramp after launch, a fade before discontinuation, nothing outside.
    since_launch = d - cat.launch_day[None, :]
    ramp = 1.0 / (1.0 + np.exp(-(since_launch - LIFECYCLE_RAMP_DAYS / 2) / (LIFECYCLE_RAMP_DAYS / 8)))
    lam *= np.where(cat.launch_day[None, :] > 0, ramp, 1.0)
    to_end = cat.end_day[None, :] - d
    lam *= np.clip(to_end / LIFECYCLE_RAMP_DAYS, 0.0, 1.0) ** 0.7
    lam[(since_launch < 0) | (to_end <= 0)] = 0.0

    promo = rng.random(lam.shape) < PROMO_PROBABILITY
    lam = np.where(promo, lam * PROMO_UPLIFT, lam)
    rate = rng.gamma(DISPERSION, 1.0 / DISPERSION, lam.shape) * lam
    units = rng.poisson(rate)
    discount = np.where(promo, rng.uniform(0.10, 0.25, lam.shape), 0.0)

    day_idx, sku_idx = np.nonzero(units)
    list_price = cat.price[sku_idx] * (1 + PRICE_RISE_PER_YEAR) ** (years[day_idx] - start_year)
    sold = units[day_idx, sku_idx]
    revenue = np.round(sold * np.round(list_price * (1 - discount[day_idx, sku_idx]), 2), 2)
    return pl.DataFrame({
        "date": dates[day_idx],
        "sku": cat.sku[sku_idx],
        "family": cat.family[sku_idx],
        "units": sold.astype(np.int64),
        "revenue": revenue,
    }).with_columns(pl.col("date").cast(pl.Date))


def _chunk_days(n_skus: int, max_cells: int = 2_000_000) -> int:
    # At most a year at a time, and about 2 million SKU-days (a few arrays of 16 MB) per chunk.
    return max(1, min(366, max_cells // max(n_skus, 1)))


def generate_sales(n_skus: int = DEMO_SKUS, n_days: int | None = None, seed: int = DEMO_SEED,
                   end: date = DEMO_END, launched_share: float = 0.08,
                   discontinued_share: float = 0.06) -> pl.DataFrame:
    """Daily sales `date (Date), sku, family, units (Int64), revenue (Float64)`, sorted by date, sku.

    `n_days` defaults to four years ending on `end` (inclusive). Zero-sale days are not rows.
    """
    if n_days is None:
        n_days = (end - date(end.year - DEMO_YEARS, end.month, end.day)).days
    start = end - timedelta(days=n_days - 1)
    rng = np.random.default_rng(seed)
    cat = _catalogue(n_skus, n_days, rng, launched_share, discontinued_share)
    season = _season_table()
    step = _chunk_days(n_skus)
    parts = [_simulate(cat, start, lo, min(lo + step, n_days), rng, season)
             for lo in range(0, n_days, step)]
    return pl.concat(parts).sort("date", "sku")


def write_sales_csv(frame: pl.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, date_format="%Y-%m-%d", float_precision=2)
    return path


def write_large_sales(path: str | Path, n_rows: int, seed: int = DEMO_SEED, n_skus: int = 5000,
                      end: date = DEMO_END) -> Path:
    """Stream exactly `n_rows` rows of daily sales to a CSV, chunk by chunk (bounded memory).

    Same columns and model as `generate_sales`; the history starts early enough (estimated from
    the expected rows per day) to end near `end`, and stops as soon as `n_rows` are written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    season = _season_table()
    # Rows per day, measured on a year of a small sample, sets the span of days that the launch
    # and discontinuation dates are spread over.
    sample = min(n_skus, 200)
    probe = generate_sales(n_skus=sample, n_days=365, seed=seed, end=end,
                           launched_share=0.0, discontinued_share=0.0)
    rows_per_day = max(probe.height / 365 * n_skus / sample, 1.0)
    n_days = max(int(math.ceil(n_rows / rows_per_day * 1.1)), 1)
    start = end - timedelta(days=n_days - 1)
    cat = _catalogue(n_skus, n_days, rng, 0.08, 0.06)
    step = _chunk_days(n_skus)
    written, lo = 0, 0
    with path.open("wb") as out:
        while written < n_rows:
            chunk = _simulate(cat, start, lo, lo + step, rng, season)
            chunk = chunk.sort("date", "sku").head(n_rows - written)
            chunk.write_csv(out, include_header=(written == 0), date_format="%Y-%m-%d",
                            float_precision=2)
            written += chunk.height
            lo += step
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sop_pipeline.demo",
                                     description="Write the demo sales history (sales_history.csv).")
    parser.add_argument("--out", default="assets/demo", help="folder to write into")
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--skus", type=int, default=DEMO_SKUS)
    parser.add_argument("--large-rows", type=int, default=None,
                        help="instead, stream this many rows to <out>/sales_large.csv (benchmarks)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.large_rows:
        path = write_large_sales(out / "sales_large.csv", args.large_rows, args.seed, n_skus=args.skus)
    else:
        path = write_sales_csv(generate_sales(n_skus=args.skus, seed=args.seed), out / "sales_history.csv")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
