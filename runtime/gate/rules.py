"""What each capability looks like in code: the tables resolved names are matched against.

Names are the dotted names ``runtime.gate.pyscan`` resolves to (``subprocess.run``,
``builtins.exec``, ``os.environ``). A rule ``m`` matches ``m`` and everything under it; ``m.``
only what is under it (importing subprocess runs nothing, calling it does); ``m*`` any name
starting with ``m`` (``os.exec*``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Final

__all__ = ["classify"]

NETWORK: Final = (
    "socket.socket", "socket.create_connection", "socket.create_server", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
    "socket.getnameinfo", "socket.fromfd", "socket.SocketType", "ssl.get_server_certificate",
    "asyncio.open_connection", "asyncio.start_server", "urllib.request", "http.client",
    "http.server", "socketserver", "xmlrpc.client", "xmlrpc.server", "ftplib", "smtplib",
    "poplib", "imaplib", "nntplib", "telnetlib", "requests", "httpx", "aiohttp", "urllib3",
    "httplib2", "pycurl", "websocket", "websockets", "paramiko", "grpc", "boto3", "botocore",
    "pymongo", "motor", "redis", "psycopg", "psycopg2", "pymysql", "aiosmtplib", "zmq",
    "tornado.httpclient", "twisted.internet", "dns.resolver",
)  # fmt: skip
SUBPROCESS: Final = (
    "subprocess.", "_posixsubprocess", "os.system", "os.popen", "os.exec*", "os.spawn*",
    "os.posix_spawn*", "os.fork", "os.forkpty", "pty.spawn", "pty.fork", "webbrowser",
    "multiprocessing.Process", "multiprocessing.Pool", "multiprocessing.Manager",
    "multiprocessing.get_context", "multiprocessing.pool", "multiprocessing.context",
    "multiprocessing.managers", "concurrent.futures.ProcessPoolExecutor",
    "concurrent.futures.process", "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell", "asyncio.subprocess",
)  # fmt: skip
# Exceptions and constants: naming them runs nothing.
SUBPROCESS_INERT: Final = frozenset(
    f"subprocess.{n}" for n in ("CalledProcessError", "SubprocessError", "TimeoutExpired",
                                "CompletedProcess", "PIPE", "DEVNULL", "STDOUT")
)  # fmt: skip
NATIVE: Final = ("ctypes", "_ctypes", "cffi", "_cffi_backend")
DYNAMIC_CODE: Final = (
    "builtins.exec", "builtins.eval", "builtins.compile", "runpy", "types.CodeType",
    "types.FunctionType", "code.InteractiveInterpreter", "code.InteractiveConsole",
    "code.interact", "importlib.util.spec_from_file_location", "importlib.util.spec_from_loader",
    "importlib.machinery.SourceFileLoader", "importlib.machinery.SourcelessFileLoader",
    "importlib.machinery.ExtensionFileLoader", "zipimport",
)  # fmt: skip
# getattr(<one of these>, <computed name>) can reach any capability by a name the scan never sees.
SENSITIVE_MODULES: Final = frozenset(
    {"builtins", "os", "sys", "subprocess", "socket", "importlib", "ctypes", "shutil", "pty",
     "multiprocessing", "urllib", "http", "requests", "httpx"}
)  # fmt: skip
ENV_OBJECTS: Final = frozenset({"os.environ", "os.environb"})
ENV_GETTERS: Final = frozenset({"os.getenv", "os.getenvb"})
ENV_KEYED_METHODS: Final = frozenset({"get", "pop", "setdefault", "__getitem__", "__contains__"})
ENV_REFERENCE: Final = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

OPEN_CALLS: Final = frozenset({"builtins.open", "io.open", "codecs.open"})
WRITE_FLAGS: Final = frozenset(f"os.{f}" for f in ("O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND",
                                                     "O_TRUNC"))  # fmt: skip
# Calls that change the file system, with the positions of the paths they change.
PATH_WRITES: Final = {
    **dict.fromkeys(
        ("os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.mkdir", "os.makedirs",
         "os.chmod", "os.chown", "os.lchown", "os.truncate", "os.mkfifo", "os.mknod",
         "os.utime", "os.setxattr", "os.removexattr", "shutil.rmtree", "shutil.chown",
         "shutil.make_archive"), (0,)),
    **dict.fromkeys(("os.rename", "os.replace", "os.renames", "shutil.move"), (0, 1)),
    **dict.fromkeys(
        ("os.link", "os.symlink", "shutil.copy", "shutil.copy2", "shutil.copyfile",
         "shutil.copymode", "shutil.copystat", "shutil.copytree", "shutil.unpack_archive"), (1,)),
}  # fmt: skip
PATH_METHODS: Final = frozenset(
    {"write_text", "write_bytes", "unlink", "mkdir", "touch", "rmdir", "rename", "replace",
     "symlink_to", "hardlink_to", "chmod", "lchmod", "open"}
)  # fmt: skip
PATH_TYPES: Final = frozenset(
    f"pathlib.{t}" for t in ("Path", "PurePath", "PosixPath", "PurePosixPath")
) | {"os.path.join"}
ALWAYS_WRITABLE: Final = ("/dev/null",)


def _matches(name: str, rules: Iterable[str]) -> bool:
    for rule in rules:
        if rule.endswith("*"):
            if name.startswith(rule[:-1]):
                return True
        elif rule.endswith("."):
            if name.startswith(rule):
                return True
        elif name == rule or name.startswith(rule + "."):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def classify(qualname: str) -> str | None:
    """``network``, ``subprocess``, ``native`` or ``dynamic-code`` for a resolved name."""
    if _matches(qualname, NETWORK):
        return "network"
    if qualname not in SUBPROCESS_INERT and _matches(qualname, SUBPROCESS):
        return "subprocess"
    if _matches(qualname, NATIVE):
        return "native"
    if _matches(qualname, DYNAMIC_CODE):
        return "dynamic-code"
    return None
