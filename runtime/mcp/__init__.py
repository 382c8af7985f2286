"""MCP server on top of the Supervisor: ``hydrogen serve --stdio``."""
