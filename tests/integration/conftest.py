"""Integration fixtures: every test also proves its supervisors removed their work directories."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def no_leaked_workroots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point this process's temp dir at a private folder, then check it holds no workroot."""
    private = tmp_path / "tempdir"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    yield
    leftovers = sorted(p.name for p in private.glob("hydrogen-*"))
    assert not leftovers, f"supervisor work directories left behind: {leftovers}"
