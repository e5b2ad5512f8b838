"""`ManagementClient`: a small synchronous httpx client of the management API (what the CLI talks through).

Every failure becomes one of four exceptions, so a caller maps them to exit codes in one place:

    ManagementError            any refused request (status, message, details)
    ├── AuthFailedError        401: missing, wrong, expired or revoked token
    ├── ForbiddenError         403: the token's role lacks the permission (named in the message)
    ├── NotFoundError          404
    ├── ConflictError          409: in use, or a stale resourceVersion (someone changed it meanwhile)
    ├── ConnectionFailedError  the API could not be reached at all (status 0)
    └── TimedOutError          connected, but no answer in time: the request may still be running
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

import httpx

DEFAULT_API_URL = "http://127.0.0.1:9090"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
API_PREFIX = "/api/v1"
#: The pagination header of list answers (see `control.pagination`; not imported, to keep the CLI light).
NEXT_CURSOR_HEADER = "X-Next-Cursor"


class ManagementError(Exception):
    """The API refused a request; `details` are its (resource, field, reason) entries, if any."""

    def __init__(self, status: int, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


class AuthFailedError(ManagementError):
    """401: the token is missing or not accepted (wrong, expired or revoked)."""


class ForbiddenError(ManagementError):
    """403: authenticated, but the role does not grant the operation's permission."""


class NotFoundError(ManagementError):
    """404: no such resource, key, gateway or deployment."""


class ConflictError(ManagementError):
    """409: the resource is in use, or changed since it was read (stale resourceVersion)."""


class ConnectionFailedError(ManagementError):
    """The API could not be reached (refused, DNS, connect timeout, TLS)."""


class TimedOutError(ManagementError):
    """The request was sent but no answer came within the read timeout; the server may still be working."""


class ManagementClient:
    """One client per CLI invocation; not thread-safe. `close()` (or `with`) releases the connection pool."""

    def __init__(self, url: str, token: str | None, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=timeout)

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **params: str | None) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def get_all(self, path: str, **params: str | None) -> list[Any]:
        """Every item of a paginated list, following the `X-Next-Cursor` header page by page."""
        query = {k: v for k, v in params.items() if v is not None}
        items: list[Any] = []
        while True:
            response = self.send("GET", path, params=query)
            items += response.json()
            cursor = response.headers.get(NEXT_CURSOR_HEADER)
            if not cursor:
                return items
            query["after"] = cursor

    def get_versioned(self, path: str) -> tuple[Any, str | None]:
        """A document and its ETag."""
        response = self.send("GET", path)
        return response.json(), response.headers.get("ETag")

    def post(self, path: str, body: object, *, timeout: float | None = None) -> Any:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": httpx.Timeout(timeout, connect=5.0)}
        return self.request("POST", path, json=body, **extra)

    def put(self, path: str, body: object, *, if_match: str | None = None) -> Any:
        return self.request("PUT", path, json=body, headers={"If-Match": if_match} if if_match else None)

    def patch(self, path: str, body: object) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str, **params: str | None) -> Any:
        return self.request("DELETE", path, params={k: v for k, v in params.items() if v is not None})

    def download(self, path: str, params: dict[str, str], write: Callable[[str], object]) -> None:
        """Stream a GET's text body to `write` chunk by chunk (exports); errors raise as `request` does."""
        try:
            with self._http.stream("GET", path, params=params) as response:
                if not response.is_success:
                    response.read()
                    self._raise(response)
                for chunk in response.iter_text():
                    write(chunk)
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                0, f"cannot reach the management API at {self.url} ({type(exc).__name__})"
            ) from None

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON answer (None for 204); raises a `ManagementError` subclass otherwise."""
        response = self.send(method, path, **kwargs)
        return None if response.status_code == 204 else response.json()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The successful response; raises a `ManagementError` subclass otherwise."""
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise TimedOutError(
                0,
                f"the management API at {self.url} took too long to answer ({type(exc).__name__}); the request may "
                "still be running there: check with `tollgate get` before retrying, or give more time with --timeout",
            ) from None
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                0, f"cannot reach the management API at {self.url} ({type(exc).__name__}): is `tollgate serve` running?"
            ) from None
        if response.is_success:
            return response
        self._raise(response)

    def apply(self, body: object, *, timeout: float, progress: Callable[[Any], object], poll: float = 0.5) -> Any:
        """POST /apply as a job and wait for it (`progress(job)` after each poll); the answer of the apply.

        A job's failure raises what the synchronous call would have (same status, message and
        details); waiting past `timeout` seconds raises `TimedOutError` naming the job, which goes on.
        A server without jobs answers the POST itself: that answer is returned as is.
        """
        response = self.send("POST", "/apply", params={"async": "true"}, json=body)
        if response.status_code != 202:
            return response.json()
        job = response.json()
        deadline = time.monotonic() + timeout
        while job["state"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise TimedOutError(
                    0,
                    f"the apply is still running on the server as job {job['id']} ({job['done']} of {job['total']} "
                    f"documents applied after {timeout:.0f} s); follow it at {self.url}{API_PREFIX}/jobs/{job['id']} "
                    "or give more time with --timeout",
                )
            time.sleep(poll)
            job = self.get(f"/jobs/{job['id']}")
            progress(job)
        if job["state"] == "failed":
            error = job.get("error") or {}
            raise error_from(int(error.get("status", 500)), {"error": error})
        return job["result"]

    @staticmethod
    def _raise(response: httpx.Response) -> NoReturn:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise error_from(response.status_code, body)


def error_from(status: int, body: Any) -> ManagementError:
    """The exception for an error answer (`body` is the API's `{"error": {...}}`, or anything else)."""
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message")) if isinstance(error, dict) else f"HTTP {status}"
    details = error.get("errors") if isinstance(error, dict) else None
    cls = {401: AuthFailedError, 403: ForbiddenError, 404: NotFoundError, 409: ConflictError}.get(
        status, ManagementError
    )
    if cls is AuthFailedError:
        message = f"{message} (set --token, TOLLGATE_TOKEN or TOLLGATE_ADMIN_TOKEN to a valid token)"
    return cls(status, message, details if isinstance(details, list) else None)
