"""JSON-RPC sessions over anyio byte streams (the I/O half of the protocol)."""

from runtime.rpc.connection import Connection, ConnectionClosed, PendingCall, RemoteError

__all__ = ["Connection", "ConnectionClosed", "PendingCall", "RemoteError"]
