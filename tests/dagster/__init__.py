"""Tests of dagster."""
