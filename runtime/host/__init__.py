"""The supervisor side: worker processes, their lifecycle, routing and status."""
