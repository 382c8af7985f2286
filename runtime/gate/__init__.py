"""The security gate: every check a plugin passes before admission."""
