"""Confinement of workers: sandbox profiles and the limits they impose."""
