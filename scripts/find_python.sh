#!/usr/bin/env bash
# Print the path of a Python interpreter of the given minor version (e.g. 3.10),
# looking at PATH, then pyenv's versions, then uv's managed Pythons.
set -euo pipefail
want="$1"
if command -v "python$want" >/dev/null 2>&1 && "python$want" -c 'import sys' >/dev/null 2>&1; then
  command -v "python$want"; exit 0
fi
for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python"$want"; do
  if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
if command -v uv >/dev/null 2>&1 && found=$(uv python find "$want" 2>/dev/null); then
  echo "$found"; exit 0
fi
echo "error: Python $want is needed (Rasa 3.6 runs on 3.10, the rest on 3.11) and none was found;" \
     "install it (pyenv install $want, or uv python install $want) and run make again." >&2
exit 1
