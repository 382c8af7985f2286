"""Resource escapes: CPU, heap, mmap and shared memory, disk and descriptors.

Each is stopped by a limit of the plugin's profile (rlimits) or by its cgroup, and only that
plugin's worker pays: the supervisor and the canary keep answering.
"""

from __future__ import annotations

import time
from typing import Final

import pytest

from runtime import PluginCrashedError, ToolFailedError
from tests.escape.support import assert_survived, escape_supervisor
from tests.integration.support import plugin_status, wait_for_new_worker

pytestmark = [pytest.mark.escape, pytest.mark.anyio]

# tests/profiles/tiny-cpu.yaml: cpu_seconds 1; runtime/sandbox/limits.py: SIGKILL 2 s of CPU later.
CPU_SOFT_SECONDS: Final = 1
CPU_HARD_SECONDS: Final = 3
# Wall-clock bound for a spin to be stopped, with room for a loaded machine.
CPU_STOP_WITHIN: Final = CPU_HARD_SECONDS + 3.0
# tests/profiles/tiny-memory.yaml
TINY_MEMORY_MIB: Final = 128
# tests/profiles/tiny-disk.yaml
TINY_FILE_MIB: Final = 4
# tests/profiles/strict.yaml
STRICT_OPEN_FILES: Final = 256


async def test_cpu_spin_is_stopped_by_sigxcpu_and_the_plugin_restarts() -> None:
    async with escape_supervisor("cpu_spinner") as sup:
        old_pid = plugin_status(sup, "cpu_spinner")["pid"]
        started = time.monotonic()
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("spin_cpu")

        assert time.monotonic() - started < CPU_STOP_WITHIN
        assert "worker exited on SIGXCPU" in caught.value.detail
        assert "CPU time limit" in caught.value.detail
        new_pid = await wait_for_new_worker(sup, "cpu_spinner", old_pid)
        await assert_survived(sup, "cpu_spinner", new_pid)


async def test_cpu_spin_that_ignores_sigxcpu_is_killed_at_the_hard_limit() -> None:
    async with escape_supervisor("cpu_stubborn") as sup:
        old_pid = plugin_status(sup, "cpu_stubborn")["pid"]
        assert await sup.call("cpu_limits") == {
            "soft": CPU_HARD_SECONDS,
            "hard": CPU_HARD_SECONDS,
            "sigxcpu_ignored": True,
        }
        started = time.monotonic()
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("spin_stubbornly")

        assert CPU_SOFT_SECONDS < time.monotonic() - started < CPU_STOP_WITHIN
        assert "worker exited on SIGKILL" in caught.value.detail
        new_pid = await wait_for_new_worker(sup, "cpu_stubborn", old_pid)
        await assert_survived(sup, "cpu_stubborn", new_pid)


async def test_huge_allocation_and_huge_mappings_fail_at_the_memory_limits() -> None:
    async with escape_supervisor("mem_bomber") as sup:
        pid = plugin_status(sup, "mem_bomber")["pid"]
        with pytest.raises(ToolFailedError) as caught:
            await sup.call("allocate_huge")
        assert caught.value.error_type == "MemoryError"

        # RLIMIT_DATA refuses private mappings; RLIMIT_AS the shared one it does not count.
        assert await sup.call("map_huge") == {"private": "ENOMEM", "shared": "ENOMEM"}
        await assert_survived(sup, "mem_bomber", pid)


async def test_memory_bomb_that_catches_memory_error_holds_no_more_than_the_limit() -> None:
    async with escape_supervisor("mem_hoarder") as sup:
        pid = plugin_status(sup, "mem_hoarder")["pid"]

        result = await sup.call("hoard_memory")

        assert result["memory_errors"] > 0
        assert 0 < result["held_mib"] < TINY_MEMORY_MIB
        await assert_survived(sup, "mem_hoarder", pid)


async def test_shared_memory_in_dev_shm_gets_eacces() -> None:
    async with escape_supervisor("shm_bomber") as sup:
        # Landlock: /dev/shm is not granted (runtime/sandbox/paths.py).
        assert await sup.call("shm_open_bomb") == {"errno": "EACCES"}
        await assert_survived(sup, "shm_bomber", plugin_status(sup, "shm_bomber")["pid"])


@pytest.mark.layers("memory-cgroup")
async def test_memfd_bomb_past_the_rlimits_is_killed_by_the_memory_cgroup() -> None:
    async with escape_supervisor("shm_bomber") as sup:
        entry = plugin_status(sup, "shm_bomber")
        assert entry["containment"] == "cgroup-v1-pids+memory"
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("memfd_bomb")

        # Not a MemoryError or ENOMEM: no rlimit saw the pages; the cgroup's OOM killer did.
        assert "worker exited on SIGKILL" in caught.value.detail
        new_pid = await wait_for_new_worker(sup, "shm_bomber", entry["pid"])
        await assert_survived(sup, "shm_bomber", new_pid)


async def test_disk_filler_gets_efbig_at_the_file_size_limit() -> None:
    async with escape_supervisor("disk_filler") as sup:
        pid = plugin_status(sup, "disk_filler")["pid"]

        # Python ignores SIGXFSZ, so the write past RLIMIT_FSIZE fails instead of killing.
        assert await sup.call("fill_one_file") == {"errno": "EFBIG", "written_mib": TINY_FILE_MIB}
        await assert_survived(sup, "disk_filler", pid)


async def test_disk_filler_with_sigxfsz_restored_is_killed_by_it() -> None:
    async with escape_supervisor("disk_filler") as sup:
        old_pid = plugin_status(sup, "disk_filler")["pid"]
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("fill_with_sigxfsz")

        assert "worker exited on SIGXFSZ" in caught.value.detail
        new_pid = await wait_for_new_worker(sup, "disk_filler", old_pid)
        await assert_survived(sup, "disk_filler", new_pid)


async def test_disk_filler_spreading_over_many_files_hits_a_quota() -> None:
    files = 8
    async with escape_supervisor("disk_filler") as sup:
        result = await sup.call("fill_many_files", {"files": files})

    assert result["total_mib"] < files * TINY_FILE_MIB
    assert result["errno"] in ("ENOSPC", "EDQUOT")


async def test_descriptor_exhaustion_gets_emfile_and_the_worker_keeps_serving() -> None:
    async with escape_supervisor("fd_hoarder") as sup:
        pid = plugin_status(sup, "fd_hoarder")["pid"]

        first = await sup.call("hoard_fds")
        second = await sup.call("hoard_fds")

        assert first["errno"] == "EMFILE"
        assert 0 < first["opened"] < STRICT_OPEN_FILES
        assert second == {"errno": "EMFILE", "opened": 0, "held": first["held"]}
        await assert_survived(sup, "fd_hoarder", pid)
