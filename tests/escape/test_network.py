"""Network escapes: TCP to undeclared ports and hosts, Fast Open, servers, UDP, UNIX sockets.

With ``network: none`` seccomp refuses IP sockets outright (the empty network namespace is the
layer behind it). With a granted port the worker shares the host's network namespace, so each
refusal below comes from Landlock's TCP rules, its abstract-socket scope, or seccomp.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

from runtime import Supervisor, ToolFailedError
from tests.escape.support import (
    GRANTED_PORT,
    assert_layer,
    assert_survived,
    denial,
    hosted,
)
from tests.integration.support import TEST_PROFILES, plugin_status

pytestmark = [pytest.mark.escape, pytest.mark.anyio, pytest.mark.layers("seccomp")]

PLUGINS: Final = (
    "tcp_dialer",
    "port_dialer",
    "fastopen_dialer",
    "port_binder",
    "udp_sender",
    "udp_sender_net",
    "udp_sender_named",
    "unix_dialer",
    "unix_hopper",
)
NET_PROFILE: Final = TEST_PROFILES / "escape-net.yaml"
UNIX_PROFILE: Final = TEST_PROFILES / "escape-unix.yaml"
# Another loopback address: the granted port, on a host that was never granted.
OTHER_HOST: Final = "127.0.0.2"


@pytest.fixture(scope="module")
async def sup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Supervisor]:
    async with hosted(tmp_path_factory.mktemp("workroot"), *PLUGINS) as supervisor:
        yield supervisor


@pytest.fixture
def listen() -> Iterator[Callable[..., socket.socket]]:
    """Open TCP listeners of the supervisor's process (its "own ports"); closed at teardown."""
    servers: list[socket.socket] = []

    def open_listener(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
        server = socket.create_server((host, port))
        server.setblocking(False)
        servers.append(server)
        return server

    yield open_listener
    for server in servers:
        server.close()


@pytest.fixture
def udp_receiver() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        yield receiver


@pytest.fixture
def unix_listener() -> Iterator[socket.socket]:
    """A listening path-based UNIX socket of the host (a Docker or database socket)."""
    # sun_path holds 108 bytes; pytest's tmp_path can be longer.
    path = Path("/tmp") / f"hydrogen-escape-{uuid.uuid4().hex[:12]}.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        server.setblocking(False)
        try:
            yield server
        finally:
            path.unlink()


@pytest.fixture
def abstract_listener() -> Iterator[str]:
    name = f"hydrogen-escape-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(f"\0{name}")
        server.listen()
        yield name


def port_of(server: socket.socket) -> int:
    port: int = server.getsockname()[1]
    return port


def accepted(server: socket.socket) -> int:
    """Connections that reached ``server`` (a connect returns only once the handshake is done)."""
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def received(receiver: socket.socket) -> list[bytes]:
    datagrams = []
    with contextlib.suppress(BlockingIOError):
        while True:
            datagrams.append(receiver.recv(4096))
    return datagrams


def worker_pid(sup: Supervisor, plugin: str) -> int:
    pid: int = plugin_status(sup, plugin)["pid"]
    return pid


@pytest.mark.layers("netns")
async def test_tcp_to_a_host_listener_with_network_none_gets_eperm_from_seccomp(
    sup: Supervisor, listen: Callable[..., socket.socket]
) -> None:
    server = listen()

    assert await sup.call("dial_tcp", {"port": port_of(server)}) == {"errno": "EPERM"}
    assert await sup.call("dial_tcp_raw") == {"inet": "EPERM", "inet6": "EPERM"}

    assert accepted(server) == 0
    assert_layer(sup, "tcp_dialer", "seccomp")
    assert_layer(sup, "tcp_dialer", "netns")
    await assert_survived(sup, "tcp_dialer", worker_pid(sup, "tcp_dialer"))


@pytest.mark.layers("landlock-net")
async def test_connecting_to_the_supervisors_own_port_is_denied_and_raw_gets_eacces(
    sup: Supervisor, listen: Callable[..., socket.socket]
) -> None:
    server = listen()
    port = port_of(server)
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("dial_port", {"host": "127.0.0.1", "port": port})
    assert caught.value.error_type == "Denial"
    assert caught.value.remote_message == denial(
        "port_dialer", f"network access to 127.0.0.1:{port}", "network", NET_PROFILE
    )

    result = await sup.call("dial_port_raw", {"host": "127.0.0.1", "port": port})

    assert result == {"connect": "EACCES"}
    assert accepted(server) == 0
    assert_layer(sup, "port_dialer", "netns", "not used")
    assert_layer(sup, "port_dialer", "landlock", "on: ABI")
    await assert_survived(sup, "port_dialer", worker_pid(sup, "port_dialer"))


@pytest.mark.layers("landlock-net")
async def test_the_granted_port_connects_so_the_refusals_are_the_port_rule(
    sup: Supervisor, listen: Callable[..., socket.socket]
) -> None:
    server = listen(port=GRANTED_PORT)
    target = {"host": "127.0.0.1", "port": GRANTED_PORT}

    assert await sup.call("dial_port", target) == {"connect": "connected"}
    assert await sup.call("dial_port_raw", target) == {"connect": "connected"}
    assert accepted(server) == 2


async def test_the_granted_port_on_another_host_is_denied_by_the_hook(
    sup: Supervisor, listen: Callable[..., socket.socket]
) -> None:
    server = listen(OTHER_HOST, GRANTED_PORT)

    with pytest.raises(ToolFailedError) as caught:
        await sup.call("dial_port", {"host": OTHER_HOST, "port": GRANTED_PORT})

    assert caught.value.remote_message == denial(
        "port_dialer", f"network access to {OTHER_HOST}:{GRANTED_PORT}", "network", NET_PROFILE
    )
    assert accepted(server) == 0


@pytest.mark.xfail(
    strict=True,
    reason="hole: Landlock rules name ports, not hosts, so a raw connect reaches the granted "
    "port on any address (here 127.0.0.2; on a real host, any machine on the network)",
)
async def test_raw_connect_to_the_granted_port_on_another_host_is_refused(
    sup: Supervisor, listen: Callable[..., socket.socket]
) -> None:
    server = listen(OTHER_HOST, GRANTED_PORT)
    try:
        result = await sup.call("dial_port_raw", {"host": OTHER_HOST, "port": GRANTED_PORT})
    finally:
        reached = accepted(server)

    assert reached == 0
    assert result == {"connect": "EACCES"}


@pytest.mark.layers("landlock-net")
async def test_tcp_fast_open_to_an_undeclared_port_is_refused(
    sup: Supervisor, listen: Callable[..., socket.socket]
) -> None:
    server = listen()
    port = port_of(server)
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("dial_fastopen", {"port": port})
    assert caught.value.remote_message == denial(
        "fastopen_dialer", f"network access to 127.0.0.1:{port}", "network", NET_PROFILE
    )

    result = await sup.call("dial_fastopen_raw", {"port": port})

    # seccomp: MSG_FASTOPEN connects inside sendto/sendmsg, where Landlock never looks.
    assert result == {"sendto": "EPERM", "sendmsg": "EPERM"}
    assert accepted(server) == 0
    await assert_survived(sup, "fastopen_dialer", worker_pid(sup, "fastopen_dialer"))


@pytest.mark.layers("landlock-net")
async def test_binding_is_denied_raw_bind_gets_eacces_and_listen_gets_eperm(
    sup: Supervisor,
) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("bind_port", {"port": GRANTED_PORT})
    assert caught.value.remote_message == denial(
        "port_binder", "to listen on a socket", "network", NET_PROFILE
    )

    result = await sup.call("bind_port_raw", {"port": GRANTED_PORT})

    assert result == {
        # Landlock: no profile grants a TCP bind.
        "bind_port": {"errno": "EACCES"},
        "bind_any_port": {"errno": "EACCES"},
        # seccomp: listen() on an unbound socket would bind an ephemeral port by itself.
        "listen_unbound": {"errno": "EPERM"},
    }
    await assert_survived(sup, "port_binder", worker_pid(sup, "port_binder"))


@pytest.mark.parametrize(
    "plugin",
    [
        pytest.param("udp_sender", id="network-none"),
        pytest.param("udp_sender_net", id="ip-address-grant"),
    ],
)
async def test_udp_datagram_to_the_host_gets_eperm_from_seccomp(
    sup: Supervisor, udp_receiver: socket.socket, plugin: str
) -> None:
    tool = {"udp_sender": "send_udp", "udp_sender_net": "send_udp_net"}[plugin]

    assert await sup.call(tool, {"port": port_of(udp_receiver)}) == {"socket": "EPERM"}

    assert received(udp_receiver) == []
    await assert_survived(sup, plugin, worker_pid(sup, plugin))


@pytest.mark.xfail(
    strict=True,
    reason="hole: a host-name grant needs DNS, so UDP sockets stay allowed, and Landlock does "
    "not cover UDP: a datagram reaches any port on any address",
)
async def test_udp_datagram_from_a_host_name_grant_is_refused(
    sup: Supervisor, udp_receiver: socket.socket
) -> None:
    result = await sup.call("send_udp_named", {"port": port_of(udp_receiver)})

    assert received(udp_receiver) == []
    assert result == {"socket": "created", "sendto": "EPERM"}


async def test_path_unix_socket_without_a_grant_gets_eperm_from_seccomp(
    sup: Supervisor, unix_listener: socket.socket
) -> None:
    path = unix_listener.getsockname()

    assert await sup.call("dial_unix", {"path": path}) == {"errno": "EPERM"}

    assert accepted(unix_listener) == 0
    await assert_survived(sup, "unix_dialer", worker_pid(sup, "unix_dialer"))


async def test_an_undeclared_unix_socket_is_denied_by_the_hook(
    sup: Supervisor, unix_listener: socket.socket
) -> None:
    path = unix_listener.getsockname()
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("dial_unix_path", {"path": path})

    assert caught.value.remote_message == denial(
        "unix_hopper", f"the UNIX socket {path}", "unix_sockets", UNIX_PROFILE
    )
    assert accepted(unix_listener) == 0
    await assert_survived(sup, "unix_hopper", worker_pid(sup, "unix_hopper"))


@pytest.mark.xfail(
    strict=True,
    reason="hole: with any UNIX socket granted, seccomp must allow socket(AF_UNIX), and "
    "Landlock (ABI 7) does not check connect() to path-based sockets",
)
async def test_raw_connect_to_an_undeclared_unix_socket_is_refused(
    sup: Supervisor, unix_listener: socket.socket
) -> None:
    result = await sup.call("dial_unix_path_raw", {"path": unix_listener.getsockname()})

    assert accepted(unix_listener) == 0
    assert result == {"connect": "EACCES"}


@pytest.mark.layers("landlock-scope")
async def test_abstract_unix_socket_outside_the_sandbox_gets_eperm_from_landlock(
    sup: Supervisor, abstract_listener: str
) -> None:
    assert await sup.call("dial_abstract_raw", {"name": abstract_listener}) == {"connect": "EPERM"}
    assert_layer(sup, "unix_hopper", "landlock", "on: ABI")
    await assert_survived(sup, "unix_hopper", worker_pid(sup, "unix_hopper"))
