"""Fake external services used by the test suite."""
