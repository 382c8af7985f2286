from typing import Any


class Echo:
    name = "echo"
    description = "Return the params unchanged"

    def get_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {"text": {"type": "string"}}}

    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"echo": params}


class EchoSync:
    name = "echo_sync"

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"echo": params}


class EchoPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"echo": Echo, "echo_sync": EchoSync}[name]()
