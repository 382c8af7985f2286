"""Tools of the bundled ``mongodb`` plugin and the logic they share."""
