"""Symlink escape: the link lives in the writable work dir, so a lexical path check (the audit
hook's) lets the open through; the kernel resolves the link and Landlock checks the target."""

import errno
import os
import uuid
from typing import Any


class FollowSymlink:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        link = os.path.join(os.getcwd(), f"link-{uuid.uuid4().hex[:8]}")
        os.symlink(params["target"], link)
        path = os.path.join(link, params["through"]) if params.get("through") else link
        result: dict[str, Any] = {"link": link}
        try:
            with open(path) as f:
                result["read"] = f.read()
        except OSError as exc:
            result["read"] = errno.errorcode[exc.errno]
        try:
            with open(path, "a") as f:
                f.write("escaped\n")
            result["write"] = "done"
        except OSError as exc:
            result["write"] = errno.errorcode[exc.errno]
        return result


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class SymlinkerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"follow_symlink": FollowSymlink, "symlinker_ping": Ping}[name]()
