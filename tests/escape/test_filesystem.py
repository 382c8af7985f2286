"""Filesystem escapes: reading, writing, linking and opening outside the grant.

Each Python-level attempt is explained by the audit hook (``ToolFailedError`` naming the grant);
each raw attempt goes past the hook through libc or an unaudited call and gets the kernel's
own answer, from Landlock.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import psutil
import pytest

import runtime
from runtime import Supervisor, ToolFailedError
from tests.escape.support import (
    ESCAPE,
    assert_layer,
    assert_survived,
    denial,
    escape_supervisor,
    hosted,
    pids_cgroup,
    workroots_in,
)
from tests.integration.support import plugin_status

pytestmark = [pytest.mark.escape, pytest.mark.anyio, pytest.mark.layers("landlock")]

PLUGINS: Final = (
    "shadow_reader",
    "secret_reader",
    "folder_writer",
    "outside_writer",
    "symlinker",
    "hardlinker",
    "raw_opener",
    "proc_snooper",
    "cgroup_escaper",
    "device_maker",
    "metadata_tamperer",
    "watcher",
)
SHADOW: Final = "/etc/shadow"
RUNTIME_MODULE: Final = Path(runtime.__file__).parent / "worker" / "main.py"
SECRET: Final = "-----BEGIN OPENSSH PRIVATE KEY----- not really"
# Deeper than Python's default recursion limit (1000), which a recursive delete follows.
DEEP_TREE: Final = 1500


@pytest.fixture(scope="module")
async def sup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Supervisor]:
    async with hosted(tmp_path_factory.mktemp("workroot"), *PLUGINS) as supervisor:
        yield supervisor


@pytest.fixture
def ssh_key(tmp_path: Path) -> Path:
    """A private key outside every grant, like ~/.ssh/id_ed25519 (root has no ~/.ssh here)."""
    ssh = tmp_path / ".ssh"
    ssh.mkdir(mode=0o700)
    key = ssh / "id_ed25519"
    key.write_text(SECRET)
    key.chmod(0o600)
    return key


def exists(*paths: Path) -> bool:
    return any(path.exists() for path in paths)


def content(path: Path) -> str:
    return path.read_text()


def host_devices() -> list[str]:
    return [d for d in ("/dev/vda", "/dev/sda", "/dev/kmsg", "/dev/mem") if os.path.exists(d)]


def worker_pid(sup: Supervisor, plugin: str) -> int:
    pid: int = plugin_status(sup, plugin)["pid"]
    return pid


async def test_reading_etc_shadow_is_denied_with_a_message_naming_the_grant(
    sup: Supervisor,
) -> None:
    pid = worker_pid(sup, "shadow_reader")
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("read_shadow")

    assert caught.value.error_type == "Denial"
    assert caught.value.remote_message == denial(
        "shadow_reader", f"read access to {SHADOW}", "filesystem.read"
    )
    await assert_survived(sup, "shadow_reader", pid)


async def test_raw_libc_open_of_etc_shadow_bypasses_the_hook_and_gets_eacces(
    sup: Supervisor,
) -> None:
    assert await sup.call("read_shadow_raw") == {"errno": "EACCES"}

    assert_layer(sup, "shadow_reader", "landlock")
    await assert_survived(sup, "shadow_reader", worker_pid(sup, "shadow_reader"))


async def test_reading_an_ssh_key_outside_the_grant_is_denied(
    sup: Supervisor, ssh_key: Path
) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("read_secret", {"path": str(ssh_key)})
    assert caught.value.error_type == "Denial"
    assert caught.value.remote_message == denial(
        "secret_reader", f"read access to {ssh_key}", "filesystem.read"
    )

    assert await sup.call("read_secret_raw", {"path": str(ssh_key)}) == {"errno": "EACCES"}
    await assert_survived(sup, "secret_reader", worker_pid(sup, "secret_reader"))


@pytest.mark.parametrize("where", ["/root", "/", "ssh-dir"])
async def test_listing_root_or_a_dot_ssh_directory_gets_eacces(
    sup: Supervisor, ssh_key: Path, where: str
) -> None:
    path = str(ssh_key.parent) if where == "ssh-dir" else where

    assert await sup.call("list_directory", {"path": path}) == {"errno": "EACCES"}
    await assert_survived(sup, "secret_reader", worker_pid(sup, "secret_reader"))


async def test_writing_into_its_own_plugin_folder_is_denied(sup: Supervisor) -> None:
    # The worker runs the version's private snapshot of the folder (runtime/host/snapshot.py).
    running = sup._plugins["folder_writer"].code.root
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("plant_in_own_folder")

    assert caught.value.error_type == "Denial"
    assert caught.value.remote_message == denial(
        "folder_writer", f"write access to {running / 'planted.py'}", "filesystem.write"
    )
    assert not (running / "planted.py").exists()
    assert not (ESCAPE / "folder_writer" / "planted.py").exists()
    await assert_survived(sup, "folder_writer", worker_pid(sup, "folder_writer"))


async def test_raw_writes_to_its_folder_its_code_and_the_runtime_get_eacces(
    sup: Supervisor,
) -> None:
    own_init = ESCAPE / "folder_writer" / "__init__.py"
    before = own_init.read_bytes(), RUNTIME_MODULE.read_bytes()

    result = await sup.call("plant_raw", {"runtime_module": str(RUNTIME_MODULE)})

    assert result == {"new_module": "EACCES", "own_init": "EACCES", "runtime_module": "EACCES"}
    assert (own_init.read_bytes(), RUNTIME_MODULE.read_bytes()) == before
    assert not (ESCAPE / "folder_writer" / "planted.py").exists()
    await assert_survived(sup, "folder_writer", worker_pid(sup, "folder_writer"))


@pytest.mark.parametrize("where", ["test-tmp", "canary-work-dir", "etc"])
async def test_writing_outside_the_grant_is_denied_and_raw_writes_get_eacces(
    sup: Supervisor, tmp_path: Path, where: str
) -> None:
    directory = {
        "test-tmp": tmp_path,
        "canary-work-dir": Path(psutil.Process(worker_pid(sup, "echo")).cwd()),
        "etc": Path("/etc"),
    }[where]
    target = directory / "hydrogen-escape-probe"
    victim = tmp_path / "victim"
    victim.write_text("keep me")

    with pytest.raises(ToolFailedError) as caught:
        await sup.call("write_outside", {"path": str(target)})
    assert caught.value.remote_message == denial(
        "outside_writer", f"write access to {target}", "filesystem.write"
    )
    result = await sup.call("write_outside_raw", {"path": str(target), "victim": str(victim)})

    assert result == {
        "create": "EACCES",
        "mkdir": "EACCES",
        "truncate": "EACCES",
        "unlink": "EACCES",
    }
    assert not exists(target, Path(f"{target}.d"))
    assert victim.read_text() == "keep me"
    await assert_survived(sup, "outside_writer", worker_pid(sup, "outside_writer"))


@pytest.mark.parametrize(
    ("target", "through"),
    [
        pytest.param(SHADOW, "", id="file"),
        pytest.param("/", "etc/shadow", id="directory"),
    ],
)
async def test_symlink_from_the_work_dir_to_a_secret_gets_eacces(
    sup: Supervisor, target: str, through: str
) -> None:
    # The link is inside the work dir, so the hook's lexical check lets open() through; the
    # kernel resolves the link and Landlock refuses the target.
    result = await sup.call("follow_symlink", {"target": target, "through": through})

    assert Path(result["link"]).parent == Path(psutil.Process(worker_pid(sup, "symlinker")).cwd())
    assert (result["read"], result["write"]) == ("EACCES", "EACCES")
    await assert_survived(sup, "symlinker", worker_pid(sup, "symlinker"))


async def test_symlink_to_a_test_secret_cannot_read_or_append_to_it(
    sup: Supervisor, ssh_key: Path
) -> None:
    result = await sup.call("follow_symlink", {"target": str(ssh_key)})

    assert (result["read"], result["write"]) == ("EACCES", "EACCES")
    assert content(ssh_key) == SECRET


@pytest.mark.parametrize("source", [SHADOW, str(RUNTIME_MODULE)], ids=["shadow", "runtime"])
async def test_hard_link_into_the_work_dir_gets_exdev(sup: Supervisor, source: str) -> None:
    # A second name inside the writable work dir would carry the work dir's rights; Landlock
    # refuses links from a directory where the plugin lacks the "refer" right.
    assert await sup.call("hard_link", {"source": source}) == {"link": "EXDEV"}

    assert os.stat(source).st_nlink == 1
    await assert_survived(sup, "hardlinker", worker_pid(sup, "hardlinker"))


async def test_moving_a_file_out_of_the_work_dir_is_refused(
    sup: Supervisor, tmp_path: Path
) -> None:
    destination = tmp_path / "moved-out"

    # The work dir is its own tmpfs (the disk quota), so the kernel says EXDEV before Landlock
    # would say EACCES; without the quota layer it is Landlock's EACCES.
    result = await sup.call("move_out", {"destination": str(destination)})
    assert result["rename"] in ("EXDEV", "EACCES")
    assert not destination.exists()


async def test_every_raw_open_gets_eacces_and_file_handles_get_eperm(sup: Supervisor) -> None:
    result = await sup.call("open_every_way", {"path": SHADOW})

    assert result == {
        "open": "EACCES",
        "openat": "EACCES",
        "openat2": "EACCES",
        # An O_PATH descriptor is no access check, and it cannot be read.
        "o_path_then_read": "EBADF",
        "openat_from_parent": "EACCES",
        # seccomp: file handles bypass path checks altogether.
        "name_to_handle_at": "EPERM",
        "open_by_handle_at": "EPERM",
    }
    assert_layer(sup, "raw_opener", "seccomp")
    await assert_survived(sup, "raw_opener", worker_pid(sup, "raw_opener"))


async def test_supervisor_environ_is_denied_and_raw_proc_reads_get_eacces(
    sup: Supervisor,
) -> None:
    supervisor_pid = os.getpid()
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("read_proc", {"pid": supervisor_pid})
    assert caught.value.remote_message == denial(
        "proc_snooper", f"read access to /proc/{supervisor_pid}/environ", "filesystem.read"
    )

    result = await sup.call("read_proc_raw", {"pid": supervisor_pid})

    assert result == {
        "environ": "EACCES",
        "cmdline": "EACCES",
        "mem": "EACCES",
        "maps": "EACCES",
        "self_environ": "EACCES",
        "list_proc": "EACCES",
    }
    await assert_survived(sup, "proc_snooper", worker_pid(sup, "proc_snooper"))


@pytest.mark.layers("pids-cgroup")
async def test_leaving_its_cgroup_or_raising_pids_max_gets_eacces(sup: Supervisor) -> None:
    pid = worker_pid(sup, "cgroup_escaper")
    group = pids_cgroup(pid)
    limit = (group / "pids.max").read_text()

    result = await sup.call("leave_cgroup", {"group": str(group)})

    assert result == {
        "/sys/fs/cgroup/pids": "EACCES",
        "/sys/fs/cgroup/memory": "EACCES",
        "/sys/fs/cgroup/unified": "EACCES",
        "pids.max": "EACCES",
    }
    assert pids_cgroup(pid) == group
    assert (group / "pids.max").read_text() == limit
    await assert_survived(sup, "cgroup_escaper", pid)


async def test_device_nodes_cannot_be_made_or_host_devices_opened(sup: Supervisor) -> None:
    disk = os.stat("/").st_dev
    devices = host_devices()

    result = await sup.call(
        "make_device",
        {"major": os.major(disk), "minor": os.minor(disk), "devices": devices},
    )

    # Landlock: the work dir grant never includes making block or character devices.
    assert result == {
        "mknod_block": "EACCES",
        "mknod_char": "EACCES",
        **dict.fromkeys(devices, "EACCES"),
    }
    await assert_survived(sup, "device_maker", worker_pid(sup, "device_maker"))


async def test_changing_the_mode_of_a_file_outside_the_grant_is_refused(
    sup: Supervisor, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("private")
    victim.chmod(0o600)

    result = await sup.call("tamper_metadata", {"path": str(victim)})

    # seccomp refuses mode, owner and xattr changes outright (Landlock does not see them).
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert (result["chmod"], result["setxattr"]) == ("EPERM", "EPERM")


@pytest.mark.xfail(
    strict=True,
    reason="hole: Landlock (ABI 7) does not check utime, and a uid-0 worker owns the file, so a "
    "plugin can reset timestamps of files outside its grant (a dedicated worker uid closes it)",
)
async def test_changing_the_timestamps_of_a_file_outside_the_grant_is_refused(
    sup: Supervisor, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("private")
    mtime = victim.stat().st_mtime_ns

    result = await sup.call("tamper_metadata", {"path": str(victim)})

    assert victim.stat().st_mtime_ns == mtime
    assert result["utime"] == "EPERM"


async def test_watching_files_outside_the_grant_is_refused(sup: Supervisor, ssh_key: Path) -> None:
    result = {path: await sup.call("watch_path", {"path": path}) for path in (SHADOW, str(ssh_key))}

    # Landlock does not check inotify watches; seccomp refuses inotify_add_watch outright.
    assert result == {SHADOW: {"watch": "EPERM"}, str(ssh_key): {"watch": "EPERM"}}


async def test_a_work_dir_deeper_than_the_recursion_limit_is_removed_on_exit(
    tmp_path: Path,
) -> None:
    try:
        async with escape_supervisor("tree_digger") as sup:
            await sup.call("dig", {"depth": DEEP_TREE})
            await assert_survived(sup, "tree_digger", worker_pid(sup, "tree_digger"))
        assert workroots_in(tmp_path / "tempdir") == []
    finally:
        remove_workroots(tmp_path / "tempdir")


def remove_workroots(parent: Path) -> None:
    """With rm, which does not recurse on the stack; pytest's cleanup of tmp_path would."""
    for leftover in workroots_in(parent):
        subprocess.run(["rm", "-rf", "--", str(parent / leftover)], check=True)
