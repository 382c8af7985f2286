from typing import Any


class Echo:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"twin": params}


class EchoTwinPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return Echo()
