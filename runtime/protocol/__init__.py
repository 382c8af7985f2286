"""The sans-io wire protocol between supervisor and worker: framing and typed messages."""
