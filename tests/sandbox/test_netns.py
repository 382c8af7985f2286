"""A child in its own network namespace reaches nothing: not the host's loopback, not the world."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from runtime.errors import SandboxError
from runtime.sandbox.capabilities import drop_all
from runtime.sandbox.netns import isolate_network, netns_supported
from runtime.sandbox.probe import LayerSupport
from tests.sandbox.support import attempt, in_child

pytestmark = pytest.mark.sandbox

# Any routable address: the namespace has no route to anywhere, so nothing is sent.
PUBLIC_DNS = ("8.8.8.8", 53)


@pytest.fixture(autouse=True)
def _need_netns(layers: LayerSupport) -> None:
    if not layers.netns:
        pytest.skip(f"network namespaces cannot be created here: {layers.problems}")


def test_netns_supported_agrees_with_the_probe() -> None:
    assert netns_supported()


def test_isolated_child_reaches_no_tcp_udp_or_abstract_socket_of_the_host(
    tcp_listener: Callable[[], int], abstract_listener: str
) -> None:
    port = tcp_listener()

    def body() -> dict[str, Any]:
        isolate_network()

        def tcp() -> None:
            with socket.create_connection(("127.0.0.1", port)):
                pass

        def udp() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"x", PUBLIC_DNS)

        def abstract() -> None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(abstract_listener)

        return {
            "interfaces": [name for _, name in socket.if_nameindex()],
            "tcp to host loopback": attempt(tcp),
            "udp to the internet": attempt(udp),
            "host abstract socket": attempt(abstract),
        }

    assert in_child(body) == {
        "interfaces": ["lo"],
        # Loopback exists but is down: no route, not even to 127.0.0.1.
        "tcp to host loopback": "ENETUNREACH",
        "udp to the internet": "ENETUNREACH",
        # Abstract names live in the network namespace: the host's name is not there.
        "host abstract socket": "ECONNREFUSED",
    }


def test_isolate_network_refuses_a_process_that_already_has_threads() -> None:
    def body() -> dict[str, Any]:
        release = threading.Event()
        thread = threading.Thread(target=release.wait)
        thread.start()
        try:
            isolate_network()
        except SandboxError as exc:
            return {"layer": exc.layer}
        finally:
            release.set()
            thread.join()
        return {"raised": False}

    assert in_child(body) == {"layer": "netns"}


def test_failed_unshare_raises_sandbox_error_with_the_errno() -> None:
    def body() -> dict[str, Any]:
        drop_all()  # without CAP_SYS_ADMIN the kernel refuses a new namespace
        try:
            isolate_network()
        except SandboxError as exc:
            return {"layer": exc.layer, "errno": exc.errno, "text": "EPERM" in str(exc)}
        return {"raised": False}

    assert in_child(body) == {"layer": "netns", "errno": errno.EPERM, "text": True}
