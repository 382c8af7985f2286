"""Helpers for scripts/bench.py: load driver, contenders (floor, Hydrogen, MCP SDK), report."""
