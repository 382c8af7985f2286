"""Test tools for the HTTP front end: a call counter (cache hits never reach it), a sleeper,
a rendezvous that only completes when calls really run concurrently, a raiser and a crasher."""

import asyncio
import os
from typing import Any

_calls = {"n": 0}
_waiting: dict[int, asyncio.Event] = {}
_arrived: dict[int, int] = {}


class Tick:
    def __init__(self, name: str) -> None:
        self.name = name

    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        _calls["n"] += 1
        return {"n": _calls["n"], "params": params}


class Nap:
    name = "nap"

    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(params["seconds"])
        return {"slept": params["seconds"]}


class Rendezvous:
    name = "rendezvous"

    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        parties = params["parties"]
        event = _waiting.setdefault(parties, asyncio.Event())
        _arrived[parties] = _arrived.get(parties, 0) + 1
        if _arrived[parties] >= parties:
            event.set()
            del _waiting[parties]
            _arrived[parties] = 0
        await event.wait()
        return {"met": parties}


class Boom:
    name = "boom"

    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError(params.get("message", "boom"))


class Crash:
    name = "crash"

    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        os._exit(9)


class HttpKitPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        if name in ("tick", "tick_brief"):
            return Tick(name)
        return {"nap": Nap, "rendezvous": Rendezvous, "boom": Boom, "crash": Crash}[name]()
