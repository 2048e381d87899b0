#!/usr/bin/env bash
# `make prod`: what production runs, on this machine (docs/deploy.md): the release
# steps (migrate, collectstatic with the production storage), the production
# settings with DEBUG off, N granian web nodes behind nginx with TLS (a
# self-signed certificate made here), the grant worker, the ticker and beat,
# each started with its systemd unit's command line (deploy/systemd), and
# Prometheus with the alert rules when it is installed. Ctrl-C stops it all.
#
# Knobs: WEB_NODES (2), HTTPS_PORT (8443), HTTP_PORT (8080), WEB_FIRST_PORT (8001),
# PROMETHEUS_PORT (9095); the stores as for `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up
scripts/system-packages.sh nginx:nginx openssl:openssl setpriv:util-linux
set -a
# shellcheck disable=SC1091
. "${FIRSTCOME_SERVICES_ENV:-.run/services.env}"
set +a
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m deploy.local up "$@"
