"""Tool schemas remembered per plugin version, so tools are listed exactly before workers start.

A tool's JSON Schema comes from its worker (``get_schema()``), which a front end such as MCP
must not wait for. The supervisor stores what each worker reported under a digest of the
plugin's files; the next start lists those schemas at once (the digest guarantees they belong
to this exact code), and the worker's own report replaces them when it arrives. A first-ever
start falls back to the manifest's ``parameters:`` list, then to an open object schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import msgspec

from runtime.gate.cache import default_cache_dir, plugin_digest, write_atomically
from runtime.protocol.messages import ToolSpec

__all__ = ["SchemaCache"]

SUBDIR: Final = "schemas"
_decoder = msgspec.json.Decoder(dict[str, ToolSpec])


class SchemaCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_cache_dir().parent / SUBDIR

    def key(self, root: Path) -> str:
        return plugin_digest(root)

    def get(self, key: str) -> dict[str, ToolSpec]:
        try:
            return _decoder.decode((self.directory / f"{key}.json").read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return {}

    def put(self, key: str, specs: dict[str, ToolSpec]) -> None:
        write_atomically(self.directory / f"{key}.json", msgspec.json.encode(specs))
