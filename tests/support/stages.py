"""Materializing a few stages of the graph on draft tables a test wrote itself."""

from __future__ import annotations

import dagster as dg

from sop_pipeline.defs.partitions import plan_cycles


def draft_sources(*tables: str) -> list[dg.AssetSpec]:
    """The upstream assets `sop/<table>` of the stages a test materializes, as external assets: their
    frames are the cycle's rows the test wrote to `draft.<table>` (read by the DraftTables I/O manager)."""
    return [dg.AssetSpec(["sop", table], partitions_def=plan_cycles) for table in tables]
