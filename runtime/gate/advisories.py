"""The local advisory database: a directory of OSV records, indexed by PyPI package name.

Where it is (first that applies): the ``path`` a caller passes; ``$HYDROGEN_ADVISORY_DB``;
``$XDG_DATA_HOME/hydrogen/advisory-db`` (``~/.local/share/...``, where ``import_export``
installs by default) when it exists; ``<repository>/../shared/advisory-db`` when it exists (the
PyPA advisory database checked out next to the repository, as on the development and CI
machines). Records are ``*.yaml``, ``*.yml`` or ``*.json`` files anywhere below it (the PyPA
layout ``vulns/<package>/<ID>.yaml`` and the flat OSV ``all.zip`` layout both work).

``revision`` is a SHA-256 over every record's path and bytes, so it changes exactly when the
content does and is the same on every machine. Parsing ~2,700 YAML records takes about a
second, so the parsed records are kept as one msgpack file per revision under
``$HYDROGEN_ADVISORY_CACHE`` (default ``$XDG_CACHE_HOME/hydrogen/advisories``); a warm load
reads the records' bytes only to hash them. Each process loads a database once
(``refresh=True`` re-reads it); ``import_export`` swaps in a new export atomically through a
symlink, and the next ``load_advisories`` follows it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Final

import msgspec
import yaml
from packaging.utils import canonicalize_name
from packaging.version import Version

from runtime.errors import ConfigError
from runtime.gate.osv import PYPI, Advisory

__all__ = [
    "ADVISORY_CACHE_ENV",
    "ADVISORY_DB_ENV",
    "Advisories",
    "AdvisoryDbError",
    "default_advisory_db",
    "default_import_dir",
    "import_export",
    "load_advisories",
]

log = logging.getLogger(__name__)

ADVISORY_DB_ENV: Final = "HYDROGEN_ADVISORY_DB"
ADVISORY_CACHE_ENV: Final = "HYDROGEN_ADVISORY_CACHE"
RECORD_SUFFIXES: Final = (".yaml", ".yml", ".json")
# Bump when the Advisory struct changes, so no cache written by older code is read.
INDEX_FORMAT: Final = 1
# Cached indexes kept (one per revision); older ones are deleted.
CACHE_KEEP: Final = 4
# An export bigger than this once unpacked is refused (the PyPI export is ~100 MB today).
MAX_IMPORT_BYTES: Final = 2 * 1024**3
REPO_ROOT: Final = Path(__file__).resolve().parents[2]


class AdvisoryDbError(ConfigError):
    """The advisory database is missing or holds a record that cannot be read."""

    def __init__(self, path: Path, reason: str, *, hint: str = "") -> None:
        self.path, self.reason, self.hint = path, reason, hint
        text = f"advisory database {path}: {reason}"
        super().__init__(f"{text} ({hint})" if hint else text)


class Advisories:
    """Every advisory of one database revision, looked up by PEP 503 package name."""

    def __init__(self, path: Path, revision: str, records: Iterable[Advisory]) -> None:
        self.path = path
        self.revision = revision
        by_name: dict[str, list[Advisory]] = {}
        count = 0
        for record in records:
            count += 1
            for name in record.pypi_names():
                by_name.setdefault(name, []).append(record)
        self._by_name = {name: tuple(found) for name, found in by_name.items()}
        self.count = count

    def __repr__(self) -> str:
        return f"Advisories({str(self.path)!r}, revision={self.revision!r}, count={self.count})"

    @property
    def package_count(self) -> int:
        return len(self._by_name)

    def for_package(self, name: str) -> tuple[Advisory, ...]:
        return self._by_name.get(canonicalize_name(name), ())

    def affecting(self, name: str, version: Version) -> list[Advisory]:
        """Advisories (not withdrawn) that affect ``version`` of PyPI package ``name``."""
        canonical = canonicalize_name(name)
        return [a for a in self._by_name.get(canonical, ()) if a.affects(canonical, version)]


def default_advisory_db(environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    configured = env.get(ADVISORY_DB_ENV)
    if configured:
        return Path(configured)
    for candidate in (default_import_dir(env), REPO_ROOT.parent / "shared" / "advisory-db"):
        if candidate.is_dir():
            return candidate
    return None


def default_import_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hydrogen" / "advisory-db"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get(ADVISORY_CACHE_ENV)
    if configured:
        return Path(configured)
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hydrogen" / "advisories"


_loaded: dict[Path, Advisories] = {}
_loaded_lock = threading.Lock()


def load_advisories(
    path: Path | None = None, *, cache_dir: Path | None = None, refresh: bool = False
) -> Advisories:
    """The database at ``path`` (default: ``default_advisory_db()``), loaded once per process."""
    root = path if path is not None else default_advisory_db()
    if root is None:
        raise AdvisoryDbError(
            default_import_dir(),
            "no advisory database is configured",
            hint=f"set {ADVISORY_DB_ENV} to a directory of OSV records, or import one",
        )
    real = root.resolve()
    with _loaded_lock:
        if not refresh and real in _loaded:
            return _loaded[real]
        advisories = _load(root, real, cache_dir if cache_dir is not None else default_cache_dir())
        _loaded[real] = advisories
        return advisories


class _IndexFile(msgspec.Struct):
    format: int
    revision: str
    records: list[Advisory]


_index_decoder = msgspec.msgpack.Decoder(_IndexFile)


def _load(root: Path, real: Path, cache_dir: Path) -> Advisories:
    if not real.is_dir():
        raise AdvisoryDbError(root, "is not a directory", hint=f"check {ADVISORY_DB_ENV}")
    started = time.perf_counter()
    files = [(rel, (real / rel).read_bytes()) for rel in _record_paths(real)]
    if not files:
        raise AdvisoryDbError(root, "holds no OSV records (*.yaml, *.yml, *.json)")
    digest = hashlib.sha256()
    for rel, data in files:
        digest.update(rel.encode() + b"\0" + data + b"\0")
    revision = digest.hexdigest()[:16]
    cache_file = cache_dir / f"index-v{INDEX_FORMAT}-{digest.hexdigest()}.msgpack"
    records = _read_index(cache_file, revision)
    source = "cache"
    if records is None:
        records = [_decode_record(real / rel, data) for rel, data in files]
        _write_index(cache_file, _IndexFile(INDEX_FORMAT, revision, records))
        source = "records"
    log.info(
        "advisory database %s revision %s: %d records from %s in %.0f ms",
        root,
        revision,
        len(records),
        source,
        (time.perf_counter() - started) * 1000,
    )
    return Advisories(root, revision, records)


def quick_revision(path: Path | None = None) -> str:
    """A fingerprint of the database from file names, sizes and mtimes, without reading records.

    The gate's cache key needs to change when the database does, not the content hash: this
    costs a directory walk (milliseconds) where loading the index costs tens of them, so an
    unchanged plugin is answered from the cache without loading the database at all.
    """
    root = path if path is not None else default_advisory_db()
    if root is None or not root.is_dir():
        return "none"
    real = root.resolve()
    digest = hashlib.sha256(str(real).encode())
    for rel in _record_paths(real):
        stat = (real / rel).stat()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def _record_paths(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(RECORD_SUFFIXES) and not name.startswith("."):
                found.append(str(Path(dirpath, name).relative_to(root)))
    return sorted(found)


def _read_index(cache_file: Path, revision: str) -> list[Advisory] | None:
    try:
        index = _index_decoder.decode(cache_file.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    if index.format != INDEX_FORMAT or index.revision != revision:
        return None
    return index.records


def _write_index(cache_file: Path, index: _IndexFile) -> None:
    # A cache that cannot be written only costs the next process a slow load.
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".index-", dir=cache_file.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(msgspec.msgpack.encode(index))
        os.replace(tmp, cache_file)
        cached = sorted(cache_file.parent.glob("index-*.msgpack"), key=lambda p: p.stat().st_mtime)
        for old in cached[:-CACHE_KEEP]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("advisory index cache %s not written: %s", cache_file, exc)


class _OsvYamlLoader(yaml.CSafeLoader):
    """Every scalar stays a string (``1.10`` is a version, not the float 1.1); only null is read."""


_OsvYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


def _decode_record(path: Path, data: bytes) -> Advisory:
    try:
        if path.suffix == ".json":
            return msgspec.json.decode(data, type=Advisory)
        raw: Any = yaml.load(data, Loader=_OsvYamlLoader)
        return msgspec.convert(raw, Advisory)
    except (yaml.YAMLError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise AdvisoryDbError(path, f"not an OSV record: {exc}") from exc


# ---- importing a newer export ---------------------------------------------------------------


def import_export(
    src: Path, dest: Path | None = None, *, cache_dir: Path | None = None
) -> Advisories:
    """Install the OSV records of ``src`` (a directory or a zip such as OSV's ``all.zip``) at
    ``dest`` (default ``default_import_dir()``), atomically, and return them loaded.

    Only records about a PyPI package are kept. Every record is parsed before anything is
    switched, so a bad export leaves the installed database untouched. ``dest`` becomes a
    symlink to a versioned sibling directory and is replaced with one ``rename``; the previous
    version is kept (a process may be reading it), older ones are deleted. A ``dest`` that is a
    real directory is moved aside to ``.<name>.replaced-<time>``, never deleted.
    """
    dest = dest if dest is not None else default_import_dir()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _import_lock(dest):
        _install(src, dest)
    return load_advisories(dest, cache_dir=cache_dir, refresh=True)


@contextlib.contextmanager
def _import_lock(dest: Path) -> Iterator[None]:
    # One importer at a time per destination: each deletes versions the others are not using.
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _install(src: Path, dest: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.v", dir=dest.parent))
    try:
        kept = 0
        for rel, data in _export_records(src):
            if PYPI not in {a.package.ecosystem for a in _decode_record(src / rel, data).affected}:
                continue
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            kept += 1
        if kept == 0:
            raise AdvisoryDbError(src, "holds no OSV record about a PyPI package")
        staging.chmod(0o755)
        _switch(dest, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _export_records(src: Path) -> Iterator[tuple[str, bytes]]:
    if src.is_dir():
        for rel in _record_paths(src):
            yield rel, (src / rel).read_bytes()
        return
    try:
        with zipfile.ZipFile(src) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_IMPORT_BYTES:
                raise AdvisoryDbError(src, f"unpacks to more than {MAX_IMPORT_BYTES} bytes")
            for member in members:
                inside = PurePosixPath(member.filename)
                hidden = any(part.startswith(".") for part in inside.parts)  # also ".."
                if not inside.is_absolute() and not hidden and inside.suffix in RECORD_SUFFIXES:
                    yield str(inside), archive.read(member)
    except (OSError, zipfile.BadZipFile) as exc:
        raise AdvisoryDbError(src, f"is neither a directory nor a readable zip: {exc}") from exc


def _switch(dest: Path, version_dir: Path) -> None:
    link = dest.parent / f".{dest.name}.link-{os.getpid()}-{threading.get_ident()}"
    link.unlink(missing_ok=True)
    link.symlink_to(version_dir.name)
    previous = Path(os.readlink(dest)).name if dest.is_symlink() else None
    if dest.exists() and not dest.is_symlink():
        aside = dest.parent / f".{dest.name}.replaced-{time.strftime('%Y%m%dT%H%M%S')}"
        dest.rename(aside)
        log.warning("advisory database %s moved aside to %s", dest, aside)
    os.replace(link, dest)
    keep = {version_dir.name, previous}
    for old in dest.parent.glob(f".{dest.name}.v*"):
        if old.name not in keep and old.is_dir() and not old.is_symlink():
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
