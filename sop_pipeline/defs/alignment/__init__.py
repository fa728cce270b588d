"""Dagster assets and checks of the alignment stage: capacity plan, budget gap, exceptions."""
