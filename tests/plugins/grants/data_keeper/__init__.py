"""Stores values as files in the directory named by KEEPER_DATA (its declared write grant)."""

import os
from pathlib import Path
from typing import Any


class Keep:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        (Path(os.environ["KEEPER_DATA"]) / params["key"]).write_text(params["value"])
        return {"kept": params["key"]}


class Recall:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        value = (Path(os.environ["KEEPER_DATA"]) / params["key"]).read_text()
        return {"value": value, "pid": os.getpid()}


class DataKeeperPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return Keep() if name == "keep" else Recall()
