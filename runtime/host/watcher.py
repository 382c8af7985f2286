"""Watch the plugin directories and reload what changed (``Supervisor(watch=True)``).

watchfiles (Rust ``notify``: inotify on Linux) reports changes in batches; a burst of writes
(an editor's save, a ``git checkout``, an rsync) is debounced into one batch, and each batch
becomes one ``reload_all()``, which compares digests, so a plugin whose files did not really
change is left alone, and a half-written change is followed by the reload of the finished one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Final

import anyio
import watchfiles

from runtime.errors import HydrogenError

__all__ = ["DEBOUNCE_MS", "watch_plugin_dirs"]

log = logging.getLogger("hydrogen.watcher")

# Milliseconds of quiet that end a burst of writes; long enough for an editor's save (write,
# fsync, rename) and short enough that a reload feels immediate.
DEBOUNCE_MS: Final = 300
# Milliseconds between checks for new events inside watchfiles.
STEP_MS: Final = 50
# Seconds to wait before watching again when the watch itself fails (e.g. a directory vanished).
RETRY_DELAY: Final = 1.0
# Names that never make a new plugin version: caches, VCS data, editors' scratch files.
_IGNORED_DIRS: Final = frozenset({"__pycache__", ".git", ".mypy_cache", ".ruff_cache"})
_IGNORED_SUFFIXES: Final = (".pyc", ".pyo", ".swp", ".swx", ".tmp", "~")


def relevant(change: watchfiles.Change, path: str) -> bool:
    parts = Path(path).parts
    name = parts[-1] if parts else ""
    return not (
        any(part in _IGNORED_DIRS for part in parts)
        or name.endswith(_IGNORED_SUFFIXES)
        or name.startswith(".#")
    )


async def watch_plugin_dirs(
    directories: Iterable[Path], on_change: Callable[[], Awaitable[object]]
) -> None:
    """Run until cancelled: call ``on_change`` after each debounced batch of relevant changes."""
    roots = [d for d in directories if d.is_dir()]
    if not roots:
        log.warning("hot reload: none of the plugin directories exists; nothing to watch")
        return
    while True:
        try:
            async for batch in watchfiles.awatch(
                *roots,
                watch_filter=relevant,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                recursive=True,
            ):
                log.debug("hot reload: %d change(s), e.g. %s", len(batch), next(iter(batch))[1])
                try:
                    await on_change()
                except HydrogenError as exc:
                    log.error("hot reload failed: %s", exc)
            return  # awatch ends only when its directories are gone
        except (OSError, RuntimeError) as exc:
            log.error("hot reload: watching %s failed (%s); retrying", roots, exc)
            await anyio.sleep(RETRY_DELAY)
