"""The demo data generator: deterministic, and it has what its docstring promises."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from sop_pipeline.demo import DEMO_END, generate_sales, main, write_large_sales
from tests.support.files import PROJECT_ROOT

DEMO_CSV = PROJECT_ROOT / "assets" / "demo" / "sales_history.csv"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    return pl.read_csv(DEMO_CSV, try_parse_dates=True)


def test_same_seed_same_bytes_and_committed_file_is_current(tmp_path):
    main(["--out", str(tmp_path / "a")])
    main(["--out", str(tmp_path / "b")])
    first, second = tmp_path / "a" / "sales_history.csv", tmp_path / "b" / "sales_history.csv"
    assert _sha(first) == _sha(second)
    # The shipped demo file is exactly what the generator makes.
    assert _sha(first) == _sha(DEMO_CSV)


def test_other_seed_other_data():
    a = generate_sales(n_skus=20, n_days=60, seed=1)
    b = generate_sales(n_skus=20, n_days=60, seed=2)
    assert not a.equals(b)


def test_demo_file_shape(demo):
    assert demo.columns == ["date", "sku", "family", "units", "revenue"]
    assert DEMO_CSV.stat().st_size < 10_000_000
    assert demo["date"].dtype == pl.Date
    assert demo["date"].max() == DEMO_END == date(2026, 10, 31)
    assert demo["date"].min() == date(2022, 11, 1)
    assert set(demo["family"].unique()) == {
        "Cookware", "Cutlery", "Bakeware", "Small Appliances", "Storage", "Textiles"}
    assert demo["sku"].n_unique() == 150
    assert demo["sku"].str.contains(r"^[A-Z]{3}-\d{4}$").all()
    # Each SKU belongs to one family.
    assert demo.group_by("sku").agg(pl.col("family").n_unique())["family"].max() == 1
    assert (demo["units"] > 0).all()  # zero-sale days are omitted
    # Not every SKU sells every day.
    assert demo.height < 150 * demo["date"].n_unique()


def test_demo_has_launches_discontinuations_and_seasonality(demo):
    life = demo.group_by("sku").agg(first=pl.col("date").min(), last=pl.col("date").max())
    launched = life.filter(pl.col("first") > date(2023, 3, 1))
    ended = life.filter(pl.col("last") < date(2026, 7, 1))
    assert launched.height >= 5
    assert ended.height >= 4

    monthly = demo.group_by("family", month=pl.col("date").dt.month()).agg(pl.col("units").sum())
    peak = monthly.sort("units", descending=True).group_by("family").first()
    peaks = dict(zip(peak["family"], peak["month"]))
    # Gifting families peak in Q4; textiles and storage do not.
    assert peaks["Cookware"] in (11, 12) and peaks["Small Appliances"] in (11, 12)
    assert peaks["Textiles"] not in (10, 11, 12)
    assert peaks["Storage"] not in (10, 11, 12)


def test_revenue_is_units_times_a_price_near_list(demo):
    price = demo.with_columns(p=pl.col("revenue") / pl.col("units"))
    spread = price.group_by("sku", year=pl.col("date").dt.year()).agg(
        lo=pl.col("p").min(), hi=pl.col("p").max())
    # Promotions discount at most 25 %, so the cheapest sale is at least ~70 % of the dearest.
    assert (spread["lo"] / spread["hi"]).min() > 0.7


def test_write_large_sales_exact_rows_many_skus(tmp_path):
    path = write_large_sales(tmp_path / "large.csv", n_rows=30_000, seed=3, n_skus=400)
    frame = pl.read_csv(path, try_parse_dates=True)
    assert frame.height == 30_000
    assert frame.columns == ["date", "sku", "family", "units", "revenue"]
    assert frame["sku"].n_unique() == 400
    assert frame["date"].is_sorted()
