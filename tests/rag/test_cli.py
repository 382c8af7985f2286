"""``hydrogen call`` with the rag plugin: two separate processes, one store on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import anyio
import pytest

from tests.conftest import REPO_ROOT
from tests.rag.support import PLUGIN_DIR, rag_environ

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

HYDROGEN: Final = Path(sys.executable).parent / "hydrogen"
# Seconds for one CLI run: interpreter, supervisor, worker, torch and the model, one call.
CLI_TIMEOUT: Final = 120.0


async def hydrogen_call(data: Path, tool: str, params: dict[str, Any]) -> dict[str, Any]:
    env = rag_environ(data, COLUMNS="400")
    env.pop("HYDROGEN_PROFILES", None)
    with anyio.fail_after(CLI_TIMEOUT):
        done: subprocess.CompletedProcess[bytes] = await anyio.run_process(
            [str(HYDROGEN), "--plugins", str(PLUGIN_DIR), "call", tool, json.dumps(params)],
            cwd=REPO_ROOT,
            env=env,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_hydrogen_call_adds_in_one_process_and_answers_in_the_next(tmp_path: Path) -> None:
    data = tmp_path / "rag-data"
    text = (
        "The night train to Vienna leaves Zurich at 21:40 from platform 7. "
        "It arrives in Vienna at 07:30 the next morning."
    )
    added = await hydrogen_call(data, "rag_add_document", {"id": "train", "text": text})
    assert added["documents"] == [{"document_id": "train", "status": "added", "chunks": 1}]

    answer = await hydrogen_call(
        data,
        "rag_query_with_context",
        {"question": "From which platform does the night train to Vienna leave?",
         "similarity_threshold": 0.4},
    )  # fmt: skip
    assert answer["answered_by"] == "extractive"
    assert [s["document_id"] for s in answer["sources"]] == ["train"]
    assert "platform 7" in answer["answer"]
