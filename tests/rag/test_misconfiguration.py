"""Misconfiguration through the runtime: every failure names the setting to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import PluginUnavailableError, ToolFailedError
from tests.rag.support import rag_environ, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_a_missing_model_fails_each_call_naming_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    async with supervisor(rag_environ(None, RAG_MODEL_PATH=str(missing))) as sup:
        with pytest.raises(ToolFailedError) as caught:
            await sup.call("rag_search_documents", {"query": "anything"})
        assert caught.value.error_type == "ModelError"
        assert "configuration.embedding.model_path (RAG_MODEL_PATH)" in str(caught.value)
        assert str(missing) in str(caught.value)
        # What needs no model still answers, and says what is wrong.
        stats = await sup.call("rag_collection_stats", {})
        assert stats["embedding"]["state"] == "failed"
        assert "RAG_MODEL_PATH" in stats["embedding"]["error"]


async def test_a_bad_setting_fails_the_start_naming_its_key() -> None:
    environ = rag_environ(None, RAG_AI_BASE_URL="ftp://models.internal:21/v1")
    async with supervisor(environ) as sup:
        entry = sup.status()["plugins"]["rag"]
        assert entry["state"] == "error", entry
        assert "configuration.ai_provider.base_url" in entry["reason"]
        with pytest.raises(PluginUnavailableError, match=r"ai_provider\.base_url"):
            await sup.call("rag_collection_stats", {})
