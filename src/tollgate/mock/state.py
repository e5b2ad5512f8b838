"""The mutable state of one mock app: vendor keys, recorded requests and the behaviour config.

One instance per app, passed explicitly to each vendor mock (no module-level state). It is shared
between the server thread and test threads, so every access goes through one lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping

from tollgate.mock.behaviour import Behaviour, normalize_settings, resolve
from tollgate.types import JSONObject, JSONValue

#: The upstream credential each vendor mock expects unless configured otherwise.
DEFAULT_KEYS: dict[str, str] = {
    "openai": "mock-openai-key",
    "anthropic": "mock-anthropic-key",
    "gemini": "mock-gemini-key",
    "mistral": "mock-mistral-key",
    "azure": "mock-azure-key",
    "foundry": "mock-foundry-key",
}
VENDORS: tuple[str, ...] = tuple(DEFAULT_KEYS)
#: URL prefix each vendor is served under; the vendor's own paths follow it.
PREFIXES: dict[str, str] = {vendor: f"/{vendor}" for vendor in VENDORS}
DEFAULT_MAX_RECORDED = 1000


class MockState:
    """Keys, recorded requests (bounded, oldest dropped first) and behaviour config of one mock app.

    Parameters: `keys` overrides `DEFAULT_KEYS` per vendor; `deployments` maps an Azure/Foundry
    deployment name to the model it reports (default: the deployment name itself).
    """

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        *,
        max_recorded: int = DEFAULT_MAX_RECORDED,
        deployments: Mapping[str, str] | None = None,
    ) -> None:
        unknown = set(keys or {}) - set(VENDORS)
        if unknown:
            raise ValueError(f"unknown mock vendor(s): {', '.join(sorted(unknown))}")
        self.keys: dict[str, str] = {**DEFAULT_KEYS, **(keys or {})}
        self.deployments: dict[str, str] = dict(deployments or {})
        self._lock = threading.Lock()
        self._requests: deque[JSONObject] = deque(maxlen=max_recorded)
        self._seq = 0
        self._config: dict[str, int | bool] = {}
        self._config_vendors: frozenset[str] | None = None

    def record(self, vendor: str, method: str, path: str, query: str, headers: JSONObject, body: bytes) -> None:
        """Remember one request as the vendor received it."""
        with self._lock:
            self._seq += 1
            self._requests.append(
                {
                    "seq": self._seq,
                    "time": time.time(),
                    "vendor": vendor,
                    "method": method,
                    "path": path,
                    "vendor_path": path.removeprefix(PREFIXES[vendor]) or "/",
                    "query": query,
                    "headers": headers,
                    "body": body.decode("utf-8", errors="replace"),
                }
            )

    def requests(self, vendor: str | None = None) -> list[JSONObject]:
        """The recorded requests, oldest first, optionally of one vendor."""
        with self._lock:
            return [dict(r) for r in self._requests if vendor is None or r["vendor"] == vendor]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def configure(self, settings: Mapping[str, JSONValue]) -> None:
        """Replace the config. `vendors` (a list) limits it to those vendors; `times` to the next N
        requests (of those vendors), after which the config is dropped; other keys are behaviours.

        Raises `BehaviourError` (a `ValueError`) naming a bad setting; the old config then stays.
        """
        rest = dict(settings)
        vendors = rest.pop("vendors", None)
        if vendors is not None and (not isinstance(vendors, list) or not set(map(str, vendors)) <= set(VENDORS)):
            raise ValueError(f"'vendors' must be a list of: {', '.join(VENDORS)}")
        clean = normalize_settings(rest)
        with self._lock:
            self._config = clean
            self._config_vendors = frozenset(map(str, vendors)) if vendors is not None else None

    def config(self) -> JSONObject:
        with self._lock:
            out: JSONObject = dict(self._config)
            if self._config_vendors is not None:
                out["vendors"] = [*sorted(self._config_vendors)]
            return out

    def reset_config(self) -> None:
        with self._lock:
            self._config = {}
            self._config_vendors = None

    def behaviour(self, vendor: str, text: str) -> Behaviour:
        """The behaviour for one `vendor` request whose last user message is `text`."""
        with self._lock:
            applies = self._config_vendors is None or vendor in self._config_vendors
            config = dict(self._config) if applies else {}
            times = self._config.get("times")
            if applies and times is not None:  # a config for the next N requests: count this one
                if int(times) <= 1:
                    self._config, self._config_vendors = {}, None
                else:
                    self._config["times"] = int(times) - 1
        return resolve(config, text)

    def deployment_model(self, deployment: str) -> str:
        return self.deployments.get(deployment, deployment)
