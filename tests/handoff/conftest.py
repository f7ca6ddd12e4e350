"""The in-process service in both profiles: ``embedded`` (MemoryStore, SQLite in tmp_path) and
``production`` (RedisStore under a key prefix of its own, PostgreSQL in a database of its own). Each test's
database is a copy of one migrated and seeded (data/demo) for the session. The sweeper does not run by
itself: tests call ``service.sweep()`` after moving the fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from starlette.datastructures import Secret

from handoff.adapters.rasa import RasaClient
from handoff.adapters.store import MemoryStore, RedisStore
from handoff.adapters.tickets import TicketLog, migrate
from handoff.cli.seed import seed_demo
from handoff.core.routing import build_business_hours, build_queue_order, build_router, load_routing_config
from handoff.service import HandoffService
from handoff.service.ports import Knowledge, Library, Store
from handoff.settings import HandoffSettings
from tests.conftest import ROOT
from tests.handoff.adapters.store.conftest import REDIS_URL, delete_keys
from tests.handoff.adapters.tickets.conftest import POSTGRES_ADMIN, _postgres_url
from tests.handoff.service.mail_relay import CatchingRelay
from tests.handoff.world import PASSWORD, RASA_TOKEN, FakeClock, FakeRasa

PROFILES = ["embedded", "production"]
NO_AUTOMATION = Path(__file__).parent / "no-automation.yml"
"""The spec tests' services run no automation rules unless a test names a file (``automation_config``): the
shipped rules would resolve, raise and close what other tests watch on the fake clock."""
OpenService = Callable[..., Awaitable[HandoffService]]
FAKE_MODELS_PYTHON = Path(__file__).resolve().parent / "fake_models_python.sh"


class NoKnowledge:
    """Suggestions turned off (``HANDOFF_SUGGESTIONS=false``): the Knowledge port's empty answer."""

    async def for_text(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        return []


async def _seeded(url: str) -> str:
    await migrate(url)
    await seed_demo(url, ROOT / "data" / "demo", PASSWORD)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file each test copies (seeding hashes four Argon2 passwords: 0.7 s)."""
    path = tmp_path_factory.mktemp("template") / "handoff.sqlite3"
    asyncio.run(_seeded(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated, seeded PostgreSQL database each test's database is created from (``TEMPLATE``)."""
    databases = _postgres_url()
    url = asyncio.run(anext(databases))
    asyncio.run(_seeded(url))
    yield url.rsplit("/", 1)[1]
    with contextlib.suppress(StopAsyncIteration):
        asyncio.run(anext(databases))


async def _postgres(statement: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=10)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@pytest.fixture
def database_url(profile: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The test's own seeded ticket database: a copy of the session's template."""
    if profile == "embedded":
        path = tmp_path / "handoff.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template, name = request.getfixturevalue("postgres_template"), f"handoff_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def in_process_service(profile: str, database_url: str, prefix: str, clock: FakeClock, rasa: FakeRasa,
                             routing_file: Path = ROOT / "handoff" / "routing.yml", knowledge: Knowledge | None = None,
                             wrap_store: Callable[[Store], Store] = lambda store: store,
                             on_log: Callable[[TicketLog], None] = lambda log: None,
                             library: Library | None = None, **overrides: Any) -> HandoffService:
    """A started service in ``profile`` on ``database_url`` (and, in production, Redis under ``prefix``), with the
    fake Rasa and the fake clock; ``overrides`` are settings. Its event loop is the caller's."""
    overrides.setdefault("automation_config", NO_AUTOMATION)
    # the NLU inbox's training data file: never the repository's data/nlu (a fuzzer decides too)
    overrides.setdefault("inbox_file", Path(tempfile.mkdtemp(prefix="handoff-inbox-")) / "inbox.yml")
    # the model registry: never the repository's models/registry, and no real retraining (fake_models_python.sh)
    overrides.setdefault("models_registry", Path(tempfile.mkdtemp(prefix="handoff-models-")))
    overrides.setdefault("models_python", FAKE_MODELS_PYTHON)
    im_transports = overrides.pop("im_transports", None)  # the IM channels' (a test double of the provider)
    settings = replace(HandoffSettings(), database_url=database_url, rasa_token=Secret(RASA_TOKEN),
                       routing_config=routing_file, key_prefix=prefix, **overrides)
    store = wrap_store(MemoryStore() if profile == "embedded" else RedisStore(REDIS_URL, prefix))
    log = await TicketLog.open(database_url)
    on_log(log)
    config = load_routing_config(routing_file)
    service = HandoffService(
        settings, store=store, log=log,
        bot=RasaClient("http://rasa.test", RASA_TOKEN, 5.0, transport=httpx.ASGITransport(app=rasa.app)),
        knowledge=knowledge or NoKnowledge(), router=build_router(config), hours=build_business_hours(config),
        queue_order=build_queue_order(config), clock=clock, im_transports=im_transports, library=library)
    await service.start(sweeper=False)
    return service


@pytest.fixture
async def open_service(profile: str, database_url: str, clock: FakeClock, rasa: FakeRasa,
                       tmp_path: Path) -> AsyncIterator[OpenService]:
    """A factory of started services in the test's profile, sharing one database (and, in production, one
    Redis prefix: several instances); ``routing``: the routing configuration's YAML, as a dict, instead of
    handoff/routing.yml; ``knowledge``: the Knowledge port (none by default); ``library``: the knowledge
    workbench's (none by default: tests/handoff/library.py makes one on a copy); ``wrap_store`` and ``on_log``
    see the store and the ticket log first (to count what they are asked); ``forget``: open on an empty store
    (a restart: a new process in the embedded profile, a Redis that kept nothing in production); other keyword
    arguments override settings."""
    opened: list[HandoffService] = []
    prefix = f"test-{uuid.uuid4().hex[:12]}:"

    async def open_one(routing: dict[str, Any] | None = None, forget: bool = False,
                       **options: Any) -> HandoffService:
        routing_file = ROOT / "handoff" / "routing.yml"
        if routing is not None:
            routing_file = tmp_path / f"routing-{len(opened)}.yml"
            routing_file.write_text(yaml.safe_dump(routing))
        if profile == "embedded" and any(not service.closed for service in opened):
            raise RuntimeError("the embedded profile is one process: one instance")
        if forget:
            await delete_keys(prefix)
        url = options.pop("database_url", database_url)  # another way to the same database (a proxy)
        options.setdefault("inbox_file", tmp_path / "nlu" / "inbox.yml")  # never the repository's data/nlu
        service = await in_process_service(profile, url, prefix, clock, rasa, routing_file, **options)
        opened.append(service)
        return service

    yield open_one
    for service in opened:
        await service.close()
    await delete_keys(prefix)


@pytest.fixture
async def service(open_service: OpenService) -> HandoffService:
    return await open_service()


@pytest.fixture
def relay() -> Iterator[CatchingRelay]:
    """A real SMTP relay (aiosmtpd on a free loopback port) catching what the e-mail channel sends."""
    caught = CatchingRelay()
    caught.start()
    yield caught
    caught.stop()
