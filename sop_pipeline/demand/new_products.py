"""New-product launch curves: planned units of products that have no sales history yet.

The catalogue (`new_products.csv`, one row per new product) has these columns:

| column | required | meaning |
|---|---|---|
| `product` | yes | the new SKU id (must not already have sales) |
| `family` | yes | its product family (one that has sales history) |
| `launch_month` | yes | `YYYY-MM`, the first month it sells |
| `analogs` | no | SKUs whose launches it should resemble, weighted: `CKW-0003:0.6\\|CKW-0007:0.4` (no `:weight`: 1; relative) |
| `expected_peak_units` | with no analogs | monthly units at the peak of the curve; with analogs it rescales their curve |
| `months_to_peak` | no | months of the standard ramp (default 6), used when no analog is usable |
| `cannibalization_share` | no | 0..1: this share of the product's units is taken from the other SKUs of its family (default 0) |
| `unit_price` | no | price per unit; default: the analogs' average price, else the family's |

How the curve is made (`launch_curves`):
- An analog's curve is its monthly units counted from its first selling month (month 0) to the
  last month of history, months without sales counted as zero. An analog with fewer than
  `min_analog_months` months of curve (launched too recently) is unusable and left out.
  (An analog that has sold since the first month of history shows no launch: its curve is its
  first months of history.)
- Each usable analog's curve is divided by its own peak (its largest month), the normalised
  curves are averaged with the analogs' weights, and the average is scaled so that its peak is
  `expected_peak_units` when given, else the weighted average of the analogs' own peaks. Where
  the product's horizon runs past an analog's observed curve, that analog continues at the
  average of its last three observed months (a launch has settled by then).
- With no usable analog, the standard ramp applies: month `m` since launch (0, 1, ...) plans
  `expected_peak_units × min(1, (m + 1) / months_to_peak)`: a straight ramp that reaches the
  peak in month `months_to_peak - 1` and stays flat after it.
- `cannibalized_units = planned_units × cannibalization_share` (taken from the family's other
  SKUs in the demand plan), `planned_revenue = planned_units × unit_price`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.common.limits import MAX_VALUE
from sop_pipeline.common.months import add_months, months_between, parse_month
from sop_pipeline.common.readers import Problems, parse_number, read_text_table

WHAT = "new-product catalogue"
REQUIRED = ("product", "family", "launch_month")
OPTIONAL = ("analogs", "expected_peak_units", "months_to_peak", "cannibalization_share", "unit_price")
DEFAULT_MONTHS_TO_PEAK = 6
MIN_ANALOG_MONTHS = 6
SETTLED_MONTHS = 3  # an analog's curve continues at the average of its last months

ANALOG = pl.Struct({"sku": pl.String, "weight": pl.Float64})
CATALOGUE_SCHEMA = {
    "source": pl.String, "line": pl.Int64, "product": pl.String, "family": pl.String,
    "launch_month": pl.Date, "analogs": pl.List(ANALOG), "expected_peak_units": pl.Float64,
    "months_to_peak": pl.Int64, "cannibalization_share": pl.Float64, "unit_price": pl.Float64,
}
PLAN_SCHEMA = {
    "product": pl.String, "family": pl.String, "month": pl.Date, "launch_month": pl.Date,
    "months_since_launch": pl.Int64, "analog": pl.String, "curve": pl.String,
    "planned_units": pl.Float64, "cannibalized_units": pl.Float64, "unit_price": pl.Float64,
    "planned_revenue": pl.Float64,
}


def _parse_analogs(text: str, line: int, problems: Problems) -> list[dict]:
    analogs = []
    for part in text.split("|"):
        sku, sep, weight_text = part.strip().partition(":")
        sku = sku.strip()
        weight = parse_number(weight_text) if sep else 1.0
        if not sku:
            problems.add(line, "analogs", f"{text!r} has an empty SKU; write SKU:weight pairs separated by |, "
                                          "e.g. CKW-0003:0.6|CKW-0007:0.4")
        elif weight is None or weight <= 0:
            problems.add(line, "analogs", f"the weight of {sku} ({weight_text.strip()!r}) is not a positive number; "
                                          "write SKU:weight with a weight above 0, e.g. CKW-0003:0.6")
        else:
            analogs.append({"sku": sku, "weight": weight})
    return analogs


def _number(row: dict, column: str, line: int, problems: Problems, low: float | None = 0.0,
            high: float | None = MAX_VALUE, whole: bool = False) -> float | None:
    text = row[column]
    if text is None:
        return None
    value = parse_number(text)
    bounds = (f"at least {low:g}" if low is not None else "") + (f" and at most {high:g}" if high is not None else "")
    if value is None or (low is not None and value < low) or (high is not None and value > high) \
            or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        problems.add(line, column, f"{text!r} is not {kind} {bounds}".rstrip() + "; correct it or leave the cell empty")
        return None
    return value


def load_new_products(path: str | Path) -> pl.DataFrame:
    """Read and validate the catalogue; one row per product with `CATALOGUE_SCHEMA` columns.

    `analogs` is parsed into a list of {sku, weight}; `source` and `line` name the row for later
    errors. Raises InputDataError listing every bad cell (line, column, value, what to write).
    """
    frame = read_text_table(path, WHAT, REQUIRED, OPTIONAL)
    problems = Problems(path, WHAT)
    rows = []
    seen: dict[str, int] = {}
    for row in frame.iter_rows(named=True):
        line = row["line"]
        for column in REQUIRED:
            if row[column] is None:
                problems.add(line, column, f"{column} is empty; every row needs product, family and launch_month")
        product = row["product"]
        if product is not None:
            if product in seen:
                problems.add(line, "product", f"product {product!r} is listed twice (also line {seen[product]}); "
                                              "keep one row per product")
            seen.setdefault(product, line)
        launch = None
        if row["launch_month"] is not None:
            launch = parse_month(row["launch_month"])
            if launch is None:
                problems.add(line, "launch_month", f"{row['launch_month']!r} is not a month; write YYYY-MM, e.g. 2027-03")
        analogs = _parse_analogs(row["analogs"], line, problems) if row["analogs"] else []
        if product is not None and any(a["sku"] == product for a in analogs):
            problems.add(line, "analogs", f"product {product!r} cannot be its own analog; name existing SKUs")
        peak = _number(row, "expected_peak_units", line, problems)
        months_to_peak = _number(row, "months_to_peak", line, problems, low=1, whole=True)
        share = _number(row, "cannibalization_share", line, problems, high=1.0)
        price = _number(row, "unit_price", line, problems)
        if not analogs and row["analogs"] is None and row["expected_peak_units"] is None:
            problems.add(line, "expected_peak_units", "the product has neither analogs nor expected_peak_units; "
                                                      "give one of them so its volume can be planned")
        rows.append({
            "source": str(path), "line": line, "product": product, "family": row["family"],
            "launch_month": launch, "analogs": analogs, "expected_peak_units": peak,
            "months_to_peak": int(months_to_peak) if months_to_peak is not None else DEFAULT_MONTHS_TO_PEAK,
            "cannibalization_share": share if share is not None else 0.0, "unit_price": price,
        })
    problems.raise_if_any("Correct these cells and run again; the columns are described in the README")
    return pl.DataFrame(rows, schema=CATALOGUE_SCHEMA)


def _analog_curves(history: pl.DataFrame, skus: Iterable[str], last_month: date) -> dict[str, np.ndarray]:
    """Monthly units of each SKU from its first selling month to `last_month`, zeros filled in."""
    sold = (history.filter(pl.col("sku").is_in(list(skus)), pl.col("units") > 0)
            .group_by("sku", "month").agg(pl.col("units").sum()))
    curves = {}
    for (sku,), part in sold.group_by("sku"):
        first = part["month"].min()
        curve = np.zeros(months_between(first, last_month) + 1)
        index = [months_between(first, m) for m in part["month"]]
        curve[index] = part["units"].to_numpy()
        curves[sku] = curve
    return curves


def _extend(curve: np.ndarray, length: int) -> np.ndarray:
    if curve.size >= length:
        return curve[:length]
    settled = curve[-SETTLED_MONTHS:].mean()
    return np.concatenate([curve, np.full(length - curve.size, settled)])


def _average_price(history: pl.DataFrame, key: str, values: list[str]) -> dict[str, float]:
    if "revenue" not in history.columns:
        return {}
    prices = (history.filter(pl.col(key).is_in(values), pl.col("units") > 0, pl.col("revenue").is_not_null())
              .group_by(key).agg(price=pl.col("revenue").sum() / pl.col("units").sum()))
    return dict(zip(prices[key], prices["price"]))


def launch_curves(catalogue: pl.DataFrame, history: pl.DataFrame, cycle: date, horizon_months: int,
                  known_skus: Iterable[str] | None = None, families: Iterable[str] | None = None,
                  min_analog_months: int = MIN_ANALOG_MONTHS) -> pl.DataFrame:
    """Planned units of each new product for the horizon months from its launch on.

    `catalogue`: from `load_new_products`. `history`: monthly `family, sku, month (Date, first of
    month), units, revenue`. `known_skus` (default: the history's SKUs) are ids a new product may
    not take; `families` (default: the history's) are the families it may belong to. Returns
    `PLAN_SCHEMA` columns, one row per product and month in cycle .. cycle + horizon - 1 from its
    launch month on (`curve` says "analogs" or "standard ramp"; `analog` lists the analogs used).
    """
    horizon = [add_months(cycle, i) for i in range(horizon_months)]
    if catalogue.is_empty():
        return pl.DataFrame(schema=PLAN_SCHEMA)
    source = catalogue["source"][0]
    history_skus = set(history["sku"].unique())
    known = set(known_skus) if known_skus is not None else history_skus
    family_names = set(families) if families is not None else set(history["family"].unique())
    history_start = history["month"].min()
    last_month = add_months(cycle, -1)
    history = history.filter(pl.col("month") <= last_month)
    listed = sorted({a["sku"] for analogs in catalogue["analogs"] for a in analogs})
    curves = _analog_curves(history, listed, last_month)
    analog_price = _average_price(history, "sku", listed)
    family_price = _average_price(history, "family", sorted(family_names))

    problems = Problems(source, WHAT)
    parts = []
    for row in catalogue.iter_rows(named=True):
        line, product, family = row["line"], row["product"], row["family"]
        if family not in family_names:
            problems.add(line, "family", f"family {family!r} of product {product} has no sales history; "
                                         f"use one of {', '.join(sorted(family_names))}")
        if product in known:
            problems.add(line, "product", f"product {product!r} already has sales history; "
                                          "give the new product an unused id or remove its row")
        if history_start is not None and row["launch_month"] < history_start:
            problems.add(line, "launch_month", f"launch month {row['launch_month']:%Y-%m} of {product} is before the "
                                               f"sales history starts ({history_start:%Y-%m}); a product launched "
                                               "that long ago belongs in the sales history, not the catalogue")
        missing = [a["sku"] for a in row["analogs"] if a["sku"] not in history_skus]
        if missing:
            problems.add(line, "analogs", f"analog SKU(s) {', '.join(missing)} of {product} are not in the sales "
                                          "history; name SKUs that have sold")
        if problems.items:
            continue
        months = [m for m in horizon if m >= row["launch_month"]]
        if not months:
            continue
        since = np.array([months_between(row["launch_month"], m) for m in months])
        usable = [a for a in row["analogs"] if a["sku"] in curves and curves[a["sku"]].size >= min_analog_months]
        peak = row["expected_peak_units"]
        if usable:
            weights = np.array([a["weight"] for a in usable])
            weights = weights / weights.sum()
            raw = [_extend(curves[a["sku"]], since.max() + 1) for a in usable]
            peaks = np.array([curves[a["sku"]].max() for a in usable])
            shape = sum(w * c / p for w, c, p in zip(weights, raw, peaks))
            scale = peak if peak is not None else float(weights @ peaks)
            units = shape[since] / shape.max() * scale if shape.max() > 0 else np.zeros(since.size)
            curve_name = "analogs"
            analog = "|".join(f"{a['sku']}:{w:.2f}" for a, w in zip(usable, weights))
        elif peak is not None:
            units = peak * np.minimum(1.0, (since + 1) / row["months_to_peak"])
            curve_name, analog = "standard ramp", None
        else:
            names = ", ".join(a["sku"] for a in row["analogs"])
            problems.add(line, "expected_peak_units",
                         f"no analog of {product} ({names}) has {min_analog_months} months of sales since its "
                         "launch, so the curve needs expected_peak_units; fill it in or name older analogs")
            continue
        price = row["unit_price"]
        if price is None:
            known_prices = [(a["weight"], analog_price[a["sku"]]) for a in row["analogs"] if a["sku"] in analog_price]
            if known_prices:
                price = sum(w * p for w, p in known_prices) / sum(w for w, _ in known_prices)
            else:
                price = family_price.get(family)
        parts.append(pl.DataFrame({
            "product": product, "family": family, "month": months, "launch_month": row["launch_month"],
            "months_since_launch": since, "analog": analog, "curve": curve_name, "planned_units": units,
            "cannibalized_units": units * row["cannibalization_share"], "unit_price": price,
            "planned_revenue": units * price if price is not None else None,
        }, schema=PLAN_SCHEMA))
    problems.raise_if_any("Correct these rows of the catalogue and run again")
    if not parts:
        return pl.DataFrame(schema=PLAN_SCHEMA)
    return pl.concat(parts).sort("product", "month")


def labor_hours(new_product_plan: pl.DataFrame, labor_hours_per_unit_by_family: Mapping[str, float]) -> pl.DataFrame:
    """The plan with `labor_hours_required = planned_units × the family's labour hours per unit`."""
    missing = sorted(set(new_product_plan["family"].unique()) - set(labor_hours_per_unit_by_family))
    if missing:
        raise SettingsError(f"No labour hours per unit for family {', '.join(missing)}",
                            where="planning.families / planning.defaults in sop.yaml",
                            fix="Set production.labor_hours_per_unit in planning.defaults or for the family")
    rate = (pl.col("family").replace_strict(dict(labor_hours_per_unit_by_family), return_dtype=pl.Float64)
            if labor_hours_per_unit_by_family
            # No launch in the horizon: Polars returns the names themselves for an empty mapping (text, not hours).
            else pl.lit(None, dtype=pl.Float64))
    return new_product_plan.with_columns(labor_hours_required=pl.col("planned_units") * rate)


def labor_hours_per_unit_by_family(planning, families: Iterable[str]) -> dict[str, float]:
    """Each family's `production.labor_hours_per_unit` from `planning.defaults` and its overrides."""
    from sop_pipeline.config.problem import merge_params

    rates = {}
    for family in families:
        production = merge_params(planning.defaults, planning.families.get(family, {})).get("production") or {}
        if production.get("labor_hours_per_unit") is not None:
            rates[family] = float(production["labor_hours_per_unit"])
    return rates


def no_launches() -> pl.DataFrame:
    """The new-product plan of a cycle without a catalogue: no rows, every column."""
    return pl.DataFrame(schema={**PLAN_SCHEMA, "labor_hours_required": pl.Float64})


def new_product_plan(catalogue: pl.DataFrame, history: pl.DataFrame, cycle: date, settings) -> pl.DataFrame:
    """The catalogue's launch curves over the forecast horizon, with the labour hours each launch needs."""
    curves = launch_curves(catalogue, history, cycle, settings.forecast.horizon_months)
    rates = labor_hours_per_unit_by_family(settings.planning, curves["family"].unique().to_list())
    return labor_hours(curves, rates)


def launches_by_product(plan: pl.DataFrame) -> pl.DataFrame:
    """Horizon units and labour hours per launch, in launch order."""
    return (plan.group_by("product", "family", "launch_month", "curve")
            .agg(pl.col("planned_units").sum(), pl.col("labor_hours_required").sum()).sort("launch_month"))
