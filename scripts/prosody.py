"""A private Prosody (Debian's ``prosody``, 0.12): an XMPP server on loopback for ``make run``'s IM channel and the
XMPP tests, with a configuration, data and log of its own in one folder, in the foreground (never the system's).

Plain-text client connections on 127.0.0.1 only (no certificate: loopback), accounts with passwords kept by
``internal_plain``, no server-to-server or HTTP ports. Run as root (a container, CI), Prosody needs
``run_as_root``; as another user it keeps its files under that user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PROSODY = shutil.which("prosody") or "/usr/bin/prosody"
PROSODYCTL = shutil.which("prosodyctl") or "/usr/bin/prosodyctl"
INSTALL = "apt-get install -y prosody"


@dataclass(frozen=True)
class ProsodyConfig:
    folder: Path
    port: int
    domain: str = "localhost"

    @property
    def path(self) -> Path:
        return self.folder / "prosody.cfg.lua"

    @property
    def log(self) -> Path:
        return self.folder / "prosody.log"


def installed() -> bool:
    return Path(PROSODY).exists() and Path(PROSODYCTL).exists()


def configure(folder: Path, port: int, domain: str = "localhost") -> ProsodyConfig:
    """Write the configuration (and its folders) for a server on 127.0.0.1:``port`` serving ``domain``."""
    if not installed():
        raise RuntimeError(f"Prosody is missing ({PROSODY}): {INSTALL} (scripts/ensure_services.sh does)")
    folder = folder.resolve()
    for sub in ("data", "certs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    config = ProsodyConfig(folder, port, domain)
    config.path.write_text(f"""-- written by scripts/prosody.py: a private server on loopback
pidfile = "{folder}/prosody.pid"
data_path = "{folder}/data"
certificates = "{folder}/certs"
log = {{ info = "{config.log}"; }}
run_as_root = {'true' if os.geteuid() == 0 else 'false'}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "carbons"; "offline"; "posix"; }}
modules_disabled = {{ "s2s"; "tls"; }}
VirtualHost "{domain}"
""")
    return config


def register(config: ProsodyConfig, user: str, password: str) -> None:
    """Create (or reset) the account ``user@domain``."""
    done = subprocess.run([PROSODYCTL, "--config", str(config.path), "register", user, config.domain, password],
                          capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise RuntimeError(f"prosodyctl register {user} failed: {done.stderr or done.stdout}")


def start(config: ProsodyConfig, output: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the server in the foreground in its own process group; wait until it listens."""
    with (output or config.folder / "prosody.out").open("ab") as out:
        process = subprocess.Popen([PROSODY, "--config", str(config.path), "-F"], stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    wait_listening(config, process)
    return process


def wait_listening(config: ProsodyConfig, process: subprocess.Popen[bytes] | subprocess.Popen[str],
                   timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = config.log.read_text()[-2000:] if config.log.exists() else ""
            raise RuntimeError(f"prosody exited with {process.returncode}; its log:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", config.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"prosody did not listen on 127.0.0.1:{config.port} in {timeout:.0f} s")
