"""`MockServer`: the mock app served by uvicorn on a loopback port in a background thread, for tests.

Startup returns only once the port accepts connections; shutdown waits for the thread. Not meant
for production: one process, no TLS.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType

import uvicorn

from tollgate.mock.app import create_app
from tollgate.mock.state import PREFIXES, MockState
from tollgate.types import JSONObject, JSONValue

DEFAULT_STARTUP_TIMEOUT_S = 10.0
DEFAULT_GRACEFUL_SHUTDOWN_S = 1


class MockServer:
    """Serve the vendor mocks on `host:port` (port 0 picks a free one) while in a `with` block.

    Parameters: `keys` overrides vendor credentials; `deployments` maps Azure/Foundry deployment names
    to models; `log_level` is uvicorn's.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        keys: Mapping[str, str] | None = None,
        deployments: Mapping[str, str] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.port = port
        self.state = MockState(keys, deployments=deployments)
        self.app = create_app(state=self.state)
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def keys(self) -> dict[str, str]:
        """The credential each vendor mock expects, by vendor."""
        return dict(self.state.keys)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, vendor: str) -> str:
        """The upstream base URL of one vendor, e.g. `http://127.0.0.1:PORT/openai`."""
        return self.base_url + PREFIXES[vendor]

    def requests(self, vendor: str | None = None) -> list[JSONObject]:
        """The recorded requests, oldest first, optionally of one vendor."""
        return self.state.requests(vendor)

    def clear(self) -> None:
        """Forget the recorded requests."""
        self.state.clear_requests()

    def configure(self, **settings: JSONValue) -> None:
        """Set behaviours for every request, e.g. `configure(error=429, vendors=["openai"])`.

        Underscores stand for dashes (`chunk_delay=200`).
        """
        self.state.configure(settings)

    def reset(self) -> None:
        """Clear the behaviour config and the recorded requests."""
        self.state.reset_config()
        self.state.clear_requests()

    def start(self) -> None:
        """Bind, start the server thread and wait until the port accepts connections."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=DEFAULT_GRACEFUL_SHUTDOWN_S,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tollgate-mock", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + DEFAULT_STARTUP_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mock server did not start on {self.base_url}")
            time.sleep(0.01)
        with socket.create_connection((self.host, self.port), timeout=DEFAULT_STARTUP_TIMEOUT_S):
            pass

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread (open hung requests are cut after ~1 s)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=DEFAULT_GRACEFUL_SHUTDOWN_S + 5)
        self._server = None
        self._thread = None

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
