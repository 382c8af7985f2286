"""Tools of the bundled ``system`` plugin."""
