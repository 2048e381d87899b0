#!/usr/bin/env bash
# Create .venv and install the pinned requirements (dev extras included).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON_BIN:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
  else
    echo "error: python3 (3.11 or newer) is required: sudo apt-get install python3 python3-venv" >&2
    exit 1
  fi
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Python 3.11 or newer is required, found $("$PYTHON" --version)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
      "$PYTHON" -m venv .venv
    else
      echo "error: the venv module is missing: sudo apt-get install python3-venv" >&2
      exit 1
    fi
  fi
fi
# PyICU (username confusables, accounts/usernames.py) compiles against the system's ICU.
if ! pkg-config --exists icu-i18n 2>/dev/null || ! command -v g++ >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libicu-dev pkg-config g++ >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libicu-dev pkg-config g++; }
  else
    echo "error: PyICU needs ICU's headers and a C++ compiler: sudo apt-get install libicu-dev pkg-config g++" >&2
    exit 1
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
