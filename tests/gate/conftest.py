"""Fixtures of the dependency-audit tests: the real advisory database and plugin folders."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from runtime.gate.advisories import ADVISORY_DB_ENV, Advisories, load_advisories
from runtime.gate.findings import PluginSource
from runtime.manifest.loader import load_manifest
from tests.conftest import REPO_ROOT

MakePlugin = Callable[..., PluginSource]


@pytest.fixture(scope="session")
def advisory_db() -> Path:
    """The PyPA advisory database: ``$HYDROGEN_ADVISORY_DB``, else ``<repo>/../shared/advisory-db``
    (never an imported database in the user's data dir: the tests rely on known entries).

    Missing, it fails the test rather than skipping it: a security check that silently does not
    run is the failure these tests exist to catch.
    """
    configured = os.environ.get(ADVISORY_DB_ENV)
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "advisory-db"
    if not (path / "vulns").is_dir():
        pytest.fail(
            f"the advisory database is missing: set {ADVISORY_DB_ENV} to a checkout of "
            f"pypa/advisory-database (found: {path})"
        )
    return path


@pytest.fixture(scope="session")
def advisories(advisory_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Advisories:
    return load_advisories(advisory_db, cache_dir=tmp_path_factory.mktemp("advisory-cache"))


@pytest.fixture
def make_plugin(tmp_path: Path) -> MakePlugin:
    """A plugin folder with ``requirements:`` in plugin.yaml and, if given, a requirements.txt."""

    def make(requirements: Sequence[str] = (), requirements_txt: str | None = None) -> PluginSource:
        root = tmp_path / "demo"
        root.mkdir(exist_ok=True)
        listed = "".join(f"  - {item!r}\n" for item in requirements)
        (root / "plugin.yaml").write_text(
            "name: demo\nversion: 1.0.0\ndescription: dependency audit test plugin\n"
            + (f"requirements:\n{listed}" if requirements else "")
        )
        if requirements_txt is not None:
            (root / "requirements.txt").write_text(requirements_txt)
        manifest, problems = load_manifest(root / "plugin.yaml")
        assert manifest is not None, problems
        return PluginSource.from_manifest(manifest)

    return make
