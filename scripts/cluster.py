"""The production profile on real processes, on one machine: what ``make chaos``, ``make balanced``, the
load-balancer test and the server sizing benchmark run.

A private Redis (no persistence, as the test services run it) and a private PostgreSQL cluster, each on a free
port in a temporary folder (the shared ones on 6379 and 5432 are never touched); the real action server; one or
more Rasa servers (trackers and locks in that Redis); the handoff instances (one database, one Redis key
prefix, one ``HANDOFF_SECRET``). With ``balanced``, Debian's HAProxy runs ``deploy/haproxy.cfg`` in front of
them: customers and agents reach the handoff instances through its public address, and the handoff instances
reach Rasa through its private one.

    .venv/app/bin/python scripts/cluster.py [--handoff 2] [--rasa 2] [--folder DIR]

starts the balanced deployment and keeps it up until Ctrl-C, printing where to open the shop and the console
(the demo team's password is ``HANDOFF_DEMO_PASSWORD``, else a random one printed at start).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.servers import free_port, start_logged, wait_until_up  # noqa: E402

MODEL = ROOT / "models" / "rasa" / "assistant.tar.gz"
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
START_TIMEOUT = 300.0  # seconds a server may take to come up (Rasa loads TensorFlow and the model)


@dataclass
class Process:
    """A server process that can be killed (kill -9) and started again with the same command."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    health: str | None
    popen: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> None:
        self.popen = start_logged(self.command, self.log, self.env, ROOT)
        if wait and self.health:
            wait_until_up(self.health, self.popen, START_TIMEOUT, self.log)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid


@dataclass
class Postgres:
    """A private cluster (initdb as the postgres user), stopped immediately and started again on demand."""

    folder: Path
    port: int
    binaries: Path

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.binaries / "pg_ctl"), "-D",
                        str(self.folder / "data"), *args], check=True, capture_output=True)

    def create(self) -> None:
        self.folder.mkdir(parents=True)
        self.folder.parent.chmod(0o755)  # mkdtemp's folder is root's alone; the cluster runs as postgres
        subprocess.run(["chown", "postgres", str(self.folder)], check=True)
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.binaries / "initdb"), "-D",
                        str(self.folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"], check=True,
                       capture_output=True)
        self.start()
        subprocess.run(["psql", f"{self.url('postgres')}", "-Atc", "CREATE DATABASE chaos"], check=True,
                       capture_output=True)

    def start(self) -> None:
        self._pg_ctl("-l", str(self.folder / "postgres.log"), "-w", "-o",
                     f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("-m", mode, "-w", "stop")

    def url(self, database: str = "chaos") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pids(self) -> list[int]:
        """The postmaster and its backends (for their CPU time)."""
        first = (self.folder / "data" / "postmaster.pid").read_text().split()[0]
        found = subprocess.run(["pgrep", "-P", first], capture_output=True, text=True).stdout.split()
        return [int(first), *map(int, found)]


def postgres_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("the cluster needs PostgreSQL's server binaries (initdb, pg_ctl): apt-get install postgresql")
    return found[-1].parent


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if not found:
        raise SystemExit("the balanced deployment needs HAProxy: apt-get install haproxy (make test installs it)")
    return found


@dataclass
class Cluster:
    """Every process of the run, by name; ``balancer`` is HAProxy when the deployment is balanced."""

    folder: Path
    redis: Process
    postgres: Postgres
    actions: Process
    rasa: list[Process]
    handoff: list[Process]
    balancer: Process | None = None
    password: str = ""
    ports: dict[str, int] = field(default_factory=dict)

    def urls(self) -> list[str]:
        """Each handoff instance's own address."""
        return [f"http://127.0.0.1:{p.env['HANDOFF_PORT']}" for p in self.handoff]

    @property
    def public_url(self) -> str:
        """Where customers and agents connect: the balancer, else the first instance."""
        if self.balancer is not None:
            return f"http://127.0.0.1:{self.ports['public']}"
        return self.urls()[0]

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['stats']}"


def build_cluster(folder: Path, instances: int, started: list[Process | Postgres], password: str,
                  rasa_instances: int = 1, balanced: bool = False, extra_env: dict[str, str] | None = None) -> Cluster:
    """Start Redis, PostgreSQL, the assistant, the handoff instances (migrated, the demo team seeded with
    ``password``, ``extra_env`` added to their environment) and, when ``balanced``, HAProxy in front
    (``deploy/haproxy.cfg``: two handoff instances and two Rasa servers). ``started`` gets each process as it starts, so the caller stops them whatever happens."""
    if balanced and (instances, rasa_instances) != (2, 2):
        raise ValueError("deploy/haproxy.cfg balances two handoff instances and two Rasa servers")
    redis_port, actions_port = free_port(), free_port()
    redis = Process("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(folder)], dict(os.environ), folder / "redis.log",
                    None)
    started.append(redis)
    redis.start()
    postgres = Postgres(folder / "postgres", free_port(), postgres_binaries())
    started.append(postgres)
    postgres.create()
    token = "cluster-" + uuid.uuid4().hex
    base = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "ACTIONS_TOKEN": "cluster-actions-" + uuid.uuid4().hex}
    actions = Process("actions", [str(ROOT / ".venv/app/bin/python"), "-m", "actions.server", "--actions", "actions",
                                  "--port", str(actions_port)], base, folder / "actions.log",
                      f"http://127.0.0.1:{actions_port}/health")
    rasa_ports = [free_port() for _ in range(rasa_instances)]
    rasa = []
    for number, port in enumerate(rasa_ports):
        rasa.append(Process(f"rasa-{number}", [
            str(ROOT / ".venv/rasa/bin/rasa"), "run", "--model", str(MODEL), "--interface", "127.0.0.1", "--port",
            str(port), "--enable-api", "--auth-token", token, "--endpoints", "endpoints.yml", "--credentials",
            "credentials.yml"], {**base, "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook"},
            folder / f"rasa-{number}.log", f"http://127.0.0.1:{port}/"))
    handoff_ports = [free_port() for _ in range(instances)]
    ports = {"public": free_port(), "rasa": free_port(), "stats": free_port()} if balanced else {}
    rasa_url = f"http://127.0.0.1:{ports['rasa']}" if balanced else f"http://127.0.0.1:{rasa_ports[0]}"
    service_env = {**base, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/2", "DATABASE_URL": postgres.url(),
                   "HANDOFF_KEY_PREFIX": "chaos:", "HANDOFF_SECRET": "cluster-secret-" + uuid.uuid4().hex,
                   "RASA_URL": rasa_url, "RASA_TOKEN": token,
                   # the workbench's promotions swap each Rasa server in turn, not the balancer (docs/training.md)
                   "HANDOFF_MODELS_SERVERS": ",".join(f"http://127.0.0.1:{port}" for port in rasa_ports),
                   "HANDOFF_DEMO_PASSWORD": password, "HANDOFF_SUGGESTIONS": "false", "HANDOFF_LOG_LEVEL": "WARNING",
                   # every simulated customer comes from 127.0.0.1: the per-address limits would refuse them
                   "HANDOFF_CONVERSATIONS_PER_MINUTE": "1000000", "HANDOFF_MESSAGES_PER_MINUTE": "1000000"}
    if balanced:
        service_env["HANDOFF_CLIENT_IP_HEADER"] = "X-Forwarded-For"
    service_env |= extra_env or {}
    python = str(ROOT / ".venv/app/bin/python")
    for step in (["migrate"], ["seed", str(ROOT / "data" / "demo")]):
        done = subprocess.run([python, "-m", "handoff", *step], cwd=ROOT, env=service_env, capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"python -m handoff {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
    handoff = [Process(f"handoff-{number}", [python, "-m", "handoff", "serve"],
                       {**service_env, "HANDOFF_PORT": str(port)}, folder / f"handoff-{number}.log",
                       f"http://127.0.0.1:{port}/health") for number, port in enumerate(handoff_ports)]
    balancer = None
    if balanced:
        lb_env = {**os.environ, "LB_PUBLIC_BIND": f"127.0.0.1:{ports['public']}",
                  "LB_RASA_BIND": f"127.0.0.1:{ports['rasa']}", "LB_STATS_BIND": f"127.0.0.1:{ports['stats']}",
                  "LB_HANDOFF_1": f"127.0.0.1:{handoff_ports[0]}", "LB_HANDOFF_2": f"127.0.0.1:{handoff_ports[1]}",
                  "LB_RASA_1": f"127.0.0.1:{rasa_ports[0]}", "LB_RASA_2": f"127.0.0.1:{rasa_ports[1]}"}
        balancer = Process("haproxy", [haproxy_binary(), "-db", "-f", str(HAPROXY_CONFIG)], lb_env,
                           folder / "haproxy.log", f"http://127.0.0.1:{ports['stats']}/")
    servers = [actions, *rasa, *([balancer] if balancer else []), *handoff]
    for process in servers:
        started.append(process)
        process.start(wait=False)
    for process in servers:
        assert process.popen is not None and process.health is not None
        wait_until_up(process.health, process.popen, START_TIMEOUT, process.log)
    return Cluster(folder, redis, postgres, actions, rasa, handoff, balancer, password, ports)


def stop_cluster(started: list[Process | Postgres]) -> None:
    """Stop what :func:`build_cluster` started, last first."""
    for server in reversed(started):
        if isinstance(server, Postgres):
            server.stop()
        else:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="keep the logs and data here (default: a temporary folder, "
                                                    "removed at exit)")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="balanced-"))
    folder.mkdir(parents=True, exist_ok=True)
    password = os.environ.get("HANDOFF_DEMO_PASSWORD") or uuid.uuid4().hex[:12]
    print(f"== starting Redis, PostgreSQL, the action server, 2 Rasa servers, 2 handoff instances and HAProxy "
          f"(logs in {folder})", flush=True)
    started: list[Process | Postgres] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops everything, as Ctrl-C does
    try:
        cluster = build_cluster(folder, 2, started, password, rasa_instances=2, balanced=True)
        print(f"the shop:     {cluster.public_url}/\nthe console:  {cluster.public_url}/console "
              f"(grace, linus, ada or admin; password {password})\nHAProxy's statistics: {cluster.stats_url}/\n"
              "Ctrl-C stops everything.", flush=True)
        while all(p.popen is not None and p.popen.poll() is None for p in started if isinstance(p, Process)):
            time.sleep(1)
        print("a server stopped; stopping the rest (see the logs)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_cluster(started)
        if args.folder is None:
            subprocess.run(["rm", "-rf", str(folder)], check=False)


if __name__ == "__main__":
    raise SystemExit(main())
