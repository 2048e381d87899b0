#!/usr/bin/env bash
# `make test`: bring up the stores, then lint, migration check and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up
set -a
# shellcheck disable=SC1091
. .run/services.env
set +a
export DJANGO_SETTINGS_MODULE=config.settings.test

echo "== ruff"
.venv/bin/ruff check .
echo "== migrations are up to date"
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null || {
  echo "error: models changed without a migration: run .venv/bin/python manage.py makemigrations" >&2
  exit 1
}
echo "== pytest"
exec .venv/bin/pytest "$@"
