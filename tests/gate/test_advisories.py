"""OSV version matching, loading a directory of OSV records, its cache, and importing exports."""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest
from packaging.version import Version

from runtime.gate.advisories import Advisories, AdvisoryDbError, import_export, load_advisories
from runtime.gate.osv import Advisory


def _record(
    vid: str,
    name: str = "demo",
    *,
    events: list[dict[str, str]] | None = None,
    versions: list[str] | None = None,
    ecosystem: str = "PyPI",
    **extra: Any,
) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"name": name, "ecosystem": ecosystem}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": vid, "details": f"{vid} details", "affected": [affected], **extra}


def _affects(record: dict[str, Any], version: str) -> bool:
    advisory = msgspec.convert(record, Advisory)
    name = record["affected"][0]["package"]["name"].lower()
    return advisory.affects(name, Version(version))


# ---- version matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "affected"),
    [("0.0.1", True), ("0.9", True), ("1.0.0", False), ("1.0.0rc1", True), ("2.0", False)],
)
def test_introduced_zero_fixed_range_affects_every_version_below_the_fix(
    version: str, affected: bool
) -> None:
    record = _record("A-1", events=[{"introduced": "0"}, {"fixed": "1.0.0"}])
    assert _affects(record, version) is affected


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("0.9", False),
        ("1.0", True),
        ("1.4.9", True),
        ("1.5", False),
        ("1.9", False),
        ("2.0", True),
        ("2.4", True),
        ("2.5", False),
    ],
)
def test_two_introduced_fixed_pairs_affect_only_inside_each_pair(
    version: str, affected: bool
) -> None:
    events = [{"introduced": "2.0"}, {"fixed": "2.5"}, {"introduced": "1.0"}, {"fixed": "1.5"}]
    assert _affects(_record("A-2", events=events), version) is affected


def test_last_affected_includes_that_version_and_excludes_later_ones() -> None:
    record = _record("A-3", events=[{"introduced": "1.0"}, {"last_affected": "1.2"}])
    assert _affects(record, "1.2")
    assert not _affects(record, "1.2.1")
    assert not _affects(record, "0.9")


def test_introduced_without_fix_affects_every_later_version() -> None:
    record = _record("A-4", events=[{"introduced": "3.1"}])
    assert _affects(record, "99.0")
    assert not _affects(record, "3.0.9")


def test_limit_caps_the_range() -> None:
    record = _record("A-5", events=[{"introduced": "0"}, {"limit": "2.0"}])
    assert _affects(record, "1.9")
    assert not _affects(record, "2.0")


def test_explicit_versions_list_matches_by_pep440_equality_and_nothing_else() -> None:
    record = _record("A-6", versions=["1.10", "2.0.0"])
    assert _affects(record, "1.10")
    assert _affects(record, "2.0")  # 2.0 == 2.0.0 in PEP 440
    assert not _affects(record, "1.1")
    assert not _affects(record, "2.0.1")


def test_withdrawn_advisory_affects_nothing() -> None:
    record = _record("A-7", events=[{"introduced": "0"}], withdrawn="2024-01-01T00:00:00Z")
    assert not _affects(record, "1.0")


def test_unreadable_fixed_version_reports_more_never_less() -> None:
    record = _record("A-8", events=[{"introduced": "1.0"}, {"fixed": "2019-09-12"}])
    assert _affects(record, "5.0")
    assert not _affects(record, "0.5")


def test_other_package_or_ecosystem_is_not_affected() -> None:
    advisory = msgspec.convert(
        _record("A-9", "demo", events=[{"introduced": "0"}], ecosystem="npm"), Advisory
    )
    assert not advisory.affects("demo", Version("1.0"))
    advisory = msgspec.convert(_record("A-10", "demo", events=[{"introduced": "0"}]), Advisory)
    assert not advisory.affects("other", Version("1.0"))


# ---- loading a directory --------------------------------------------------------------------


def _write_db(root: Path, records: Mapping[str, dict[str, Any] | str]) -> Path:
    for rel, record in records.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record if isinstance(record, str) else json.dumps(record))
    return root


YAML_RECORD = """\
id: PYSEC-0000-1
details: a YAML record with unquoted versions
affected:
- package:
    name: Foo_Bar
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: '0'
    - fixed: 1.10
  versions:
  - 1.1
  - 1.2
aliases:
- CVE-0000-0001
modified: 2021-06-16T00:03:24Z
"""


def test_yaml_and_json_records_load_under_their_pep503_names(tmp_path: Path) -> None:
    db = _write_db(
        tmp_path / "db",
        {
            "vulns/foo-bar/PYSEC-0000-1.yaml": YAML_RECORD,
            "GHSA-xxxx.json": _record("GHSA-xxxx", "Other.Pkg", events=[{"introduced": "2.0"}]),
            "README.md": "not a record",
        },
    )

    advisories = load_advisories(db, cache_dir=tmp_path / "cache", refresh=True)

    assert advisories.count == 2
    assert [a.id for a in advisories.for_package("FOO.bar")] == ["PYSEC-0000-1"]
    assert [a.id for a in advisories.affecting("other_pkg", Version("2.1"))] == ["GHSA-xxxx"]
    yaml_record = advisories.for_package("foo-bar")[0]
    assert yaml_record.modified == "2021-06-16T00:03:24Z"  # a string, not a datetime
    # "1.10" stayed a version string (YAML would read 1.10 as the float 1.1).
    assert yaml_record.affected[0].versions == ("1.1", "1.2")
    assert yaml_record.affected[0].fixed_versions() == ["1.10"]
    assert advisories.affecting("foo-bar", Version("1.5"))
    assert not advisories.affecting("foo-bar", Version("1.10"))


def test_revision_follows_content_not_location(tmp_path: Path) -> None:
    records = {"vulns/x/A-1.json": _record("A-1", "x", events=[{"introduced": "0"}])}
    first = load_advisories(_write_db(tmp_path / "one", records), cache_dir=tmp_path / "c")
    copy = load_advisories(_write_db(tmp_path / "two", records), cache_dir=tmp_path / "c")
    assert first.revision == copy.revision

    (tmp_path / "two" / "vulns" / "x" / "A-1.json").write_text(
        json.dumps(_record("A-1", "x", events=[{"introduced": "1.0"}]))
    )
    changed = load_advisories(tmp_path / "two", cache_dir=tmp_path / "c", refresh=True)
    assert changed.revision != first.revision
    assert not changed.affecting("x", Version("0.5"))


def test_second_load_comes_from_the_cache_and_a_corrupt_cache_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = _write_db(tmp_path / "db", {"A-1.json": _record("A-1", events=[{"introduced": "0"}])})
    cache = tmp_path / "cache"
    caplog.set_level(logging.INFO, logger="runtime.gate.advisories")

    load_advisories(db, cache_dir=cache, refresh=True)
    assert "from records" in caplog.text
    caplog.clear()
    load_advisories(db, cache_dir=cache, refresh=True)
    assert "from cache" in caplog.text

    for entry in cache.iterdir():
        entry.write_bytes(b"\x00garbage")
    caplog.clear()
    reloaded = load_advisories(db, cache_dir=cache, refresh=True)
    assert "from records" in caplog.text
    assert reloaded.affecting("demo", Version("1.0"))


def test_one_load_per_process_unless_refreshed(tmp_path: Path) -> None:
    db = _write_db(tmp_path / "db", {"A-1.json": _record("A-1")})
    first = load_advisories(db, cache_dir=tmp_path / "c", refresh=True)
    assert load_advisories(db, cache_dir=tmp_path / "c") is first
    assert load_advisories(db, cache_dir=tmp_path / "c", refresh=True) is not first


def test_a_record_that_is_not_osv_names_its_file(tmp_path: Path) -> None:
    db = _write_db(tmp_path / "db", {"vulns/x/BAD-1.yaml": "id: [unclosed"})
    with pytest.raises(AdvisoryDbError, match=r"BAD-1\.yaml"):
        load_advisories(db, cache_dir=tmp_path / "c", refresh=True)


def test_missing_or_empty_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryDbError, match="is not a directory"):
        load_advisories(tmp_path / "absent", cache_dir=tmp_path / "c")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdvisoryDbError, match="no OSV records"):
        load_advisories(tmp_path / "empty", cache_dir=tmp_path / "c")


def test_real_database_knows_requests_2_19_0(advisories: Advisories) -> None:
    assert advisories.count > 2000
    found = {a.id for a in advisories.affecting("requests", Version("2.19.0"))}
    assert "PYSEC-2018-28" in found
    assert "PYSEC-2018-28" not in {
        a.id for a in advisories.affecting("requests", Version("2.20.0"))
    }
    assert advisories.affecting("requests", Version("2.32.3")) == []


# ---- importing an export --------------------------------------------------------------------


def _zip(path: Path, members: Mapping[str, dict[str, Any] | str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, record in members.items():
            archive.writestr(name, record if isinstance(record, str) else json.dumps(record))
    return path


def test_import_of_an_osv_all_zip_keeps_pypi_records_and_ignores_unsafe_paths(
    tmp_path: Path,
) -> None:
    export = _zip(
        tmp_path / "all.zip",
        {
            "PYSEC-1.json": _record("PYSEC-1", "demo", events=[{"introduced": "0"}]),
            "NPM-1.json": _record("NPM-1", "left-pad", ecosystem="npm"),
            "../escape.json": _record("ESC-1"),
            "/abs.json": _record("ABS-1"),
        },
    )
    dest = tmp_path / "data" / "advisory-db"

    installed = import_export(export, dest, cache_dir=tmp_path / "c")

    assert dest.is_symlink()
    assert sorted(p.name for p in dest.iterdir()) == ["PYSEC-1.json"]
    assert installed.count == 1
    assert installed.affecting("demo", Version("1.0"))[0].id == "PYSEC-1"
    assert not (tmp_path / "escape.json").exists()


def test_import_swaps_versions_atomically_and_keeps_only_the_previous_one(tmp_path: Path) -> None:
    dest = tmp_path / "advisory-db"
    revisions = []
    targets = []
    for n in range(3):
        src = _write_db(
            tmp_path / f"src{n}", {f"vulns/demo/A-{n}.yaml": json.dumps(_record(f"A-{n}"))}
        )
        revisions.append(import_export(src, dest, cache_dir=tmp_path / "c").revision)
        targets.append(os.readlink(dest))

    assert len(set(revisions)) == 3
    assert [p.name for p in (dest / "vulns" / "demo").iterdir()] == ["A-2.yaml"]
    versions = sorted(p.name for p in tmp_path.glob(".advisory-db.v*"))
    assert versions == sorted(targets[1:])  # the first version was deleted
    assert load_advisories(dest, cache_dir=tmp_path / "c").revision == revisions[-1]


def test_a_bad_export_leaves_the_installed_database_untouched(tmp_path: Path) -> None:
    dest = tmp_path / "advisory-db"
    good = _write_db(tmp_path / "good", {"A-1.json": _record("A-1")})
    before = import_export(good, dest, cache_dir=tmp_path / "c")
    target = os.readlink(dest)

    bad = _zip(tmp_path / "bad.zip", {"A-2.json": _record("A-2"), "B.json": "{not json"})
    with pytest.raises(AdvisoryDbError, match=r"B\.json"):
        import_export(bad, dest, cache_dir=tmp_path / "c")
    with pytest.raises(AdvisoryDbError, match="no OSV record about a PyPI package"):
        import_export(_zip(tmp_path / "npm.zip", {"N.json": _record("N", ecosystem="npm")}), dest)

    assert os.readlink(dest) == target
    assert load_advisories(dest, cache_dir=tmp_path / "c", refresh=True).revision == before.revision
    assert [p.name for p in tmp_path.glob(".advisory-db.v*")] == [target]


def test_import_over_a_real_directory_moves_it_aside_never_deletes_it(tmp_path: Path) -> None:
    dest = _write_db(tmp_path / "advisory-db", {"OLD-1.json": _record("OLD-1")})
    src = _write_db(tmp_path / "src", {"NEW-1.json": _record("NEW-1")})

    import_export(src, dest, cache_dir=tmp_path / "c")

    assert dest.is_symlink()
    (aside,) = tmp_path.glob(".advisory-db.replaced-*")
    assert (aside / "OLD-1.json").is_file()
    shutil.rmtree(aside)
