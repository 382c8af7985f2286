from typing import Any

MIB = 1024 * 1024


class Blob:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"blob": "x" * int(params["mib"] * MIB)}


class BigResultPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return Blob()
