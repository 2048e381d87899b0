#!/usr/bin/env bash
# `make run`: stores, migrations, demo data, then web + worker + ticker + beat (honcho).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up
set -a
# shellcheck disable=SC1091
. "${FIRSTCOME_SERVICES_ENV:-.run/services.env}"
set +a
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}
export PORT=${PORT:-8000}
export PYTHONUNBUFFERED=1
# One line per request floods the terminal in a spike (a simulate_spike printed
# ~28,800): off unless asked for with REQUEST_LOG_LEVEL=INFO.
export REQUEST_LOG_LEVEL=${REQUEST_LOG_LEVEL:-WARNING}

# Per-checkout secrets, made once and kept in the git-ignored .run/ folder.
umask 077
[ -s .run/secret-key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > .run/secret-key
[ -s .run/admin-password ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))' > .run/admin-password
umask 022
admin_password=$(cat .run/admin-password)
# Given to the processes directly: they may run as another user (below), who cannot read .run/.
DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-$(cat .run/secret-key)}
export DJANGO_SECRET_KEY

# Every timestamp in one zone: Django's (its processes switch to it), honcho's prefixes too.
TZ=$(.venv/bin/python -c 'from config.settings import base; print(base.TIME_ZONE)')
export TZ

echo "== database: applying migrations"
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py seed_demo --admin-password "$admin_password"
# Leaderboards live in Redis: make them agree with the database before serving.
.venv/bin/python manage.py rebuild_rankings >/dev/null

# As root, the processes run as the unprivileged user "firstcome" (created when
# missing), as the systemd units of deploy/ run them: Celery rightly warns about
# workers running as root. When that user cannot run this checkout, they stay
# root and the warning is silenced instead (the note above says why).
export FIRSTCOME_AS_APP_USER=""
run_as="you"
if [ "$(id -u)" = 0 ]; then
  FIRSTCOME_AS_APP_USER=$(.venv/bin/python -m deploy.local app-user --own .run/beat)
  if [ -n "$FIRSTCOME_AS_APP_USER" ]; then
    run_as="user firstcome"
  else
    run_as="root"
    export PYTHONWARNINGS="ignore:You're running the worker with superuser privileges"
  fi
fi
mkdir -p .run/beat

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
  processes  web, worker, ticker and beat run as $run_as; times are $TZ
  requests   not logged one by one (REQUEST_LOG_LEVEL=INFO make run shows them)
  ----------------------------------------------------------------

BANNER

# Ctrl-C reaches honcho (which stops the processes) and us: that is the normal
# way to stop, so it ends with status 0 and make reports no error. Bash may not
# run our trap when its child handled the signal itself (honcho catches it and
# exits 130, or 143 on SIGTERM), so honcho's status says it too; a process that
# crashed makes honcho exit with that process's own status instead.
interrupted=0
trap 'interrupted=1' INT TERM
status=0
.venv/bin/honcho start -f Procfile -p "$PORT" || status=$?
if [ "$interrupted" = 1 ] || [ "$status" = 130 ] || [ "$status" = 143 ]; then
  echo "firstcome stopped."
  exit 0
fi
exit "$status"
