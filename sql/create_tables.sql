-- The plan tables, created in two schemas with the same shape:
--   draft.*  each stage writes its rows for the cycle being planned (not for readers);
--   sop.*    the published plans, one version per plan_cycle (the approved one, else the latest);
--   sop_versions.*  every version of every cycle, with a version column (store/versions.py).
-- {schema} is 'draft' or 'sop'. Every table carries plan_cycle (first day of the cycle month).
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.demand_history (
    plan_cycle DATE NOT NULL, family VARCHAR NOT NULL, sku VARCHAR NOT NULL, month DATE NOT NULL,
    units DOUBLE NOT NULL, revenue DOUBLE NOT NULL, order_lines BIGINT
);

CREATE TABLE IF NOT EXISTS {schema}.forecast (
    plan_cycle DATE NOT NULL, level VARCHAR NOT NULL, series_key VARCHAR NOT NULL, family VARCHAR,
    sku VARCHAR, month DATE NOT NULL, method VARCHAR NOT NULL,
    yhat DOUBLE NOT NULL, yhat_lower DOUBLE NOT NULL, yhat_upper DOUBLE NOT NULL,
    model VARCHAR  -- the Prophet configuration the backtest chose for the series (forecast.models)
);

CREATE TABLE IF NOT EXISTS {schema}.forecast_accuracy (
    plan_cycle DATE NOT NULL, level VARCHAR NOT NULL, series_key VARCHAR NOT NULL, family VARCHAR,
    method VARCHAR NOT NULL, wape DOUBLE, mape DOUBLE, bias DOUBLE, mase DOUBLE, n_points BIGINT,
    sum_abs_error DOUBLE, sum_actual DOUBLE,
    -- why a series has no backtest or no yearly shape (too little history), else NULL
    note VARCHAR,
    model VARCHAR
);

-- Fitted Prophet parameters per series: next cycle's fits start from them (warm start).
CREATE TABLE IF NOT EXISTS {schema}.forecast_model_params (
    plan_cycle DATE NOT NULL, series_id VARCHAR NOT NULL, stage VARCHAR, n_changepoints BIGINT,
    n_points BIGINT, params_json VARCHAR NOT NULL, model VARCHAR
);

CREATE TABLE IF NOT EXISTS {schema}.new_product_plan (
    plan_cycle DATE NOT NULL, product VARCHAR NOT NULL, family VARCHAR NOT NULL, month DATE NOT NULL,
    launch_month DATE, months_since_launch INTEGER, analog VARCHAR, planned_units DOUBLE,
    cannibalized_units DOUBLE, unit_price DOUBLE, planned_revenue DOUBLE, labor_hours_required DOUBLE,
    curve VARCHAR
);

CREATE TABLE IF NOT EXISTS {schema}.demand_plan (
    plan_cycle DATE NOT NULL, family VARCHAR NOT NULL, sku VARCHAR NOT NULL, month DATE NOT NULL,
    statistical_forecast DOUBLE, new_product_units DOUBLE, cannibalized_units DOUBLE,
    adjustment_units DOUBLE, planned_units DOUBLE NOT NULL, unit_price DOUBLE, planned_revenue DOUBLE,
    adjustment_reasons VARCHAR, adjustment_requested DOUBLE, is_new_product BOOLEAN
);

CREATE TABLE IF NOT EXISTS {schema}.production_plan (
    plan_cycle DATE NOT NULL, family VARCHAR NOT NULL, strategy VARCHAR NOT NULL, month DATE NOT NULL,
    demand DOUBLE, working_days DOUBLE, workforce DOUBLE, hires DOUBLE, layoffs DOUBLE,
    regular_units DOUBLE, overtime_units DOUBLE, overtime_hours DOUBLE, subcontract_units DOUBLE,
    ending_inventory DOUBLE, backlog DOUBLE, safety_stock DOUBLE, safety_stock_shortfall DOUBLE,
    regular_hours DOUBLE, idle_hours DOUBLE,
    regular_labor_cost DOUBLE, overtime_cost DOUBLE, hiring_cost DOUBLE, layoff_cost DOUBLE,
    holding_cost DOUBLE, backlog_cost DOUBLE, material_cost DOUBLE, subcontract_cost DOUBLE,
    total_cost DOUBLE, safety_stock_penalty DOUBLE
);

CREATE TABLE IF NOT EXISTS {schema}.strategy_comparison (
    plan_cycle DATE NOT NULL, family VARCHAR NOT NULL, strategy VARCHAR NOT NULL,
    total_cost DOUBLE, regular_labor_cost DOUBLE, overtime_cost DOUBLE, hiring_cost DOUBLE,
    layoff_cost DOUBLE, holding_cost DOUBLE, backlog_cost DOUBLE, material_cost DOUBLE,
    subcontract_cost DOUBLE, units_short DOUBLE, solver_status VARCHAR, chosen BOOLEAN NOT NULL,
    safety_stock_penalty DOUBLE,
    -- total_cost is cash; this adds the safety-stock shortfall penalty the optimal plan minimises with it
    cost_with_safety_stock_penalty DOUBLE,
    minimises VARCHAR, solver_objective DOUBLE, mip_gap DOUBLE, starting_workforce DOUBLE, ending_workforce DOUBLE
);

CREATE TABLE IF NOT EXISTS {schema}.inventory_plan (
    plan_cycle DATE NOT NULL, family VARCHAR NOT NULL, sku VARCHAR NOT NULL, month DATE NOT NULL,
    beginning_inventory DOUBLE, production DOUBLE, demand DOUBLE, ending_inventory DOUBLE,
    backlog DOUBLE, safety_stock DOUBLE, months_of_supply DOUBLE, beginning_backlog DOUBLE
);

CREATE TABLE IF NOT EXISTS {schema}.operating_plan (
    plan_cycle DATE NOT NULL, family VARCHAR NOT NULL, month DATE NOT NULL,
    headcount DOUBLE, hires DOUBLE, layoffs DOUBLE,
    regular_hours DOUBLE, overtime_hours DOUBLE, subcontract_units DOUBLE,
    regular_labor_cost DOUBLE, overtime_cost DOUBLE, hiring_cost DOUBLE, layoff_cost DOUBLE,
    labor_cost DOUBLE, material_cost DOUBLE, subcontract_cost DOUBLE, holding_cost DOUBLE,
    backlog_cost DOUBLE, total_cost DOUBLE, planned_units DOUBLE, planned_revenue DOUBLE,
    gross_margin DOUBLE
);

CREATE TABLE IF NOT EXISTS {schema}.plan_runs (
    plan_cycle DATE NOT NULL, run_id VARCHAR NOT NULL, settings_hash VARCHAR, input_rows BIGINT,
    input_files VARCHAR, forecast_approach VARCHAR, strategy VARCHAR, solver_status VARCHAR,
    created_at TIMESTAMP NOT NULL,
    -- 'planned', or 'skipped' with supply_note saying why (no planning section in the settings)
    supply_status VARCHAR, supply_note VARCHAR,
    scenarios VARCHAR, settings_json VARCHAR
);

-- Columns added since a table was first created: databases made by an earlier version get them too
-- (each column is also in its CREATE TABLE above, so the statement shows the whole table).
ALTER TABLE {schema}.forecast_accuracy ADD COLUMN IF NOT EXISTS note VARCHAR;
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS supply_status VARCHAR;
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS supply_note VARCHAR;
-- The Prophet configuration chosen per series by the rolling backtest (forecast.models).
ALTER TABLE {schema}.forecast ADD COLUMN IF NOT EXISTS model VARCHAR;
ALTER TABLE {schema}.forecast_accuracy ADD COLUMN IF NOT EXISTS model VARCHAR;
ALTER TABLE {schema}.forecast_model_params ADD COLUMN IF NOT EXISTS model VARCHAR;
-- What a strategy's plan minimises (optimal: cost_with_safety_stock_penalty), the solver's objective and the
-- relative MIP gap it reached (optimal plans), and the crew before the horizon and at its end.
ALTER TABLE {schema}.strategy_comparison ADD COLUMN IF NOT EXISTS minimises VARCHAR;
ALTER TABLE {schema}.strategy_comparison ADD COLUMN IF NOT EXISTS solver_objective DOUBLE;
ALTER TABLE {schema}.strategy_comparison ADD COLUMN IF NOT EXISTS mip_gap DOUBLE;
ALTER TABLE {schema}.strategy_comparison ADD COLUMN IF NOT EXISTS starting_workforce DOUBLE;
ALTER TABLE {schema}.strategy_comparison ADD COLUMN IF NOT EXISTS ending_workforce DOUBLE;

-- Scenarios (scenarios: in sop.yaml, and `sop-pipeline what-if --save`): the base plan is scenario 'base'.
CREATE TABLE IF NOT EXISTS {schema}.scenario_plan (
    plan_cycle DATE NOT NULL, scenario VARCHAR NOT NULL, family VARCHAR NOT NULL, month DATE NOT NULL,
    planned_units DOUBLE, planned_revenue DOUBLE, beginning_inventory DOUBLE, beginning_backlog DOUBLE,
    production DOUBLE, regular_units DOUBLE, overtime_units DOUBLE, subcontract_units DOUBLE,
    ending_inventory DOUBLE, backlog DOUBLE, safety_stock DOUBLE, workforce DOUBLE, hires DOUBLE, layoffs DOUBLE,
    regular_hours DOUBLE, overtime_hours DOUBLE, hours_used DOUBLE, shared_capacity DOUBLE,
    total_cost DOUBLE, safety_stock_penalty DOUBLE, gross_margin DOUBLE
);

-- Horizon KPIs per scenario and family (and 'ALL FAMILIES'); <kpi>_change = scenario - base.
CREATE TABLE IF NOT EXISTS {schema}.scenario_comparison (
    plan_cycle DATE NOT NULL, scenario VARCHAR NOT NULL, family VARCHAR NOT NULL, description VARCHAR,
    status VARCHAR NOT NULL,
    planned_units DOUBLE, planned_revenue DOUBLE, total_cost DOUBLE, cost_with_safety_stock_penalty DOUBLE,
    gross_margin DOUBLE, units_short DOUBLE,
    fill_rate DOUBLE, average_inventory DOUBLE, peak_headcount DOUBLE, overtime_hours DOUBLE,
    subcontracted_units DOUBLE, peak_capacity_utilization DOUBLE,
    planned_units_change DOUBLE, planned_revenue_change DOUBLE, total_cost_change DOUBLE,
    cost_with_safety_stock_penalty_change DOUBLE, gross_margin_change DOUBLE, units_short_change DOUBLE, fill_rate_change DOUBLE,
    average_inventory_change DOUBLE, peak_headcount_change DOUBLE, overtime_hours_change DOUBLE,
    subcontracted_units_change DOUBLE, peak_capacity_utilization_change DOUBLE
);

-- plan_runs: the scenarios published with the cycle, and the settings as planned (JSON), from which
-- `sop-pipeline what-if` rebuilds the cycle's planning settings. Added to databases made before them too.
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS scenarios VARCHAR;
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS settings_json VARCHAR;
-- How the cycle was made: 'run' (a live cycle) or 'backfill' (replayed on the history as it stood then).
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS run_kind VARCHAR;

-- Hours available, used by the chosen plan and needed by the unconstrained demand plan, per work
-- centre (planning.resources, and 'plant labour'), family (and 'ALL FAMILIES') and month.
CREATE TABLE IF NOT EXISTS {schema}.capacity_plan (
    plan_cycle DATE NOT NULL, resource VARCHAR NOT NULL, family VARCHAR NOT NULL, month DATE NOT NULL,
    strategy VARCHAR, hours_available DOUBLE, hours_required DOUBLE, hours_unconstrained DOUBLE,
    utilization DOUBLE, unconstrained_utilization DOUBLE
);

-- The plan against the budget (annual operating plan) per family (and 'ALL FAMILIES') and budget month.
CREATE TABLE IF NOT EXISTS {schema}.budget_gap (
    plan_cycle DATE NOT NULL, family VARCHAR NOT NULL, month DATE NOT NULL,
    budget_units DOUBLE, planned_units DOUBLE, units_gap DOUBLE, units_gap_pct DOUBLE,
    budget_revenue DOUBLE, planned_revenue DOUBLE, revenue_gap DOUBLE, revenue_gap_pct DOUBLE,
    cumulative_units_gap DOUBLE, cumulative_revenue_gap DOUBLE
);

-- What needs a decision: one row per exception, with the money at stake and a sentence for the meeting.
CREATE TABLE IF NOT EXISTS {schema}.exceptions (
    plan_cycle DATE NOT NULL, severity VARCHAR NOT NULL, kind VARCHAR NOT NULL, family VARCHAR, sku VARCHAR,
    resource VARCHAR, month DATE, value DOUBLE, threshold DOUBLE, money_at_stake DOUBLE, message VARCHAR NOT NULL,
    exception_key VARCHAR, carried_from DATE
);

-- Plan versions (store/versions.py): each run of a cycle publishes a new version; status is
-- 'proposed', 'approved' or 'superseded'; adopted_scenario names the scenario an `adopt` made the plan.
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS version INTEGER;
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS status VARCHAR;
ALTER TABLE {schema}.plan_runs ADD COLUMN IF NOT EXISTS adopted_scenario VARCHAR;
-- Exceptions: a key that names one across versions and cycles (kind/resource/family/sku/month, set at
-- publication), which `sop-pipeline decide` records decisions against; carried_from: the cycle an open
-- exception was first raised in, when it is carried forward from an earlier cycle's open decisions.
ALTER TABLE {schema}.exceptions ADD COLUMN IF NOT EXISTS exception_key VARCHAR;
ALTER TABLE {schema}.exceptions ADD COLUMN IF NOT EXISTS carried_from DATE;
