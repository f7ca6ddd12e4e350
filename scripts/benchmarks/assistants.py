"""The Rasa assistants the replies benchmark loads: the product (its Rasa and action servers, in either
profile) and the stock ``rasa init`` assistant, each started on free ports, warmed up, timed reply by reply."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from scripts.benchmarks.base import APP_PY, ROOT, Json
from scripts.benchmarks.procfs import cpu_seconds, process_tree
from scripts.benchmarks.report import say
from scripts.servers import free_port, start_logged, stop, wait_until_up

RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"
STOCK_PROJECT = ROOT / "build" / "bench" / "stock"  # trained once, kept between runs
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1",
       "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "LOG_LEVEL": "WARNING"}
PRODUCT_MESSAGES = ["How long does standard shipping take?", "Do you ship to Canada?",
                    "What is your return policy?", "Which payment methods do you accept?",
                    "How do I reset my password?", "Can I get an invoice for my order?",
                    "Is there a warranty on headphones?", "How do I delete my account?"]
STOCK_MESSAGES = ["hi", "I am sad", "yes", "great", "bye", "are you a bot?", "no", "I am happy"]
NEW_CONVERSATION_EVERY = 20  # turns: keeps the load a throughput test, not a long-conversation test


def start_server(command: list[str], health: str, log: Path, env: dict[str, str],
                 cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """A server process, up and answering."""
    process = start_logged(command, log, env, cwd)
    try:
        wait_until_up(health, process, 300, log)
    except RuntimeError as exc:
        stop([process])
        raise RuntimeError(f"server did not start: {exc}") from exc
    return process


def say_to(session: requests.Session, url: str, sender: str, text: str, allow_empty: bool = False) -> float:
    """Send one message; seconds until the reply. The product must always answer; the stock mood bot's TED
    sometimes predicts silence (``action_listen``) after an odd turn, which still is a processed turn."""
    started = time.perf_counter()
    response = session.post(url, json={"sender": sender, "message": text}, timeout=120)
    response.raise_for_status()
    if not response.json() and not allow_empty:
        raise RuntimeError(f"empty reply to {text!r}")
    return time.perf_counter() - started


class Assistant:
    """One assistant under test: its server processes, its REST webhook, the messages it is sent."""

    def __init__(self, name: str, processes: list[subprocess.Popen[bytes]], url: str, messages: list[str],
                 allow_empty: bool = False) -> None:
        self.name, self.processes, self.url, self.messages = name, processes, url, messages
        self.allow_empty = allow_empty
        self.pids = [p for process in processes for p in process_tree(process.pid)]
        for text in messages:  # warm-up: loads models, fills caches
            say_to(requests.Session(), url, f"{name}-warm", text, allow_empty)

    def load(self, clients: int, seconds: float, tag: str) -> Json:
        """``clients`` conversations sending back to back for ``seconds``: each reply's latency (s), the wall
        time and the servers' CPU seconds."""
        latencies: list[float] = []
        lock = threading.Lock()
        stop_at = time.perf_counter() + seconds

        def client(n: int) -> None:
            session, turn = requests.Session(), 0
            while time.perf_counter() < stop_at:
                sender = f"{self.name}-{tag}-{n}-{turn // NEW_CONVERSATION_EVERY}"
                elapsed = say_to(session, self.url, sender, self.messages[(n + turn) % len(self.messages)],
                                 self.allow_empty)
                with lock:
                    latencies.append(elapsed)
                turn += 1

        cpu, started = cpu_seconds(self.pids), time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        return {"latencies": latencies, "wall": time.perf_counter() - started, "cpu": cpu_seconds(self.pids) - cpu}

    def conversation(self, turns: int) -> list[float]:
        """One conversation of ``turns`` turns, one after the other: each reply's latency (s)."""
        session = requests.Session()
        return [say_to(session, self.url, f"{self.name}-long", self.messages[t % len(self.messages)],
                       self.allow_empty) for t in range(turns)]

    def stop(self) -> None:
        stop(self.processes)


def product(logs: Path, production: bool = False) -> Assistant:
    """The product's Rasa and action servers: embedded (in-memory stores, one Rasa process), or the production
    profile (Redis tracker and lock stores, ``SANIC_WORKERS`` = cores)."""
    import redis

    rasa_port, actions_port = free_port(), free_port()
    env = {**ENV, "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
           "ACTIONS_TOKEN": secrets.token_urlsafe(24)}
    env.pop("REDIS_URL", None)
    name = "production" if production else "product"
    if production:
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://localhost:6379/6")  # locks go to the next db
        base, _, number = redis_url.rpartition("/")
        for db in (0, 1):
            redis.Redis.from_url(f"{base}/{int(number) + db}").flushdb()
        env.update(REDIS_URL=redis_url, SANIC_WORKERS=str(os.cpu_count() or 2))
    say(f"{name}: starting")
    processes = [start_server([str(APP_PY), "-m", "actions.server", "--actions", "actions", "--port", str(actions_port)],
                              f"http://127.0.0.1:{actions_port}/health", logs / f"{name}-actions.log", env)]
    try:
        processes.append(start_server(
            [str(RASA), "run", "--model", "models/rasa/assistant.tar.gz", "--interface", "127.0.0.1",
             "--port", str(rasa_port),
             "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"],
            f"http://127.0.0.1:{rasa_port}/", logs / f"{name}-rasa.log", env))
        return Assistant(name, processes, f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook", PRODUCT_MESSAGES)
    except BaseException:
        stop(processes)
        raise


def stock(logs: Path) -> Assistant:
    """The stock ``rasa init`` assistant (trained into build/bench/stock the first time)."""
    if not any((STOCK_PROJECT / "models").glob("*.tar.gz")):
        say("stock: rasa init (trains the stock assistant)")
        STOCK_PROJECT.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(RASA), "init", "--no-prompt", "--init-dir", str(STOCK_PROJECT)], cwd=STOCK_PROJECT,
                       env=ENV, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    say("stock: starting")
    process = start_server([str(RASA), "run", "--interface", "127.0.0.1", "--port", str(port)],
                           f"http://127.0.0.1:{port}/", logs / "stock.log", ENV, cwd=STOCK_PROJECT)
    try:
        return Assistant("stock", [process], f"http://127.0.0.1:{port}/webhooks/rest/webhook", STOCK_MESSAGES,
                         allow_empty=True)
    except BaseException:
        stop([process])
        raise
