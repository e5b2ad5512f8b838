"""`bind_listener`: take a TCP port before anything else happens, and say plainly when it is taken.

`tollgate serve` binds the data-plane and admin ports first, so a busy port ends the start in one
line naming it, before the store is opened, the config applied or an admin token printed.
"""

from __future__ import annotations

import errno
import socket

from tollgate.errors import ListenError

#: Pending connections the kernel queues per listener before the server accepts them.
LISTEN_BACKLOG = 2048


def bind_listener(host: str, port: int, role: str) -> socket.socket:
    """A listening TCP socket on `host:port` (0 = any free port). `role` names it in errors
    ("data plane", "management API"). Raises ListenError, never a bare OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is already in use"
        elif exc.errno == errno.EACCES:
            reason = "permission denied (ports below 1024 need privileges)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            reason = "no such local address"
        else:
            reason = exc.strerror or type(exc).__name__
        raise ListenError(f"cannot listen on {where} ({role}, port {port}): {reason}") from exc
    sock.setblocking(False)  # not inheritable (Python's default): the usage writer child must not hold the port
    return sock
