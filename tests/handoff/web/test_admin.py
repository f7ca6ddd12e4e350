"""The admins' endpoints for customers' data (handoff/web/api_admin.py): only admins, and what they do."""

from __future__ import annotations

import httpx
import pytest

from tests.handoff.web.asgi_socket import AsgiSocket, Closed
from tests.handoff.web.conftest import Serve
from tests.handoff.world import PASSWORD

ENDPOINTS = [("/api/admin/customers/export", {"email": "jo@example.com"}),
             ("/api/admin/customers/delete", {"email": "jo@example.com"}),
             ("/api/admin/conversations/c_x/revoke-token", None), ("/api/admin/retention", None)]


async def sign_in(api: httpx.AsyncClient, username: str) -> dict[str, str]:
    token = (await api.post("/api/auth/login", json={"username": username, "password": PASSWORD})).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def test_only_admins_reach_the_customer_data_endpoints(serve: Serve) -> None:
    app, _ = await serve()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        for path, body in ENDPOINTS:
            assert (await api.post(path, json=body)).status_code == 401, path
        for username in ("grace", "ada"):  # an agent, a supervisor
            headers = await sign_in(api, username)
            for path, body in ENDPOINTS:
                assert (await api.post(path, json=body, headers=headers)).status_code == 403, path


async def test_an_admin_exports_revokes_and_deletes_a_customers_data(serve: Serve) -> None:
    app, _ = await serve()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        admin = await sign_in(api, "admin")
        data = (await api.post("/api/conversations", json={"name": "Jo", "email": "jo@example.com"})).json()
        conversation, auth = data["conversation_id"], {"Authorization": f"Bearer {data['customer_token']}"}
        await api.post(f"/api/conversations/{conversation}/messages", json={"text": "hello"}, headers=auth)
        exported = await api.post("/api/admin/customers/export", json={"email": "jo@example.com"}, headers=admin)
        assert exported.status_code == 200
        assert next(m["text"] for m in exported.json()["customers"][0]["conversations"][0]["messages"]) == "hello"
        assert (await api.post("/api/admin/customers/export", json={}, headers=admin)).status_code == 400
        assert (await api.post("/api/admin/customers/export", json={"email": "x@example.com"},
                               headers=admin)).status_code == 404

        query = {"conversation_id": conversation, "token": data["customer_token"]}
        async with AsgiSocket(app, "/ws/customer", query) as socket:
            await socket.next("hello")
            revoked = await api.post(f"/api/admin/conversations/{conversation}/revoke-token", headers=admin)
            assert revoked.status_code == 204
            with pytest.raises(Closed) as closed:
                await socket.next("never")
            assert closed.value.code == 4401
        refused = await api.get(f"/api/conversations/{conversation}/messages", headers=auth)
        assert refused.status_code == 401 and "someone else" in refused.json()["error"]["detail"]
        assert (await api.post("/api/admin/conversations/c_nope/revoke-token", headers=admin)).status_code == 404

        deleted = await api.post("/api/admin/customers/delete", json={"conversation_id": conversation}, headers=admin)
        assert deleted.json() == {"customers": 1, "conversations": 1}
        assert (await api.post("/api/admin/customers/export", json={"email": "jo@example.com"},
                               headers=admin)).status_code == 404
        retention = await api.post("/api/admin/retention", headers=admin)
        assert retention.status_code == 200 and retention.json()["conversations"] == 0
