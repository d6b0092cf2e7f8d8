#!/usr/bin/env bash
# `npm run bench:setup`: installs the PyTorch side of `npm run bench -- --vs-torch`, Debian's
# python3-torch (CPU build, 1.13.1 on bookworm) for Debian's own /usr/bin/python3 (a pyenv or
# venv python3 earlier on PATH would not see it; the bench always runs APC_TORCH_PYTHON or
# /usr/bin/python3). Non-interactive; needs root (or password-less sudo). No-op when torch imports.
set -euo pipefail
PY="${APC_TORCH_PYTHON:-/usr/bin/python3}"
if "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "bench setup: torch $("$PY" -c 'import torch; print(torch.__version__)') already installed for $PY"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "bench setup: not root and no sudo; as root run: apt-get install -y python3-torch" >&2; exit 1
  fi
fi
echo "bench setup: installing python3-torch with apt-get (Debian's CPU build; a few minutes)"
export DEBIAN_FRONTEND=noninteractive
# Wait (up to 10 min) instead of failing when another apt/dpkg holds the lock.
LOCK=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${LOCK[@]}" update -qq
$SUDO apt-get "${LOCK[@]}" install -y -qq --no-install-recommends python3-torch python3-numpy
"$PY" -c 'import torch; print("bench setup: torch", torch.__version__, "ready")'
