"""Alerts: threshold rules over the supervisor's state, raised as events (log, /health, webhook)."""
