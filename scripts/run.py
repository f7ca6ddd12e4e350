"""Start the product: the action server, the Rasa server and the handoff service, until Ctrl-C.

``make run`` calls this after building what changed. It brings the ticket
database up to date, loads the demo team once (``data/demo``) and, into an
empty ticket log, a month of simulated history (``python -m handoff
demo-history --once``, docs/demo-history.md), starts the
three servers, prefixes their logs, waits until all answer, prints where the
chat page and the agent console are, and on Ctrl-C (or SIGTERM) stops them all.

Environment: ``HANDOFF_PORT`` (8000), ``RASA_HOST`` and ``RASA_PORT``
(127.0.0.1, 5005), ``ACTIONS_HOST`` and ``ACTIONS_PORT`` (127.0.0.1, 5055),
``RASA_MODEL`` (the Rasa model served: ``models/rasa/assistant.tar.gz``, or e.g.
``models/rasa/assistant_zh.tar.gz`` from ``make model-zh``), ``RASA_TOKEN`` (the token protecting Rasa's HTTP API) and ``ACTIONS_TOKEN``
(the one Rasa shows the action server), each random for this run if unset,
``HANDOFF_DEMO_PASSWORD`` (the demo agents' password when they are first
created; random and printed if unset), ``HANDOFF_DEMO`` (0: no month of demo
history on a fresh machine), ``REDIS_URL`` and ``DATABASE_URL`` (the
production profile; see the README). The e-mail channel runs too
(``HANDOFF_CHANNELS`` defaults to ``web,email`` here): its listener on
127.0.0.1:2525, and, unless ``HANDOFF_SMTP_HOST`` names a relay, a local
catcher (aiosmtpd, 127.0.0.1:2526 or ``HANDOFF_MAIL_CATCHER_PORT``) that files
the replies as a Maildir in ``var/mail-out/``. So does instant messaging when
Debian's ``prosody`` is installed (``HANDOFF_CHANNELS`` then ``web,email,xmpp``;
without it, the line printed says how to add it): a local Prosody on
127.0.0.1:5222 (``HANDOFF_XMPP_PORT``) with the bot's account
``support@localhost`` and a demo customer's ``customer@localhost`` (password
``HANDOFF_XMPP_DEMO_PASSWORD``, else made once and printed), unless
``HANDOFF_XMPP_JID`` names an account of your own server.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts import prosody  # noqa: E402
from scripts.servers import Stopped, stop, wait_until_up  # noqa: E402

MODEL = Path(os.environ.get("RASA_MODEL") or ROOT / "models" / "rasa" / "assistant.tar.gz")


class Termination:
    """Whether SIGTERM arrived. The handler only sets a flag, which the main thread polls between sleeps.

    A Python signal handler runs in the main thread between two bytecodes, wherever it is: it must take no lock
    the interrupted code may hold. The former handler called ``threading.Event.set()``, whose lock the main
    thread held inside ``Event.wait()`` whenever the signal reached it there (always, when the kernel delivered
    it to one of the log threads): the process deadlocked and its servers kept running. Raising from the handler
    instead could leave a lock of ``subprocess`` taken, so it only records the request.
    """

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __bool__(self) -> bool:
        return self.requested


def local(host: str) -> str:
    """Where this machine reaches a server listening on ``host`` (every interface: through loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def stream(name: str, process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    threading.Thread(target=stream, args=(name, process), daemon=True).start()
    return process


def local_xmpp(env: dict[str, str]) -> tuple[str, prosody.ProsodyConfig]:
    """Configure Prosody on 127.0.0.1 (``HANDOFF_XMPP_PORT``, 5222) serving ``localhost``, in ``var/prosody/``, with
    the bot's account (a new password each start) and the demo customer's (``HANDOFF_XMPP_DEMO_PASSWORD``, else one
    made once and kept in ``var/prosody/customer.password``); point the service at it. The line to print."""
    folder = ROOT / "var" / "prosody"
    config = prosody.configure(folder, int(env.get("HANDOFF_XMPP_PORT", "5222")))
    bot_password = secrets.token_urlsafe(18)
    kept = folder / "customer.password"
    customer_password = env.get("HANDOFF_XMPP_DEMO_PASSWORD") or (kept.read_text().strip() if kept.exists() else "")
    if not customer_password:
        customer_password = secrets.token_urlsafe(9)
        kept.write_text(customer_password + "\n")
        kept.chmod(0o600)
    prosody.register(config, "support", bot_password)
    prosody.register(config, "customer", customer_password)
    env.update(HANDOFF_XMPP_JID="support@localhost", HANDOFF_XMPP_PASSWORD=bot_password,
               HANDOFF_XMPP_SERVER=f"127.0.0.1:{config.port}", HANDOFF_XMPP_TLS="optional")
    line = (f"\n  Instant messaging (XMPP): write to support@localhost as customer@localhost (password "
            f"{customer_password}) at 127.0.0.1:{config.port}, or: make xmpp-chat")
    return line, config


def main() -> int:
    rasa_host, rasa_port = os.environ.get("RASA_HOST", "127.0.0.1"), os.environ.get("RASA_PORT", "5005")
    actions_host, actions_port = os.environ.get("ACTIONS_HOST", "127.0.0.1"), os.environ.get("ACTIONS_PORT", "5055")
    handoff_port = os.environ.get("HANDOFF_PORT", "8000")
    token = os.environ.get("RASA_TOKEN") or secrets.token_urlsafe(24)
    env = {**os.environ, "ACTION_SERVER_URL": f"http://{local(actions_host)}:{actions_port}/webhook",
           "ACTIONS_TOKEN": os.environ.get("ACTIONS_TOKEN") or secrets.token_urlsafe(24),
           "RASA_URL": f"http://{local(rasa_host)}:{rasa_port}", "RASA_TOKEN": token, "HANDOFF_PORT": handoff_port,
           "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1"}
    venv = ROOT / ".venv"
    (ROOT / "var").mkdir(exist_ok=True)
    # the e-mail channel on loopback (docs/channels.md): mail to support@localhost at 127.0.0.1:2525; without a
    # relay of your own (HANDOFF_SMTP_HOST), replies go to a local catcher that files them in var/mail-out/new/
    # instant messaging: a local Prosody (XMPP) with the bot's account and a demo customer's, when Prosody is here
    env.setdefault("HANDOFF_CHANNELS", "web,email,xmpp" if prosody.installed() else "web,email")
    xmpp, xmpp_config = "", None
    if "xmpp" in env["HANDOFF_CHANNELS"] and not env.get("HANDOFF_XMPP_JID"):
        xmpp, xmpp_config = local_xmpp(env)
    elif not prosody.installed():
        xmpp = ("\n  Instant messaging (XMPP): off; `apt-get install -y prosody` and make run again (README: Trying "
                "instant messaging)")
    catcher = None
    if "email" in env["HANDOFF_CHANNELS"] and not env.get("HANDOFF_SMTP_HOST"):
        env.update(HANDOFF_SMTP_HOST="127.0.0.1", HANDOFF_SMTP_PORT=env.get("HANDOFF_MAIL_CATCHER_PORT", "2526"))
        catcher = [str(venv / "app/bin/python"), "-m", "aiosmtpd", "-n", "-l",
                   f"127.0.0.1:{env['HANDOFF_SMTP_PORT']}", "-c", "aiosmtpd.handlers.Mailbox",
                   str(ROOT / "var" / "mail-out")]
    mail = ""
    if "email" in env["HANDOFF_CHANNELS"]:
        mail_port = env.get("HANDOFF_MAIL_PORT", "2525")
        replies = "var/mail-out/new/" if catcher else f"your relay ({env['HANDOFF_SMTP_HOST']})"
        mail = (f"\n  E-mail channel:          send to {env.get('HANDOFF_MAIL_ADDRESS', 'support@localhost')} at "
                f"127.0.0.1:{mail_port} (README: Trying e-mail); replies: {replies}")
    seeded = ""
    demo = os.environ.get("HANDOFF_DEMO", "1").strip().lower() not in ("0", "false", "no", "off")
    # the month of demo history only into a ticket log without any conversation (docs/demo-history.md)
    steps = [["migrate"], ["seed", "data/demo"], *([["demo-history", "--once"]] if demo else [])]
    for step in steps:
        streamed = step[0] == "demo-history"  # its progress shows as it goes
        done = subprocess.run([str(venv / "app/bin/python"), "-m", "handoff", *step], cwd=ROOT, env=env,
                              stdout=None if streamed else subprocess.PIPE, text=True)
        print(done.stdout or "", end="")
        if done.returncode:
            print(f"error: `python -m handoff {' '.join(step)}` failed; see above.", file=sys.stderr)
            return 1
        seeded = done.stdout.strip() if step[0] == "seed" else seeded
    actions = start("actions", [str(venv / "app/bin/python"), "-m", "actions.server", "--actions", "actions",
                                "--host", actions_host, "--port", actions_port], env)
    rasa = start("rasa", [str(venv / "rasa/bin/rasa"), "run", "--model", str(MODEL), "--interface", rasa_host,
                          "--port", rasa_port, "--enable-api", "--auth-token", token, "--endpoints", "endpoints.yml",
                          "--credentials", "credentials.yml"], env)
    xmpp_server = start("xmpp", [prosody.PROSODY, "--config", str(xmpp_config.path), "-F"],
                        env) if xmpp_config else None
    handoff = start("handoff", [str(venv / "app/bin/python"), "-m", "handoff", "serve"], env)
    processes = [actions, rasa, handoff, *([start("mail-out", catcher, env)] if catcher else []),
                 *([xmpp_server] if xmpp_server else [])]
    terminated = Termination()
    signal.signal(signal.SIGTERM, terminated)
    try:
        try:
            wait_until_up(f"http://{local(actions_host)}:{actions_port}/health", actions, 120,
                          stop=terminated.__bool__)
            wait_until_up(f"http://{local(rasa_host)}:{rasa_port}/", rasa, 300, stop=terminated.__bool__)
            wait_until_up(f"http://localhost:{handoff_port}/health", handoff, 120, stop=terminated.__bool__)
            if xmpp_config and xmpp_server:
                prosody.wait_listening(xmpp_config, xmpp_server)
        except Stopped:
            return 0
        except RuntimeError as exc:
            print(f"error: a server did not start ({exc}); see its log above.", file=sys.stderr)
            return 1
        print(f"""
Brightwood customer service is running.
  Customer chat (widget):  http://localhost:{handoff_port}/
  Agent console:           http://localhost:{handoff_port}/console
                           {seeded or "demo agents: ada, grace, linus, admin (password given when first created)"}
  API reference:           http://localhost:{handoff_port}/docs{mail}{xmpp}
  Chat with the bot alone: make chat
  Or send a message:       curl -s {local(rasa_host)}:{rasa_port}/webhooks/rest/webhook \\
                             -d '{{"sender": "me", "message": "where is my order 12345"}}'
  Rasa HTTP API token:     {'(from RASA_TOKEN)' if os.environ.get('RASA_TOKEN') else token}
Press Ctrl-C to stop.
""", flush=True)
        while not terminated and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        if terminated:
            return 0
        print("error: a server stopped unexpectedly; stopping the others.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for received in (signal.SIGINT, signal.SIGTERM):
            signal.signal(received, signal.SIG_IGN)
        print("stopping...", flush=True)
        stop(processes)


if __name__ == "__main__":
    raise SystemExit(main())
