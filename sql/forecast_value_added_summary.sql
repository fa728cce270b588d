-- The value-added table the backfill prints: all families, every lag, pooled over the cycles.
SELECT lag, n_cycles AS cycles, naive_wape AS naive, statistical_wape AS statistical, consensus_wape AS consensus,
       statistical_value_added AS "statistical adds", consensus_value_added AS "consensus adds",
       consensus_bias AS "consensus bias"
FROM sop.forecast_value_added
WHERE family = 'ALL FAMILIES'
ORDER BY lag_order;
