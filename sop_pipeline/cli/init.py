"""`sop-pipeline init --sales FILE [--out sop.yaml]`: propose a settings file for a planner's sales file.

The file is looked at by `ingest.sniff.guess_sales`; this module prints what was found and writes a
commented `sop.yaml` that runs as written: the sales mapping as guessed (with the questions init could
not decide from the file in comments) and planning parameters as placeholders, sized from the history
so the plan is not absurd, each marked REPLACE.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import textwrap
from datetime import date
from pathlib import Path

from rich.console import Console

from sop_pipeline.common.errors import SettingsError
from sop_pipeline.ingest.sniff import SalesGuess, guess_sales

LISTED_FAMILIES = 40
HOURS_PER_DAY = 8
WORKING_DAYS = 21
LABOR_HOURS_PER_UNIT = 0.5

out = Console(highlight=False, soft_wrap=True)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "init", help="look at a sales file and write a sop.yaml for it",
        description="Guess the column mapping and date format of a sales file (CSV, Parquet or Excel), list "
                    "its families, and write a commented sop.yaml that runs as written.")
    parser.add_argument("--sales", required=True, metavar="FILE", help="the sales history file")
    parser.add_argument("--out", default="sop.yaml", metavar="FILE", help="settings file to write (default sop.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.set_defaults(func=run)


def run(args) -> int:
    target = Path(args.out)
    if target.exists() and not args.force:
        raise SettingsError("The settings file already exists", where=str(target),
                            fix="Pass --out with another name, or --force to overwrite it")
    guess = guess_sales(args.sales)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(settings_yaml(guess, target.resolve().parent), encoding="utf-8")
    _print_found(guess)
    out.print(f"\nWrote [bold]{target}[/bold]. It runs as it is: [bold]sop-pipeline run --config {target}[/bold]")
    out.print("Before you rely on the plan, replace the planning values marked REPLACE in it with your own "
              "figures" + (", and answer its QUESTIONS." if guess.questions else "."))
    return 0


def _print_found(guess: SalesGuess) -> None:
    sample = "" if guess.sampled_all else f" (the first {guess.rows:,} rows looked at)"
    out.print(f"[bold]{guess.path}[/bold]: {guess.rows:,} rows{sample}, "
              f"{guess.first_date} to {guess.last_date} ({guess.months} months)")
    for key, column in guess.columns.items():
        out.print(f"  {key:<8} <- {column if column is not None else '(none)'}")
    out.print(f"  dates written as {guess.date_format or 'ISO (2024-01-31)'}")
    out.print(f"{len(guess.families)} famil{'y' if len(guess.families) == 1 else 'ies'}: " + _family_list(guess))
    for question in guess.questions:
        out.print(f"[yellow]QUESTION[/yellow]: {question}")


def _family_list(guess: SalesGuess) -> str:
    names = list(guess.families)
    text = ", ".join(names[:LISTED_FAMILIES])
    return text + (f" ... and {len(names) - LISTED_FAMILIES} more" if len(names) > LISTED_FAMILIES else "")


def _quote(value) -> str:
    """A YAML scalar: strings as JSON strings (valid YAML, safe for any column name), null for None."""
    return "null" if value is None else json.dumps(value)


def _sales_path(path: Path, folder: Path) -> str:
    """Relative to the settings file's folder when the file is under it, else absolute."""
    path = path.resolve()
    return os.path.relpath(path, folder) if path.is_relative_to(folder) else str(path)


def settings_yaml(guess: SalesGuess, folder: Path) -> str:
    """The commented settings file for `guess`, to be saved in `folder`."""
    months = max(guess.months, 1)
    monthly = [units / months for units in guess.families.values()] or [0.0]
    typical = max(statistics.median(monthly), 0.0)  # the median family's units per month
    crew = max(1, math.ceil(typical * LABOR_HOURS_PER_UNIT / (HOURS_PER_DAY * WORKING_DAYS)))
    stock = round(typical)
    # Enough history left to fit on after the backtest months are held out.
    backtest = 12 if months >= 36 else max(1, months // 3)
    columns = guess.columns
    lines = [
        f"# sop.yaml written by `sop-pipeline init` on {date.today()} from {guess.path.name}.",
        "# It runs as written (sop-pipeline run --config <this file>). Before relying on the plan, replace every",
        "# planning value marked REPLACE with your own figures, and check the QUESTIONS below.",
        "# Relative paths start at this file's folder. Every key is described in the README's settings section.",
        "#",
        f"# Found: {guess.rows:,} rows{'' if guess.sampled_all else ' (the first rows looked at)'}, "
        f"{guess.first_date} to {guess.last_date} ({guess.months} months), "
        + (f"{guess.skus:,} SKUs in " if guess.skus else "")
        + f"{len(guess.families)} famil{'y' if len(guess.families) == 1 else 'ies'}:",
    ]
    lines += [f"#   {chunk}" for chunk in textwrap.wrap(_family_list(guess), 100)]
    if guess.questions:
        lines += ["#", "# QUESTIONS (init chose the answer written below; change it if it is wrong):"]
        for question in guess.questions:
            wrapped = textwrap.wrap(question, 100)
            lines += [f"#   - {wrapped[0]}"] + [f"#     {rest}" for rest in wrapped[1:]]
    lines += [
        "",
        "sales:",
        f"  path: {_quote(_sales_path(guess.path, folder))}",
        "  columns:                      # the file's column names",
        f"    date: {_quote(columns['date'])}",
        f"    sku: {_quote(columns['sku'])}" + ("" if columns["sku"] else "  # none: each family is planned as one series"),
        f"    family: {_quote(columns['family'])}" + ("" if columns["family"] else "  # none: one family, 'all'"),
        f"    units: {_quote(columns['units'])}",
        f"    revenue: {_quote(columns['revenue'])}" + ("" if columns["revenue"] else "  # none: no revenue or margins"),
        f"  date_format: {_quote(guess.date_format)}" + ("  # ISO dates (2024-01-31)" if guess.date_format is None
                                                         else "  # strptime format of the dates"),
    ]
    if guess.first_month is not None:
        lines.append(f"  first_month: \"{guess.first_month:%Y-%m}\"   # QUESTION: the month that {columns['date']!r} = 1 "
                     "stands for")
    lines += [
        f"  allow_returns: {'true' if guess.has_negative_units else 'false'}"
        + ("  # negative units were found (returns?)" if guess.has_negative_units else ""),
    ]
    if guess.delimiter:
        lines.append(f"  delimiter: {_quote(guess.delimiter)}")
    # Blank groups: a working answer (a family of their own), asked as a QUESTION above.
    if guess.missing_family:
        lines.append(f"  missing_family: {_quote(guess.missing_family)}   # QUESTION: the family of the "
                     f"{guess.blank_family_rows:,} rows with a blank {columns['family']!r}")
    if guess.missing_sku:
        lines.append(f"  missing_sku: {_quote(guess.missing_sku)}   # QUESTION: the SKU, within its family, of the "
                     f"{guess.blank_sku_rows:,} rows with a blank {columns['sku']!r}")
    if guess.missing_family or guess.missing_sku:
        lines.append("  drop_blank_rows: false        # true: rows still without a family or SKU are left out")
    lines += [
        "",
        "forecast:",
        "  horizon_months: 18            # months forecast and planned from the plan cycle",
        "  approach: best                # top_down | bottom_up | best (per family, by backtest)",
        f"  backtest_months: {backtest}{' ' * (13 - len(str(backtest)))}# months held out to measure accuracy",
        "  workers: auto                 # processes fitting Prophet models",
        "",
        "planning:",
        "  # REPLACE: every number below is a PLACEHOLDER, sized from your history (the median family sells",
        f"  # about {typical:,.0f} units a month) so that the plan runs. Put in your own crews, hours, stock and",
        "  # costs, for all families (defaults) and per family (families), before you rely on the plan.",
        "  strategy: optimal             # the strategy published as the plan: level | chase | optimal",
        "  service_level: 0.95           # drives safety stock",
        "  shared_capacity: null         # plant labour hours per month shared by all families (null: none)",
        "  defaults:",
        f"    workforce: {{initial: {crew}, hours_per_day: {HOURS_PER_DAY}, min: 0, max: null}}   # REPLACE",
        f"    production: {{labor_hours_per_unit: {LABOR_HOURS_PER_UNIT}, max_overtime_hours_per_worker: 20, "
        "max_subcontract_units: null, allow_idle: true}   # REPLACE",
        f"    inventory: {{initial: {stock}, initial_backlog: 0, ending_min: 0, allow_backlog: true}}   # REPLACE",
        "    costs:                      # REPLACE: your costs, in your currency",
        "      regular_wage_per_hour: 22",
        "      overtime_wage_per_hour: 33",
        "      hire_per_worker: 2500",
        "      layoff_per_worker: 4000",
        "      holding_per_unit_period: 0.4",
        "      backlog_per_unit_period: 6",
        "      material_per_unit: 8",
        "      subcontract_per_unit: 25",
        "      # per unit below safety stock a month; above the cost of making a unit (wages + material),",
        "      # so the plan keeps its buffers to the horizon's end instead of selling them off",
        "      safety_stock_shortfall_per_unit: 30",
        "  families: {}                  # per-family overrides, e.g.",
        f"  #   {_quote(next(iter(guess.families), 'FAMILY'))}: {{workforce: {{initial: {crew}}}, "
        f"inventory: {{initial: {stock}}}}}",
        "",
        "new_products: null              # a CSV or Excel catalogue of launches (see the README)",
        "adjustments: null               # a CSV or Excel file of consensus adjustments (see the README)",
        "",
    ]
    return "\n".join(lines)
