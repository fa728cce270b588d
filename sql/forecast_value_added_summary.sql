-- The value-added table the backfill prints: all families, every lag, pooled over the cycles.
SELECT lag, n_cycles AS cycles, naive_wape, statistical_wape, consensus_wape, statistical_bias, consensus_bias,
       statistical_value_added, consensus_value_added
FROM sop.forecast_value_added
WHERE family = 'ALL FAMILIES'
ORDER BY lag_order;
