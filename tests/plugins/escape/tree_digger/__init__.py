"""Everything here is inside its own work dir and allowed; the attack is on the supervisor's
cleanup: a recursive delete of a chain deeper than Python's recursion limit fails, and with it
the supervisor's exit, leaving the work dir behind."""

import os
from typing import Any


class Dig:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        top = os.getcwd()
        try:
            for _ in range(params["depth"]):
                os.mkdir("d")
                os.chdir("d")
            return {"path_length": len(os.getcwd())}
        finally:
            os.chdir(top)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class TreeDiggerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"dig": Dig, "tree_digger_ping": Ping}[name]()
