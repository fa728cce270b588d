"""Helpers the tests share (plain functions and data; the fixtures are in tests/conftest.py)."""
