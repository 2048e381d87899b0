#!/usr/bin/env bash
# `make test`: bring up the stores, then lint, the import contract, migration check and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up
set -a
# shellcheck disable=SC1091
. "${FIRSTCOME_SERVICES_ENV:-.run/services.env}"
set +a
export DJANGO_SETTINGS_MODULE=config.settings.test

# The browser tests drive Debian's Chromium (tests/browser) and screenshot Korean
# pages; install the browser and a Korean font when missing.
if [ -z "${CHROMIUM_PATH:-}" ] && ! { command -v chromium >/dev/null 2>&1 && fc-list :lang=ko 2>/dev/null | grep -q .; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium and a Korean font for the browser tests (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null; }
  elif ! command -v chromium >/dev/null 2>&1; then
    echo "warning: no chromium: the browser tests will be skipped (sudo apt-get install chromium fonts-nanum)" >&2
  fi
fi

# The production suites (tests/production) run what deploy/ describes: nginx, Prometheus and
# promtool, systemd-analyze for the units, openssl for the certificate, pg_dump for backups.
scripts/system-packages.sh nginx:nginx prometheus:prometheus promtool:prometheus \
  systemd-analyze:systemd openssl:openssl pg_dump:postgresql-client setpriv:util-linux

echo "== ruff"
.venv/bin/ruff check .
echo "== dependency directions (import-linter: pyproject.toml, DESIGN.md §2)"
.venv/bin/lint-imports --no-cache
echo "== migrations are up to date"
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null || {
  echo "error: models changed without a migration: run .venv/bin/python manage.py makemigrations" >&2
  exit 1
}
echo "== pytest"
exec .venv/bin/pytest "$@"
