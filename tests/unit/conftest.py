"""Unit-test settings: property tests draw the same examples on every run and keep no database."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("hydrogen-unit", derandomize=True, database=None, deadline=None)
settings.load_profile("hydrogen-unit")
