"""The track record: past cycles replayed on the history as it stood (backfill), and what the published cycles
say about the forecast since (forecast value added, the demand waterfall, KPIs per cycle)."""
