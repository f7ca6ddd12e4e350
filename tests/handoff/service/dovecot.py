"""A real IMAP server for the e-mail channel's tests: Debian's Dovecot (``dovecot-imapd``), started in the
foreground with a configuration of its own in a temporary folder (plain IMAP on a free loopback port, one user
with a password, Maildir), stopped at the end."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.handoff.service.mail_relay import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "support", "imap-secret"


@dataclass(frozen=True)
class Dovecot:
    port: int
    user: str = USER
    password: str = PASSWORD


@contextlib.contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """Its folder is a world-readable one of its own (pytest's are private to the test's user, and Dovecot's
    auth process, another user, must read the password file)."""
    if not Path(DOVECOT).exists():
        raise RuntimeError("Dovecot is missing: apt-get install dovecot-imapd")
    tmp = Path(tempfile.mkdtemp(prefix="handoff-dovecot-"))
    tmp.chmod(0o755)
    try:
        yield from _serve(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _serve(tmp: Path) -> Iterator[Dovecot]:
    port = free_port()
    for folder in ("run", "state", "mail", "home"):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
    for folder in ("mail", "home"):
        shutil.chown(tmp / folder, "nobody", "nogroup")
    (tmp / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (tmp / "dovecot.conf").write_text(f"""
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{tmp}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={tmp}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(tmp / "dovecot.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                log = (tmp / "dovecot.log").read_text() if (tmp / "dovecot.log").exists() else ""
                raise RuntimeError(f"Dovecot did not start:\n{log}")
            time.sleep(0.1)
        yield Dovecot(port)
    finally:
        process.terminate()
        process.wait(10)
