"""An impossible strategy is shown as impossible with its reason (console line, report), never as a 0 cost."""

from __future__ import annotations

import polars as pl

from sop_pipeline.report import html
from sop_pipeline.supply.tables import strategy_totals_line


def _comparison() -> pl.DataFrame:
    rows = []
    for family, cost in (("A", 100.0), ("B", 200.0)):
        for strategy, factor in (("level", 1.2), ("chase", 1.1), ("optimal", 1.0)):
            impossible = strategy == "chase" and family == "B"
            rows.append({"family": family, "strategy": strategy,
                         "total_cost": None if impossible else cost * factor, "safety_stock_penalty": 0.0,
                         "cost_with_safety_stock_penalty": None if impossible else cost * factor,
                         "regular_labor_cost": None if impossible else cost * factor, "units_short": 0.0,
                         "solver_status": "infeasible: Assembly needs 8,578 h in 2026-12" if impossible else "optimal",
                         "chosen": strategy == "optimal", "mip_gap": 2e-5 if strategy == "optimal" else None,
                         "starting_workforce": 10.0, "ending_workforce": 12.0})
    return pl.DataFrame(rows)


def test_console_line_counts_families_and_names_the_impossible():
    line = strategy_totals_line(_comparison())
    assert "chase 110 (1 of 2 families; impossible for B)" in line
    assert "optimal 300" in line and "level 360" in line
    every = _comparison().with_columns(total_cost=pl.when(pl.col("strategy") == "chase").then(None)
                                       .otherwise(pl.col("total_cost")))
    assert "chase impossible for all 2 families" in strategy_totals_line(every)
    assert "chase 0" not in strategy_totals_line(every)


def test_report_marks_impossible_and_the_gap():
    section = html._cost_section(_comparison())
    assert "1 of 2 families" in section
    assert "<b>chase</b> impossible for B: Assembly needs 8,578 h in 2026-12" in section
    # the table's cell says so too, never a 0 cost (a sum over no plan would be 0)
    # B's row: level 200 x 1.2, chase impossible, optimal 200
    assert '<td>B</td><td class="n">240</td><td class="n">impossible</td><td class="n">200</td>' in section


def test_report_says_a_shared_reason_once_with_the_families_it_fails():
    comparison = pl.concat([_comparison().with_columns(family=pl.col("family") + str(i)) for i in range(12)])
    comparison = comparison.with_columns(
        solver_status=pl.when(pl.col("strategy") == "chase")
        .then(pl.lit("infeasible: Assembly needs 8,578 h in 2026-12")).otherwise(pl.col("solver_status")),
        total_cost=pl.when(pl.col("strategy") == "chase").then(None).otherwise(pl.col("total_cost")),
        cost_with_safety_stock_penalty=pl.when(pl.col("strategy") == "chase").then(None)
        .otherwise(pl.col("cost_with_safety_stock_penalty")))
    section = html._cost_section(comparison)
    assert section.count("Assembly needs 8,578 h") == 1
    assert "impossible for 24 families (A0, A1, A10, A11, A2, A3, A4, A5 and 16 more)" in section
    assert section.count('<td class="n">impossible</td>') == 24
    assert "within 0.00%" in section or "within 0.0" in section
    assert "workforce_end" in section or "workforce end" in section
