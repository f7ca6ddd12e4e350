"""The real application in process on the in-process service (tests/handoff/conftest.py): ``serve`` builds
it with settings overridden and yields it with its lifespan running."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from fastapi import FastAPI

from handoff.service import HandoffService
from handoff.settings import HandoffSettings
from handoff.web.app import create_app
from tests.handoff.conftest import OpenService

Serve = Callable[..., Awaitable[tuple[FastAPI, HandoffService]]]


@pytest.fixture
async def serve(open_service: OpenService) -> AsyncIterator[Serve]:
    """``await serve(**settings)``: the application and its service, the lifespan running until the test ends."""
    async with AsyncExitStack() as stack:
        async def one(**overrides: Any) -> tuple[FastAPI, HandoffService]:
            service = await open_service(**overrides)

            async def opener(settings: HandoffSettings) -> HandoffService:
                return service

            app = create_app(service.settings, opener)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app, service

        yield one
