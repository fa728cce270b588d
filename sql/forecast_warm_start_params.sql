-- Fitted model parameters of the latest published cycle before this one (the warm start).
SELECT * EXCLUDE (plan_cycle)
FROM sop.forecast_model_params
WHERE plan_cycle = (SELECT max(plan_cycle) FROM sop.forecast_model_params WHERE plan_cycle < $plan_cycle);
