#!/usr/bin/env bash
# `make run`: stores, migrations, demo data, then web + worker + ticker + beat (honcho).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up
set -a
# shellcheck disable=SC1091
. .run/services.env
set +a
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}
export PORT=${PORT:-8000}
export PYTHONUNBUFFERED=1

# Per-checkout secrets, made once and kept in the git-ignored .run/ folder.
umask 077
[ -s .run/secret-key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > .run/secret-key
[ -s .run/admin-password ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))' > .run/admin-password
umask 022
admin_password=$(cat .run/admin-password)

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo --admin-password "$admin_password"
# Leaderboards live in Redis: make them agree with the database before serving.
.venv/bin/python manage.py rebuild_rankings >/dev/null

host=${WEB_HOST:-127.0.0.1}
[ "$host" = "0.0.0.0" ] && host=127.0.0.1
url="http://$host:$PORT"
cat <<BANNER

  firstcome is starting (Ctrl-C stops web, workers and beat)
  ----------------------------------------------------------------
  site       $url/
  admin      $url/admin/     user: admin   password: $admin_password
  demo users alice, bob, carol, dave       password: firstcome-demo
  API docs   $url/api/v1/docs/
  health     $url/healthz   $url/readyz
  ----------------------------------------------------------------

BANNER
exec .venv/bin/honcho start -f Procfile -p "$PORT"
