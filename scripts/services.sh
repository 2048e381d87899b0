#!/usr/bin/env bash
# scripts/services.sh - make sure a PostgreSQL and a Redis are reachable for
# firstcome, and write their connection URLs to .run/services.env.
#
# Usage: scripts/services.sh [up|down|status]        (default: up)
#
#   up      Find or start PostgreSQL and Redis, then write .run/services.env
#           (plain KEY=VALUE lines: DATABASE_URL=..., REDIS_URL=...). Safe to
#           run again: whatever is already running is reused.
#   down    Stop the project-local instances (those under .run/) only. System
#           services, and servers given through DATABASE_URL / REDIS_URL, are
#           never touched.
#   status  Show the project-local instances and whether the URLs in
#           .run/services.env answer.
#
# How each service is chosen by `up`, first match wins:
#   1. DATABASE_URL / REDIS_URL from the environment: checked (up to ~10 s),
#      written as given; exit 1 when they do not answer.
#   2. A server already running on this machine (skipped when
#      FIRSTCOME_LOCAL_SERVICES=1):
#        postgres://postgres@127.0.0.1:5432 or postgres://$(id -un)@127.0.0.1:5432
#        (no password; database "firstcome" is created when missing), and
#        redis://127.0.0.1:6379/0.
#   3. A project-local instance under .run/, started on demand:
#        PostgreSQL in .run/postgres (port FIRSTCOME_PG_PORT, default 54329),
#        Redis in .run/redis (port FIRSTCOME_REDIS_PORT, default 63799,
#        no persistence: Redis state is rebuildable from PostgreSQL).
#      Missing server packages are installed with apt-get when run as root.
#
# Other environment knobs:
#   PYTHON   interpreter with psycopg 3 and redis-py (default .venv/bin/python),
#            used for every connectivity check, so psql/redis-cli are optional.
#   FIRSTCOME_SERVICES_ENV  the file to write instead of .run/services.env
#            (tests/production/test_make_run.py runs `make run` on the test stores).
#
# Load the result with `set -a; . .run/services.env; set +a` (bash) or
# `environ.Env.read_env(".run/services.env")` (django-environ).

set -euo pipefail

# Work from the repository root (the parent of this script's directory), with
# a physical path: it ends up in postgres' command line and socket paths.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

PYTHON="${PYTHON:-.venv/bin/python}"
LOCAL_ONLY="${FIRSTCOME_LOCAL_SERVICES:-0}"

RUN_DIR="$ROOT/.run"
ENV_FILE="${FIRSTCOME_SERVICES_ENV:-$RUN_DIR/services.env}"   # elsewhere for tests of make run
LOCK_FILE="$RUN_DIR/.services.lock"

PG_DIR="$RUN_DIR/postgres"           # also the unix socket directory
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
PG_MARKER="$PG_DIR/started-by-us"
PG_PORT="${FIRSTCOME_PG_PORT:-54329}"
PG_DB="firstcome"
PG_FALLBACK_USER="firstcome-pg"      # system user created when root and no "postgres"

REDIS_DIR="$RUN_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_MARKER="$REDIS_DIR/started-by-us"
REDIS_PORT="${FIRSTCOME_REDIS_PORT:-63799}"

# Results of `up`, filled in by pg_up / redis_up.
DATABASE_URL_OUT=""
REDIS_URL_OUT=""
PG_SUMMARY=""
REDIS_SUMMARY=""

# Set by pg_find_bin / pg_pick_user.
PG_BIN=""
PG_RUN_AS=""      # user that owns and runs the project-local cluster ("" = ourselves)

APT_UPDATED=0
TMP_FILE=""
trap '[[ -z "$TMP_FILE" ]] || rm -f "$TMP_FILE"' EXIT

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

log() { printf '%s\n' "$*" >&2; }

die() {
    printf 'services.sh: error: %s\n' "$*" >&2
    exit 1
}

# Hide the password part of a URL before printing it.
mask_url() {
    printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'
}

# The last lines of a log file, indented, for error messages.
log_tail() {
    if [[ -r "$1" ]]; then
        printf '\n--- last lines of %s ---\n' "${1#"$ROOT"/}"
        tail -n 15 "$1" | sed 's/^/  /'
    fi
}

# wait_until SECONDS COMMAND...: retry COMMAND every 0.5 s until it succeeds
# or SECONDS have passed.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

# Is PID a live process whose command line contains PATTERN?  Used to make
# sure a pid from a pid file is really ours: after a reboot the number may
# belong to an unrelated process (even to the system's own postgres).
pid_matches() {
    local pid="$1" pattern="$2" args
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    args="$(ps -o args= -p "$pid" 2>/dev/null)" || return 1
    [[ "$args" == *"$pattern"* ]]
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# Install Debian packages (only ever called as root).
apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        die "cannot install $* automatically (no apt-get); install it yourself, or set DATABASE_URL / REDIS_URL"
    log "Installing $* with apt-get ..."
    if ((APT_UPDATED == 0)); then
        apt-get update >&2 9>&-
        APT_UPDATED=1
    fi
    # 9>&-: services started by the package must not inherit our lock.
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 9>&-
}

missing_package_help() {
    die "$1 not found. Install the servers with:
    sudo apt-get install postgresql redis-server
or point the project at existing servers:
    DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/firstcome REDIS_URL=redis://HOST:6379/0 scripts/services.sh"
}

# ---------------------------------------------------------------------------
# Connectivity checks, done in Python (psycopg 3 / redis-py from the venv)
# ---------------------------------------------------------------------------
#   check pg URL [DBNAME]  connect (+ CREATE DATABASE DBNAME when missing)
#   check redis URL        PING
# Exit status: 0 ok, 1 cannot connect, 2 connected but CREATE DATABASE failed,
# 3 the interpreter lacks psycopg / redis.

read -r -d '' PY_CHECK <<'PY' || true
import sys

def libpq_url(url):
    # django-environ accepts several scheme aliases; libpq only two.
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgres", "postgresql", "pgsql", "psql", "postgis"):
        return "postgresql://" + rest
    return url

def fail(code, exc):
    text = " ".join(str(exc).split()) or "no details"
    print(f"{type(exc).__name__}: {text}", file=sys.stderr)
    sys.exit(code)

kind, url, *rest = sys.argv[1:]
try:
    if kind == "pg":
        import psycopg
        from psycopg import errors, sql
    else:
        import redis
except ImportError as exc:
    fail(3, exc)

if kind == "pg":
    try:
        conn = psycopg.connect(libpq_url(url), connect_timeout=2, autocommit=True)
    except Exception as exc:
        fail(1, exc)
    with conn:
        if rest:
            # CREATE DATABASE cannot run inside a transaction: autocommit.
            try:
                cur = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (rest[0],))
                if cur.fetchone() is None:
                    try:
                        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(rest[0])))
                    except errors.DuplicateDatabase:
                        pass  # created concurrently: fine
            except Exception as exc:
                fail(2, exc)
        else:
            conn.execute("SELECT 1")
else:
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        fail(1, exc)
PY

CHECK_ERR=""   # stderr of the last failed check, for messages

check() {
    local rc=0
    CHECK_ERR="$("$PYTHON" -c "$PY_CHECK" "$@" 2>&1 >/dev/null)" || rc=$?
    if ((rc == 3)); then
        die "$PYTHON lacks psycopg / redis ($CHECK_ERR). Create the venv first:
    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
or set PYTHON to an interpreter that has psycopg 3 and redis-py."
    fi
    return "$rc"
}

# ---------------------------------------------------------------------------
# PostgreSQL, project-local instance
# ---------------------------------------------------------------------------

# Major version of the postgres binary in directory $1 (e.g. "15").
pg_bin_major() {
    local v
    v="$("$1/postgres" -V 2>/dev/null)" || return 1   # "postgres (PostgreSQL) 15.8 (Debian ...)"
    v="${v#*) }"
    v="${v%% *}"
    printf '%s' "${v%%.*}"
}

# Find the server binaries: pg_config --bindir, else the highest
# /usr/lib/postgresql/*/bin, else initdb on PATH. When the data directory
# already exists, the binaries must match its major version (PG_VERSION).
# Sets PG_BIN; returns 1 when no server binaries are installed.
pg_find_bin() {
    local want="" dir found_other=""
    local -a candidates=()
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        want="$(<"$PG_DATA/PG_VERSION")"
        candidates+=("/usr/lib/postgresql/$want/bin")
    fi
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        [[ -z "$dir" ]] || candidates+=("$dir")
    fi
    while IFS= read -r dir; do
        [[ -z "$dir" ]] || candidates+=("$dir")
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -rV)
    if command -v initdb >/dev/null 2>&1; then
        candidates+=("$(dirname "$(command -v initdb)")")
    fi

    for dir in "${candidates[@]}"; do
        [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]] || continue
        if [[ -n "$want" && "$(pg_bin_major "$dir")" != "$want" ]]; then
            found_other="$dir"
            continue
        fi
        PG_BIN="$dir"
        return 0
    done
    if [[ -n "$found_other" ]]; then
        die "$PG_DATA was created by PostgreSQL $want, but only PostgreSQL $(pg_bin_major "$found_other") is installed.
Install postgresql-$want, or run 'scripts/services.sh down' and delete .run/postgres (its data is lost)."
    fi
    return 1
}

# Run a PostgreSQL tool as the cluster's owner.
as_pg() {
    if [[ -n "$PG_RUN_AS" ]]; then
        runuser -u "$PG_RUN_AS" -- "$@"
    else
        "$@"
    fi
}

# Decide which OS user owns/runs the cluster. initdb and postgres refuse to
# run as root, so as root we use the existing data dir's owner, else the
# Debian "postgres" user, else a dedicated system user we create.
pg_pick_user() {
    PG_RUN_AS=""
    if ((EUID != 0)); then
        if [[ -e "$PG_DATA" && ! -O "$PG_DATA" ]]; then
            die "$PG_DATA belongs to another user; run this script as that user (or as root)"
        fi
        return 0
    fi
    local owner=""
    [[ ! -d "$PG_DATA" ]] || owner="$(stat -c %U "$PG_DATA")"
    if [[ -n "$owner" && "$owner" != root && "$owner" != UNKNOWN ]]; then
        PG_RUN_AS="$owner"
    elif id -u postgres >/dev/null 2>&1; then
        PG_RUN_AS="postgres"
    else
        if ! id -u "$PG_FALLBACK_USER" >/dev/null 2>&1; then
            log "Creating system user $PG_FALLBACK_USER to run the project-local PostgreSQL"
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$PG_FALLBACK_USER"
        fi
        PG_RUN_AS="$PG_FALLBACK_USER"
    fi
}

# As root: hand .run/postgres to the cluster owner and make sure that user
# can reach it (every parent directory needs the execute bit for it).
pg_prepare_dirs() {
    mkdir -p "$PG_DIR"
    [[ -n "$PG_RUN_AS" ]] || return 0
    if [[ -n "$(find "$PG_DIR" ! -user "$PG_RUN_AS" -print -quit)" ]]; then
        chown -R "$PG_RUN_AS": "$PG_DIR"
    fi
    # Walk from / down to .run, so that a closed directory high up does not
    # make every directory below it look closed too.
    local dir="$PG_DIR" i
    local -a parents=()
    while [[ "$dir" != / ]]; do
        dir="$(dirname "$dir")"
        parents+=("$dir")
    done
    for ((i = ${#parents[@]} - 1; i >= 0; i--)); do
        if ! runuser -u "$PG_RUN_AS" -- test -x "${parents[i]}"; then
            log "Allowing $PG_RUN_AS to traverse ${parents[i]} (chmod o+x)"
            chmod o+x "${parents[i]}"
        fi
    done
}

# Print the pid of the running project-local postmaster; return 1 when none.
# Reads postmaster.pid but trusts it only if that pid is a postgres process
# serving OUR data directory.
pg_local_pid() {
    local pid
    [[ -r "$PG_DATA/postmaster.pid" ]] || return 1
    pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
    pid_matches "$pid" "$PG_DATA" || return 1
    printf '%s\n' "$pid"
}

# True when no process works in our data directory. Every postgres process
# (postmaster and backends) has it as its current directory; Linux /proc
# tells us. Without /proc, or for processes we may not inspect, this says
# idle and we rely on postgres' own lock file checks.
pg_data_idle() {
    local p
    for p in /proc/[0-9]*; do
        if [[ "$p/cwd" -ef "$PG_DATA" ]]; then
            return 1
        fi
    done
    return 0
}

# Port of the running project-local postmaster (4th line of postmaster.pid).
pg_local_port() {
    sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null
}

pg_local_start() {
    local opts sock_dir="$PG_DIR" out attempt
    [[ "$PG_DIR" != *"'"* ]] || die "the repository path must not contain a single quote: $ROOT"
    # Unix socket paths are limited to 107 bytes; with a deep checkout we
    # listen on TCP only (everything here connects over 127.0.0.1 anyway).
    if (($(printf '%s/.s.PGSQL.%s' "$PG_DIR" "$PG_PORT" | wc -c) > 107)); then
        log "Note: $PG_DIR is too long for a unix socket; PostgreSQL listens on TCP only"
        sock_dir=""
    fi
    # pg_ctl hands -o to /bin/sh, hence the single quotes around the path.
    opts="-p $PG_PORT -k '$sock_dir' -c listen_addresses=127.0.0.1 -c max_connections=200"

    # Left-overs of a crash (kill -9, OOM, reboot). Backends of a killed
    # postmaster exit by themselves within a moment: wait for them, since
    # starting a new postmaster next to old backends would corrupt data.
    if ! wait_until 15 pg_data_idle; then
        die "processes of a previous PostgreSQL still use $PG_DATA; stop them first"
    fi
    # Nothing runs in the data directory now, so a postmaster.pid left
    # behind is stale. If its pid has been reused by another process (after a
    # reboot) or is an unreaped zombie, pg_ctl believes the server runs and
    # postgres refuses to start: remove it, with the socket lock file that
    # names the same pid. (A pid that is simply gone postgres handles itself.)
    if [[ -f "$PG_DATA/postmaster.pid" ]] &&
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        log "Removing stale postmaster.pid (its pid is not a postgres serving ${PG_DATA#"$ROOT"/})"
        rm -f "$PG_DATA/postmaster.pid" "$PG_DIR"/.s.PGSQL.*.lock
    fi

    # After a crash (kill -9 of the postmaster) its children may hold the old
    # shared memory for a moment; postgres then refuses to start. Retry.
    for attempt in 1 2 3 4 5; do
        # 9>&-: the postmaster must not inherit our lock descriptor.
        if out="$(as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -o "$opts" start 2>&1 9>&-)"; then
            return 0
        fi
        ((attempt == 5)) || sleep 2
    done
    die "could not start the project-local PostgreSQL on port $PG_PORT:
$out$(log_tail "$PG_LOG")"
}

pg_local_up() {
    local state="already running" port url out
    if ! pg_find_bin; then
        if ((EUID == 0)); then
            apt_install postgresql
            # The Debian package may create and start its own cluster on 5432;
            # that one is left alone, ours lives in .run/postgres.
            pg_find_bin || die "PostgreSQL was installed but initdb/pg_ctl were not found"
        else
            missing_package_help "PostgreSQL server (initdb/pg_ctl)"
        fi
    fi
    pg_pick_user
    pg_prepare_dirs

    # First run: create the cluster (trust auth, superuser "postgres").
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        if [[ -d "$PG_DATA" ]]; then
            log "Removing half-initialised $PG_DATA (no PG_VERSION)"
            rm -rf "$PG_DATA"
        fi
        local -a locale_opt=(--no-locale)
        if locale -a 2>/dev/null | grep -qixE 'c\.utf-?8'; then
            locale_opt=(--locale=C.UTF-8)
        fi
        log "Creating the project-local PostgreSQL cluster in ${PG_DATA#"$ROOT"/} ..."
        out="$(as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 "${locale_opt[@]}" 2>&1)" ||
            die "initdb failed:
$out"
    fi

    if ! pg_local_pid >/dev/null; then
        pg_local_start
        state="started"
        printf 'project-local PostgreSQL started by scripts/services.sh\nport=%s\nuser=%s\nbindir=%s\nstarted_at=%s\n' \
            "$PG_PORT" "${PG_RUN_AS:-$(id -un)}" "$PG_BIN" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$PG_MARKER"
        [[ -z "$PG_RUN_AS" ]] || chown "$PG_RUN_AS": "$PG_MARKER"
    fi

    # Use the port the server really listens on (FIRSTCOME_PG_PORT may have
    # changed since it was started).
    port="$(pg_local_port)"
    [[ "$port" =~ ^[0-9]+$ ]] || port="$PG_PORT"
    if [[ "$port" != "$PG_PORT" ]]; then
        log "Note: the project-local PostgreSQL already runs on port $port (not $PG_PORT); 'down' then 'up' to move it"
    fi

    # Ready for connections (crash recovery may take a moment) + our database.
    url="postgres://postgres@127.0.0.1:$port"
    if ! wait_until 30 check pg "$url/postgres" "$PG_DB"; then
        die "the project-local PostgreSQL on port $port does not answer: $CHECK_ERR$(log_tail "$PG_LOG")"
    fi
    DATABASE_URL_OUT="$url/$PG_DB"
    PG_SUMMARY="project-local on 127.0.0.1:$port ($state)"
}

pg_up() {
    if [[ -n "${DATABASE_URL:-}" ]]; then
        if ! wait_until 10 check pg "$DATABASE_URL"; then
            die "DATABASE_URL=$(mask_url "$DATABASE_URL") does not answer: $CHECK_ERR
Fix it, or unset DATABASE_URL to use a local PostgreSQL."
        fi
        DATABASE_URL_OUT="$DATABASE_URL"
        PG_SUMMARY="from DATABASE_URL $(mask_url "$DATABASE_URL")"
        return 0
    fi

    if [[ "$LOCAL_ONLY" != 1 ]]; then
        local user rc me
        local -a users=(postgres)
        me="$(id -un)"
        [[ "$me" == postgres ]] || users+=("$me")
        for user in "${users[@]}"; do
            rc=0
            check pg "postgres://$user@127.0.0.1:5432/postgres" "$PG_DB" || rc=$?
            if ((rc == 0)); then
                DATABASE_URL_OUT="postgres://$user@127.0.0.1:5432/$PG_DB"
                PG_SUMMARY="already running at $DATABASE_URL_OUT"
                return 0
            elif ((rc == 2)); then
                log "Note: connected to 127.0.0.1:5432 as $user but could not create database $PG_DB: $CHECK_ERR"
            fi
        done
    fi

    pg_local_up
}

pg_down() {
    local pid
    if ! pid="$(pg_local_pid)"; then
        log "PostgreSQL: project-local not running"
        rm -f "$PG_MARKER"
        return 0
    fi
    pg_find_bin || die "PostgreSQL binaries not found; stop pid $pid yourself (kill -INT $pid)"
    PG_RUN_AS=""
    if ((EUID == 0)); then
        PG_RUN_AS="$(stat -c %U "$PG_DATA")"
        [[ "$PG_RUN_AS" != root ]] || PG_RUN_AS=""
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
        die "pg_ctl stop failed$(log_tail "$PG_LOG")"
    rm -f "$PG_MARKER"
    log "PostgreSQL: project-local stopped (pid $pid)"
}

pg_status() {
    local pid
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        echo "PostgreSQL project-local (.run/postgres): not created"
    elif pid="$(pg_local_pid)"; then
        echo "PostgreSQL project-local (.run/postgres): running, pid $pid, 127.0.0.1:$(pg_local_port)"
    elif [[ -f "$PG_MARKER" ]]; then
        echo "PostgreSQL project-local (.run/postgres): NOT running (was started, crashed or killed?)"
    else
        echo "PostgreSQL project-local (.run/postgres): stopped"
    fi
}

# ---------------------------------------------------------------------------
# Redis, project-local instance
# ---------------------------------------------------------------------------

# Port the project-local Redis was started on (from our marker), else the
# configured one.
redis_local_port() {
    local port=""
    [[ ! -r "$REDIS_MARKER" ]] || port="$(sed -n 's/^port=//p' "$REDIS_MARKER")"
    [[ "$port" =~ ^[0-9]+$ ]] || port="$REDIS_PORT"
    printf '%s' "$port"
}

# Print the pid of the running project-local redis-server; return 1 when none.
redis_local_pid() {
    local pid
    [[ -r "$REDIS_PIDFILE" ]] || return 1
    pid="$(head -n 1 "$REDIS_PIDFILE")"
    # Its process title is "redis-server 127.0.0.1:PORT".
    pid_matches "$pid" "redis" || return 1
    pid_matches "$pid" ":$(redis_local_port)" || return 1
    printf '%s\n' "$pid"
}

redis_local_up() {
    local state="already running" bin port url
    if ! bin="$(command -v redis-server)"; then
        if ((EUID == 0)); then
            apt_install redis-server
            # The Debian package starts its own service on 6379; left alone.
            bin="$(command -v redis-server)" || die "redis-server was installed but is not on PATH"
        else
            missing_package_help "redis-server"
        fi
    fi
    mkdir -p "$REDIS_DIR"

    port="$REDIS_PORT"
    if redis_local_pid >/dev/null; then
        port="$(redis_local_port)"
    else
        rm -f "$REDIS_PIDFILE"   # stale, if any
        # No persistence: everything in Redis can be rebuilt from PostgreSQL.
        "$bin" --daemonize yes --port "$port" --bind 127.0.0.1 \
            --dir "$REDIS_DIR" --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
            --save "" --appendonly no >/dev/null 9>&- ||
            die "redis-server failed to start$(log_tail "$REDIS_LOG")"
        printf 'project-local Redis started by scripts/services.sh\nport=%s\nstarted_at=%s\n' \
            "$port" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$REDIS_MARKER"
        state="started"
    fi
    if [[ "$port" != "$REDIS_PORT" ]]; then
        log "Note: the project-local Redis already runs on port $port (not $REDIS_PORT); 'down' then 'up' to move it"
    fi

    url="redis://127.0.0.1:$port/0"
    if ! wait_until 10 check redis "$url"; then
        die "the project-local Redis on port $port does not answer: $CHECK_ERR$(log_tail "$REDIS_LOG")"
    fi
    REDIS_URL_OUT="$url"
    REDIS_SUMMARY="project-local on 127.0.0.1:$port ($state)"
}

redis_up() {
    if [[ -n "${REDIS_URL:-}" ]]; then
        if ! wait_until 10 check redis "$REDIS_URL"; then
            die "REDIS_URL=$(mask_url "$REDIS_URL") does not answer PING: $CHECK_ERR
Fix it, or unset REDIS_URL to use a local Redis."
        fi
        REDIS_URL_OUT="$REDIS_URL"
        REDIS_SUMMARY="from REDIS_URL $(mask_url "$REDIS_URL")"
        return 0
    fi

    if [[ "$LOCAL_ONLY" != 1 ]] && check redis "redis://127.0.0.1:6379/0"; then
        REDIS_URL_OUT="redis://127.0.0.1:6379/0"
        REDIS_SUMMARY="already running at $REDIS_URL_OUT"
        return 0
    fi

    redis_local_up
}

redis_down() {
    local pid port
    if ! pid="$(redis_local_pid)"; then
        log "Redis: project-local not running"
        rm -f "$REDIS_MARKER" "$REDIS_PIDFILE"
        return 0
    fi
    port="$(redis_local_port)"
    if command -v redis-cli >/dev/null 2>&1; then
        redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    fi
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true   # save "" => nothing is written
    fi
    if ! wait_until 10 pid_gone "$pid"; then
        log "Redis pid $pid ignored SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$REDIS_MARKER" "$REDIS_PIDFILE"
    log "Redis: project-local stopped (pid $pid)"
}

redis_status() {
    local pid
    if pid="$(redis_local_pid)"; then
        echo "Redis project-local (.run/redis): running, pid $pid, 127.0.0.1:$(redis_local_port)"
    elif [[ -f "$REDIS_MARKER" ]]; then
        echo "Redis project-local (.run/redis): NOT running (was started, crashed or killed?)"
    else
        echo "Redis project-local (.run/redis): stopped"
    fi
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

# Create .run/ (ignored by git through its own .gitignore) and take a lock so
# two concurrent `up`/`down` runs do not race each other. The lock lives on
# file descriptor 9, which is closed (9>&-) for every daemon we spawn, or the
# daemon would hold the lock for its whole life.
prepare_run_dir() {
    mkdir -p "$RUN_DIR"
    [[ -f "$RUN_DIR/.gitignore" ]] || printf '*\n' >"$RUN_DIR/.gitignore"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$LOCK_FILE"
        flock -w 120 9 || die "another scripts/services.sh is still running (lock $LOCK_FILE)"
    fi
}

# Write .run/services.env atomically: plain KEY=VALUE, no quotes, no export,
# readable by `set -a; . file` and by django-environ's read_env.
write_env_file() {
    local key value
    for key in DATABASE_URL REDIS_URL; do
        if [[ "$key" == DATABASE_URL ]]; then value="$DATABASE_URL_OUT"; else value="$REDIS_URL_OUT"; fi
        if [[ ! "$value" =~ ^[A-Za-z0-9_@%+=:,./?~-]+$ ]]; then
            log "Warning: $key contains characters a shell would interpret; '. .run/services.env' may misread it"
        fi
    done
    TMP_FILE="$(mktemp "$RUN_DIR/.services.env.XXXXXX")"
    printf 'DATABASE_URL=%s\nREDIS_URL=%s\n' "$DATABASE_URL_OUT" "$REDIS_URL_OUT" >"$TMP_FILE"
    chmod 600 "$TMP_FILE"   # may contain passwords
    mv -f "$TMP_FILE" "$ENV_FILE"
    TMP_FILE=""
}

cmd_up() {
    [[ -x "$PYTHON" ]] || command -v "$PYTHON" >/dev/null 2>&1 ||
        die "$PYTHON not found (or not executable). Create the venv first:
    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
or set PYTHON to an interpreter that has psycopg 3 and redis-py."
    prepare_run_dir
    pg_up
    redis_up
    write_env_file
    log "PostgreSQL: $PG_SUMMARY"
    log "Redis: $REDIS_SUMMARY"
    log "Wrote ${ENV_FILE#"$ROOT"/}"
}

cmd_down() {
    prepare_run_dir
    pg_down
    redis_down
}

cmd_status() {
    local key value kind
    pg_status
    redis_status
    if [[ ! -f "$ENV_FILE" ]]; then
        echo "${ENV_FILE#"$ROOT"/}: missing (run scripts/services.sh up)"
        return 0
    fi
    echo "${ENV_FILE#"$ROOT"/}:"
    while IFS='=' read -r key value; do
        case "$key" in
        DATABASE_URL | REDIS_URL) ;;
        *) continue ;;
        esac
        kind=pg
        [[ "$key" == DATABASE_URL ]] || kind=redis
        if [[ -x "$PYTHON" ]] && check "$kind" "$value"; then
            echo "  $key=$(mask_url "$value")  (answers)"
        else
            echo "  $key=$(mask_url "$value")  (NOT answering)"
        fi
    done <"$ENV_FILE"
}

case "${1:-up}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
-h | --help | help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0" ;;
*)
    echo "usage: scripts/services.sh [up|down|status]" >&2
    exit 2
    ;;
esac
