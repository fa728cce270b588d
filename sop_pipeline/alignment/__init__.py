"""Business alignment: the plan against the budget, the capacity of every work centre, and the
exceptions that ask the S&OP meeting for a decision. Plain functions on Polars frames; no Dagster."""
