"""Listening sockets stay in the node: a child process (the usage writer) must not inherit them.

An inherited listener keeps the port bound after the node dies, until the child notices, and shows
the child as the port's owner (`ss -ltnp`). uvloop's subprocesses close only non-inheritable fds.
"""

from __future__ import annotations

import asyncio
import os
import sys

import uvloop

from tollgate.listen import bind_listener

_CHILD = """
import os
for fd in os.listdir("/proc/self/fd"):
    try:
        print(os.readlink("/proc/self/fd/" + fd))
    except OSError:  # the fd listdir itself used
        pass
"""


async def _child_fds() -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return out.decode()


def test_a_child_process_does_not_inherit_the_listener() -> None:
    sock = bind_listener("127.0.0.1", 0, "data plane")
    try:
        target = os.readlink(f"/proc/self/fd/{sock.fileno()}")  # socket:[inode]
        assert target.startswith("socket:[")
        assert target not in uvloop.run(_child_fds()).split()  # the child's open files
    finally:
        sock.close()
