"""Ingest throughput and peak memory: the pipeline's DuckDB ingest (+ its GX checks) vs pandas.read_csv.

Each measurement runs in its own process, so peak memory (ru_maxrss) is that step's alone.
Prints a table; quote ratios from one run, not absolute times.

    python benchmarks/ingest_bench.py --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

CYCLE = date(2026, 11, 1)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, csv: str, workdir: str) -> dict:
    """Run inside a child process: one measurement, printed as JSON."""
    if kind == "pandas_read_csv":
        import pandas as pd

        started = time.perf_counter()
        rows = len(pd.read_csv(csv))
    else:
        # Imported only here, so pandas' line measures pandas alone.
        from sop_pipeline.common.validation import CHUNK_ROWS
        from sop_pipeline.config.loading import parse_settings
        from sop_pipeline.ingest import load as ingest
        from sop_pipeline.ingest import validation
        from sop_pipeline.store import db

        started = time.perf_counter()
        settings = parse_settings({"sales": {"path": csv}})
        conn = db.connect(Path(workdir) / f"{kind}.duckdb")
        db.ensure_schema(conn)
        rows = ingest.load_sales(conn, settings, CYCLE)["rows"]
        if kind == "ingest_and_checks":
            report = validation.validate_raw_sales(
                ingest.raw_batches(conn, CYCLE, CHUNK_ROWS), date(2026, 11, 30), False)
            assert report.passed, report.summary()
        conn.close()
    seconds = time.perf_counter() - started
    return {"kind": kind, "rows": rows, "seconds": seconds, "peak_mb": _peak_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--csv", help="reuse this sales CSV instead of generating one")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CSV", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return

    with tempfile.TemporaryDirectory(prefix="sop_ingest_bench_") as workdir:
        csv = args.csv
        if not csv:
            from sop_pipeline.demo import write_large_sales

            csv = str(Path(workdir) / "sales.csv")
            t = time.perf_counter()
            write_large_sales(csv, args.rows)
            print(f"generated {args.rows:,} rows ({Path(csv).stat().st_size / 1e6:,.0f} MB) "
                  f"in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        results = []
        for kind in ("duckdb_ingest", "ingest_and_checks", "pandas_read_csv"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, csv, workdir],
                                 capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    base = next(r for r in results if r["kind"] == "pandas_read_csv")
    print(f"\nIngest of {results[0]['rows']:,} sales rows (one process per line)\n")
    print(f"{'step':<22}{'seconds':>10}{'rows/s':>14}{'peak MB':>10}{'time vs pandas':>16}{'memory vs pandas':>18}")
    for r in results:
        print(f"{r['kind']:<22}{r['seconds']:>10.1f}{r['rows'] / r['seconds']:>14,.0f}{r['peak_mb']:>10,.0f}"
              f"{r['seconds'] / base['seconds']:>16.2f}{r['peak_mb'] / base['peak_mb']:>18.2f}")


if __name__ == "__main__":
    main()
