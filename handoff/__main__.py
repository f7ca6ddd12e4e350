"""``python -m handoff``: see :mod:`handoff.cli`."""

from handoff.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
