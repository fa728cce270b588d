"""The planner's workbook for the meeting (`sop-pipeline export --xlsx`), written with XlsxWriter.

Sheets, as planners read them (months across, frozen headers, number formats, widths):
- Adjustments: the next cycle's consensus adjustments, pre-filled with this cycle's requests that reach into
  the next cycle's horizon (as signed units per SKU and month). It is the FIRST sheet, so `adjustments:
  workbook.xlsx` in sop.yaml reads it as it is (the adjustments reader reads a workbook's first sheet).
- Decisions needed, Demand plan (families and SKUs), Supply <strategy> (one per strategy), Inventory,
  Capacity, Scenarios (side by side), Budget gap.
`sheets(frames, ...)` builds every sheet as a frame (the functional core, tested against the published tables);
`write_workbook` writes them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from sop_pipeline.common.months import add_months
from sop_pipeline.supply.tables import ALL_FAMILIES

ADJUSTMENTS_SHEET = "Adjustments"
ADJUSTMENT_COLUMNS = ["family", "sku", "month", "units", "percent", "reason", "author"]
ADJUSTMENT_HELP = {
    "family": "A product family (a row without sku adjusts the whole family, spread over its SKUs).",
    "sku": "One SKU (optional). With a family too, the SKU must belong to it.",
    "month": "YYYY-MM, a month of the next cycle's horizon.",
    "units": "Signed change in units (+500 adds, -200 removes). Give units OR percent, not both.",
    "percent": "Relative change: 10 = +10 %, -25 = -25 % (not below -100).",
    "reason": "Why the plan changes (required; shown in the demand plan).",
    "author": "Who agreed it (optional).",
}
DECISION_COLUMNS = ["number", "severity", "kind", "family", "sku", "resource", "month", "money_at_stake", "message",
                    "decision", "decided_by", "decision_note", "carried_from", "exception_key"]
SUPPLY_MEASURES = ["demand", "regular_units", "overtime_units", "subcontract_units", "ending_inventory", "backlog",
                   "safety_stock", "workforce", "hires", "layoffs", "total_cost"]
INVENTORY_MEASURES = ["beginning_inventory", "production", "demand", "ending_inventory", "backlog", "safety_stock",
                      "months_of_supply"]
CAPACITY_MEASURES = ["hours_available", "hours_required", "hours_unconstrained", "utilization"]
BUDGET_MEASURES = ["budget_units", "planned_units", "units_gap", "budget_revenue", "planned_revenue", "revenue_gap"]
SCENARIO_KPIS = ["status", "description", "planned_units", "planned_revenue", "total_cost", "gross_margin",
                 "units_short", "fill_rate", "average_inventory", "peak_headcount", "overtime_hours",
                 "subcontracted_units", "peak_capacity_utilization", "total_cost_change", "gross_margin_change",
                 "units_short_change"]
PERCENT_MEASURES = {"utilization", "fill_rate", "peak_capacity_utilization"}


def months_across(frame: pl.DataFrame, index: list[str], measures: list[str]) -> pl.DataFrame:
    """Long rows (one per index and month) as one row per index and measure with a column per month
    (`YYYY-MM`), in the order of `measures`; index keys keep the frame's sorted order."""
    if frame.height == 0:
        return pl.DataFrame(schema={**{c: pl.String for c in index}, "measure": pl.String})
    measures = [m for m in measures if m in frame.columns]
    long = (frame.select(*index, pl.col("month").dt.strftime("%Y-%m").alias("month"),
                         *[pl.col(m).cast(pl.Float64) for m in measures])
            .unpivot(index=[*index, "month"], on=measures, variable_name="measure", value_name="value"))
    order = pl.DataFrame({"measure": measures, "_order": list(range(len(measures)))})
    # One value per index, measure and month (the tables' grain): "first" keeps an empty cell empty.
    wide = long.pivot(on="month", index=[*index, "measure"], values="value", aggregate_function="first",
                      sort_columns=True)
    return (wide.join(order, on="measure").sort([*index, "_order"], nulls_last=False).drop("_order")
            .with_columns(pl.col(index).cast(pl.String)))


def demand_sheet(demand_plan: pl.DataFrame) -> pl.DataFrame:
    """Planned units and revenue of every family (sku 'ALL SKUS') and SKU, months across."""
    measures = ["planned_units", "planned_revenue", "statistical_forecast", "adjustment_units"]
    families = (demand_plan.group_by("family", "month").agg(pl.col(measures).sum())
                .with_columns(sku=pl.lit("ALL SKUS")))
    rows = pl.concat([families.select("family", "sku", "month", *measures),
                      demand_plan.select("family", "sku", "month", *measures)], how="vertical_relaxed")
    # The family total first, then its SKUs.
    wide = months_across(rows, ["family", "sku"], measures)
    return (wide.with_columns(_sku_order=pl.col("sku") != "ALL SKUS")
            .sort("family", "_sku_order", "sku", maintain_order=True).drop("_sku_order"))


def next_adjustments(demand_plan: pl.DataFrame, cycle: date, horizon_months: int) -> pl.DataFrame:
    """The next cycle's adjustments pre-filled: this cycle's requested changes (per SKU and month, as units)
    in months of the next cycle's horizon (to 0.01 unit), with their reasons. Rows the planner does not want, they delete."""
    first, last = add_months(cycle, 1), add_months(cycle, horizon_months)
    kept = demand_plan.filter(pl.col("month").is_between(first, last) & (pl.col("adjustment_requested").abs() > 0)
                              & pl.col("adjustment_reasons").is_not_null())
    return (kept.sort("family", "sku", "month")
            .select("family", "sku", pl.col("month").dt.strftime("%Y-%m"),
                    # to the hundredth of a unit: what a planner reads and types, and what reads back exactly
                    pl.col("adjustment_requested").round(2).alias("units"), pl.lit(None, pl.Float64).alias("percent"),
                    pl.col("adjustment_reasons").alias("reason"), pl.lit(None, pl.String).alias("author")))


def scenarios_sheet(comparison: pl.DataFrame) -> pl.DataFrame:
    """Each scenario's horizon KPIs (all families) in a column of its own, base first: side by side."""
    total = comparison.filter(pl.col("family") == ALL_FAMILIES)
    if total.height == 0:
        return pl.DataFrame({"kpi": SCENARIO_KPIS})
    total = total.sort(pl.col("scenario") != "base", "scenario")
    kpis = [k for k in SCENARIO_KPIS if k in total.columns]
    columns = {"kpi": kpis}
    for row in total.iter_rows(named=True):
        columns[row["scenario"]] = [row[k] for k in kpis]
    return pl.DataFrame(columns, strict=False).with_columns(pl.exclude("kpi").cast(pl.String))


def sheets(frames: dict[str, pl.DataFrame], decisions: pl.DataFrame, cycle: date,
           horizon_months: int) -> dict[str, pl.DataFrame]:
    """Every sheet of the workbook, in order, from a cycle's published tables (`frames`, sop.* without
    plan_cycle) and its numbered exceptions with their decisions (store/decisions.exception_decisions)."""
    out = {ADJUSTMENTS_SHEET: next_adjustments(frames["demand_plan"], cycle, horizon_months),
           "Decisions needed": decisions.select([c for c in DECISION_COLUMNS if c in decisions.columns]),
           "Demand plan": demand_sheet(frames["demand_plan"])}
    production = frames["production_plan"]
    for strategy in sorted(production["strategy"].unique().to_list()) if production.height else []:
        out[f"Supply {strategy}"] = months_across(production.filter(pl.col("strategy") == strategy),
                                                  ["family"], SUPPLY_MEASURES)
    out["Inventory"] = months_across(frames["inventory_plan"], ["family", "sku"], INVENTORY_MEASURES)
    out["Capacity"] = months_across(frames["capacity_plan"], ["resource", "family"], CAPACITY_MEASURES)
    out["Scenarios"] = scenarios_sheet(frames["scenario_comparison"])
    out["Budget gap"] = months_across(frames["budget_gap"], ["family"], BUDGET_MEASURES)
    return out


def write_workbook(path: str | Path, book: dict[str, pl.DataFrame], title: str) -> Path:
    """Write the sheets: bold frozen header row (and frozen label columns), numbers with thousands
    separators, utilization and fill rates as percent, widths to fit."""
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.xlsx")
    workbook = xlsxwriter.Workbook(str(partial), {"nan_inf_to_errors": True})
    workbook.set_properties({"title": title, "author": "sop-pipeline"})
    header = workbook.add_format({"bold": True, "bg_color": "#F0F4F8", "bottom": 2, "text_wrap": True,
                                  "valign": "top"})
    number = workbook.add_format({"num_format": "#,##0"})
    decimal = workbook.add_format({"num_format": "#,##0.00"})
    percent = workbook.add_format({"num_format": "0.0%"})
    text = workbook.add_format({"text_wrap": False})
    for name, frame in book.items():
        sheet = workbook.add_worksheet(name)
        labels = [c for c in frame.columns if frame.schema[c] == pl.String and not c[:4].isdigit()]
        label_count = len(labels) if name not in (ADJUSTMENTS_SHEET, "Decisions needed") else 1
        sheet.freeze_panes(1, label_count if name != ADJUSTMENTS_SHEET else 0)
        for col, column in enumerate(frame.columns):
            sheet.write_string(0, col, column, header)
            if name == ADJUSTMENTS_SHEET and column in ADJUSTMENT_HELP:
                sheet.write_comment(0, col, ADJUSTMENT_HELP[column], {"x_scale": 2})
        measures = frame["measure"].to_list() if "measure" in frame.columns else None
        kpis = frame["kpi"].to_list() if "kpi" in frame.columns else None
        for row, values in enumerate(frame.iter_rows(), start=1):
            measure = measures[row - 1] if measures else (kpis[row - 1] if kpis else None)
            for col, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(row, col, value)
                elif isinstance(value, (int, float)):
                    style = percent if measure in PERCENT_MEASURES else (
                        decimal if name == ADJUSTMENTS_SHEET or measure == "months_of_supply" else number)
                    sheet.write_number(row, col, value, style)
                elif isinstance(value, date):
                    sheet.write_string(row, col, value.strftime("%Y-%m" if frame.columns[col] != "decided_at"
                                                               else "%Y-%m-%d"))
                else:
                    try:  # a scenario KPI column holds text and numbers (as text): numbers stay numbers
                        numeric = float(value) if kpis and measure not in ("status", "description") else None
                    except ValueError:
                        numeric = None
                    if numeric is not None:
                        sheet.write_number(row, col, numeric, percent if measure in PERCENT_MEASURES else number)
                    else:
                        sheet.write_string(row, col, str(value), text)
        for col, column in enumerate(frame.columns):
            longest = max([len(column)] + [len(f"{v:,.0f}" if isinstance(v, float) else str(v))
                                           for v in frame[column].head(500).to_list() if v is not None])
            sheet.set_column(col, col, min(max(longest + 2, 9), 60))
        if frame.height and name != ADJUSTMENTS_SHEET:
            sheet.autofilter(0, 0, frame.height, len(frame.columns) - 1)
    workbook.close()
    partial.replace(path)
    return path
