from typing import Any


class Present:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}


class MissingToolPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.tools = {"present_tool": Present()}

    def create_tool(self, name: str) -> Any:
        return self.tools.get(name)
