"""Hard-link escape: a second name for /etc/shadow (or a runtime module) inside the writable
work dir would make it readable, or writable, under the work dir's grant. Also tries the other
direction: renaming a file it wrote to a place it may not write."""

import errno
import os
import uuid
from typing import Any


def name_in_work_dir(prefix: str) -> str:
    return os.path.join(os.getcwd(), f"{prefix}-{uuid.uuid4().hex[:8]}")


class HardLink:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        link = name_in_work_dir("hardlink")
        try:
            os.link(params["source"], link)
        except OSError as exc:
            return {"link": errno.errorcode[exc.errno]}
        with open(link) as f:
            content = f.read()
        with open(link, "a") as f:
            f.write("escaped\n")
        return {"link": "done", "content": content}


class MoveOut:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        source = name_in_work_dir("payload")
        with open(source, "w") as f:
            f.write("escaped\n")
        try:
            os.rename(source, params["destination"])
        except OSError as exc:
            return {"rename": errno.errorcode[exc.errno]}
        return {"rename": "done"}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class HardlinkerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"hard_link": HardLink, "move_out": MoveOut, "hardlinker_ping": Ping}[name]()
