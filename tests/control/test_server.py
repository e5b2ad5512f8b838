"""The API served by uvicorn in the caller's loop: port 0, first-start admin token printed once, clean stop."""

from __future__ import annotations

import httpx
import pytest

from tollgate.control.server import start_control_server
from tollgate.errors import ListenError
from tollgate.store import Store


async def test_first_start_prints_a_working_token_once(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOLLGATE_ADMIN_TOKEN", raising=False)
    server, port = await start_control_server(None, store, "127.0.0.1", 0)
    try:
        line = capsys.readouterr().err.strip()
        assert line.startswith("Admin token for the management API (shown once): tga_")
        token = line.rsplit(" ", 1)[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            ok = await client.get("/api/v1/gateways", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            assert (await client.get("/api/v1/gateways")).status_code == 401
    finally:
        server.close()
        await server.wait_closed()
    second, _ = await start_control_server(None, store, "127.0.0.1", 0)
    second.close()
    await second.wait_closed()
    assert "Admin token" not in capsys.readouterr().err


async def test_a_busy_port_fails_at_start(store: Store) -> None:
    server, port = await start_control_server(None, store, "127.0.0.1", 0)
    try:
        with pytest.raises(ListenError) as caught:
            await start_control_server(None, store, "127.0.0.1", port)
        assert str(caught.value) == (
            f"cannot listen on 127.0.0.1:{port} (management API, port {port}): the port is already in use"
        )
    finally:
        server.close()
        await server.wait_closed()
