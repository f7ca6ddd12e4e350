"""The board's REST routes over the real application: the snapshot, and a sentence for each bad request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.handoff.conftest import OpenService
from tests.handoff.web.test_api import client_of, sign_in, start


@pytest.fixture
def profile() -> str:
    return "embedded"  # the service spec covers both profiles; this is the HTTP layer


@pytest.fixture
async def api(open_service: OpenService) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(await open_service()) as client:
        yield client


async def test_the_board_and_the_errors_of_its_actions(api: httpx.AsyncClient) -> None:
    ada = await sign_in(api, "ada")
    assert (await api.put("/api/me/presence", json={"presence": "away"}, headers=ada)).status_code == 200
    conversation_id, customer = await start(api, name="Jo")
    said = await api.post(f"/api/conversations/{conversation_id}/messages", json={"text": "a person please"},
                          headers=customer)
    assert said.status_code == 200, said.text
    board = (await api.get("/api/board", headers=ada)).json()
    assert board["queue"]["length"] == 1 and [c["conversation_id"] for c in board["queued"]] == [conversation_id]
    assert {"id", "name", "presence", "load", "capacity", "conversations"} <= set(board["agents"][0])
    base = f"/api/board/conversations/{conversation_id}"
    cases = [
        (f"{base}/escalate", {"tier": 5}, 400),
        (f"{base}/escalate", {"tier": "two"}, 400),
        (f"{base}/reassign", {}, 400),
        (f"{base}/reassign", {"agent_id": "a_nobody"}, 400),
        (f"{base}/whisper", {"text": ""}, 400),
        (f"{base}/whisper", {"text": "psst"}, 409),
        ("/api/board/conversations/c_nope/whisper", {"text": "psst"}, 404),
        ("/api/board/conversations/c_nope/escalate", {"tier": 2}, 404),
    ]
    for path, body, status in cases:
        response = await api.post(path, json=body, headers=ada)
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["error"]["detail"], response.text
    assert (await api.post(f"{base}/escalate", json={"tier": 5}, headers=ada)).json()["error"]["detail"] == (
        "Escalate to tier 2 or 3.")
    escalated = await api.post(f"{base}/escalate", json={"tier": 3}, headers=ada)
    assert (escalated.status_code, escalated.json()["tier"]) == (200, 3)
