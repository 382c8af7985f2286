"""An unchanged plugin is admitted from the cache without loading the scanners or the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import BUNDLED_PLUGINS

PROBE = """
import json, sys
from pathlib import Path
from runtime.gate.gate import Gate, GateConfig
from runtime.manifest.discovery import discover
manifest = discover([Path(sys.argv[1])]).manifests[0]
verdict = Gate(GateConfig(cache_dir=Path(sys.argv[2]))).review_sync(manifest)
print(json.dumps({
    "cached": verdict.cached,
    "decision": str(verdict.decision),
    "loaded": sorted(m for m in ("bandit", "runtime.gate.deps", "runtime.gate.code")
                     if m in sys.modules),
}))
"""


def _review_in_fresh_process(plugin: Path, cache: Path) -> dict[str, object]:
    env = {**os.environ, "HYDROGEN_OSV_LIVE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(plugin), str(cache)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_cache_hit_in_a_fresh_process_imports_no_scanner(tmp_path: Path) -> None:
    plugin = BUNDLED_PLUGINS / "system"
    first = _review_in_fresh_process(plugin, tmp_path)
    assert first["cached"] is False
    assert "bandit" in first["loaded"]  # type: ignore[operator]

    second = _review_in_fresh_process(plugin, tmp_path)
    assert second == {"cached": True, "decision": first["decision"], "loaded": []}
    assert (tmp_path / "advisory-fingerprint.json").is_file()
