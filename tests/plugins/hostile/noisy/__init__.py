import logging
import os
import subprocess
import sys
from typing import Any

print("noisy: junk printed at import")
sys.__stdout__.write("noisy: junk on sys.__stdout__\n")
sys.__stdout__.flush()

log = logging.getLogger("noisy.tool")


class Chatter:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        print("noisy: junk printed by the tool")
        os.write(1, b"\x00\x00\x00\x10noisy: raw fd 1\n")
        child = "echo 'noisy: junk from a child process'; printf '\\000\\000\\000\\001x'"
        subprocess.run(["/bin/sh", "-c", child], check=True)
        sys.stderr.write("noisy-stderr-marker\n")
        sys.stderr.flush()
        log.warning("noisy-logging-marker %s", params.get("tag", ""))
        return {"ok": True, "tag": params.get("tag", "")}


class NoisyPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        print("noisy: junk printed in __init__")

    def create_tool(self, name: str) -> Any:
        return Chatter()
