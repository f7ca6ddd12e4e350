"""An aiosmtpd handler for the alert tests' real SMTP server process (``python -m aiosmtpd -c
tests.handoff.service.smtp_recorder.Recorder <directory>``): each message received is written, as the client sent
it, to ``<directory>/<n>.eml``, its envelope's recipients to ``<n>.rcpt``."""

from __future__ import annotations

import itertools
from argparse import ArgumentParser
from pathlib import Path
from typing import Any


class Recorder:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.numbers = itertools.count(1)

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> Recorder:
        if len(args) != 1:
            parser.error("Recorder takes one argument: the directory to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = next(self.numbers)
        (self.directory / f"{number}.rcpt").write_text("\n".join(envelope.rcpt_tos))
        (self.directory / f"{number}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 OK"
