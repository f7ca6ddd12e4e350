"""Benchmarks of the handoff service: ``make bench`` (after scripts/bench.py); ``--help`` lists the flags.

The benchmarks are modules of :mod:`scripts.benchmarks`, listed in :mod:`scripts.benchmarks.handoff_suite`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.benchmarks.handoff_suite import SUITE
from scripts.benchmarks.runner import main

if __name__ == "__main__":
    raise SystemExit(main(SUITE))
