#!/usr/bin/env bash
# Start/stop a throwaway PostgreSQL cluster for the test suite.
#
#   scripts/pg_throwaway.sh start   DIR   # initdb (first time) + start; prints the URL on stdout
#   scripts/pg_throwaway.sh stop    DIR   # pg_ctl stop -m fast (no-op when not running)
#   scripts/pg_throwaway.sh restart DIR   # stop, then start again on the same port, keeping data
#
# `start` and `restart` print exactly one line on stdout:
#     postgresql://postgres@127.0.0.1:PORT/pmbot_test
# Everything else (progress, errors) goes to stderr.
#
# Layout inside DIR:
#   DIR/data        the cluster (initdb -U postgres, trust auth, tuned for speed, not durability)
#   DIR/sock        unix socket directory
#   DIR/log         server log (pg_ctl -l)
#   DIR/initdb.log  initdb output
#   DIR/port        the TCP port the cluster listens on (127.0.0.1 only)
#
# The PostgreSQL server refuses to run as root: when this script runs as root it creates
# (if missing) the unprivileged system user "pmbot-pg", chowns DIR to it and runs
# initdb/pg_ctl/psql through `runuser -u pmbot-pg --`.
#
# Binaries: $PG_BINDIR if set, else `pg_config --bindir`, else the newest
# /usr/lib/postgresql/*/bin, else whatever initdb is on PATH.
set -euo pipefail

PROG=$(basename "$0")
PG_USER=pmbot-pg
DB_NAME=pmbot_test
FIRST_PORT=55432

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}
note() {
    echo "$PROG: $*" >&2
}
usage() {
    echo "usage: $PROG {start|stop|restart} DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
case "$CMD" in
    start | stop | restart) ;;
    *) usage ;;
esac
[ -n "$DIR" ] || die "DIR must not be empty"

# --------------------------------------------------------------------------- binaries
find_bindir() {
    local d
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        echo "$PG_BINDIR"
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        # On Debian pg_config may come from libpq-dev alone, without a server: check initdb.
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$d" ] && [ -x "$d/initdb" ]; then
            echo "$d"
            return
        fi
    fi
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return
    fi
    if command -v initdb >/dev/null 2>&1; then
        # may be a symlink (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/NN/bin/initdb)
        dirname "$(readlink -f "$(command -v initdb)")"
        return
    fi
    die "PostgreSQL server binaries not found (no initdb via pg_config --bindir," \
        "/usr/lib/postgresql/*/bin or PATH); install them, e.g. apt-get install postgresql"
}

BINDIR=$(find_bindir)
for b in initdb pg_ctl; do
    [ -x "$BINDIR/$b" ] || die "$BINDIR/$b not found or not executable"
done
PSQL=$BINDIR/psql
if [ ! -x "$PSQL" ]; then
    PSQL=$(command -v psql) || die "psql not found (neither in $BINDIR nor on PATH)"
fi

# --------------------------------------------------------------------------- paths
if [ "$CMD" = start ]; then
    mkdir -p -- "$DIR" || die "cannot create $DIR"
fi
[ -d "$DIR" ] || die "$DIR is not a directory"
DIR=$(cd -- "$DIR" && pwd -P) || die "cannot resolve $DIR"
DATA=$DIR/data
SOCK=$DIR/sock
LOG=$DIR/log
PORT_FILE=$DIR/port

# --------------------------------------------------------------------------- user logic
AS_ROOT=0
if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=1
fi

ensure_pg_user() {
    if id -u "$PG_USER" >/dev/null 2>&1; then
        return
    fi
    command -v useradd >/dev/null 2>&1 || die "running as root but useradd is missing: cannot create user $PG_USER"
    if ! useradd -r -M -d /nonexistent -s /usr/sbin/nologin -c "throwaway PostgreSQL for PM Bot tests" \
        "$PG_USER" >&2; then
        # Another concurrent start may have created it in the meantime.
        id -u "$PG_USER" >/dev/null 2>&1 || die "could not create system user $PG_USER"
    fi
}

# Run a PostgreSQL binary as the right user.  cd to DIR first so the unprivileged user
# never inherits an unreadable cwd (e.g. /root), which makes initdb/pg_ctl complain.
run_pg() {
    if [ "$AS_ROOT" -eq 1 ]; then
        (cd -- "$DIR" && runuser -u "$PG_USER" -- "$@")
    else
        (cd -- "$DIR" && "$@")
    fi
}

if [ "$AS_ROOT" -eq 1 ]; then
    command -v runuser >/dev/null 2>&1 || die "running as root but runuser is missing (util-linux)"
    ensure_pg_user
fi

# As root, hand DIR to the unprivileged user (before initdb / pg_ctl start).
prepare_dir_for_pg_user() {
    [ "$AS_ROOT" -eq 1 ] || return 0
    if [ "$DIR" != / ] && ! runuser -u "$PG_USER" -- test -x "$(dirname -- "$DIR")"; then
        die "user $PG_USER cannot reach $DIR (a parent directory is not traversable," \
            "e.g. under /root); use a directory under /tmp, e.g. \$(mktemp -d)"
    fi
    chown -R "$PG_USER": "$DIR" || die "cannot chown $DIR to $PG_USER"
}

# --------------------------------------------------------------------------- helpers
is_cluster() {
    [ -f "$DATA/PG_VERSION" ]
}

is_running() {
    # pg_ctl status: 0 = running, 3 = not running, 4 = no/invalid data directory
    run_pg "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

pick_port() {
    # First free TCP port on 127.0.0.1 from $1 upward.
    local first=$1 last=$(($1 + 500)) p
    if command -v python3 >/dev/null 2>&1; then
        p=$(python3 - "$first" "$last" 2>/dev/null <<'EOF'
import socket, sys
for port in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
EOF
        ) || p=
        if [ -n "$p" ]; then
            echo "$p"
            return
        fi
    fi
    # Fallback (no usable python3): a port nobody accepts connections on.
    for ((p = first; p <= last; p++)); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    die "no free TCP port in $first..$last"
}

sql_quote() {
    # single-quote a string for postgresql.conf
    local s=${1//\'/\'\'}
    printf "'%s'" "$s"
}

write_conf() {
    local port=$1 sockdirs
    # Unix socket paths are limited to 107 bytes; DIR/sock/.s.PGSQL.PORT must fit.
    if [ $((${#SOCK} + 18)) -lt 107 ]; then
        sockdirs=$SOCK
    else
        note "warning: $SOCK is too long for a unix socket; unix sockets disabled (TCP only)"
        sockdirs=
    fi
    cat >"$DATA/pg_throwaway.conf" <<EOF
# Written by scripts/pg_throwaway.sh -- throwaway test cluster, NOT durable.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $(sql_quote "$sockdirs")
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if [ "$AS_ROOT" -eq 1 ]; then
        chown "$PG_USER": "$DATA/pg_throwaway.conf"
    fi
    echo "$port" >"$PORT_FILE"
}

init_cluster() {
    if [ -e "$DATA" ]; then
        die "$DATA exists but is not a PostgreSQL cluster"
    fi
    mkdir -p -- "$SOCK"
    if [ "$AS_ROOT" -eq 1 ]; then
        chown "$PG_USER": "$SOCK"
    fi
    # Byte-wise collation like SQLite's default, but a UTF-8 ctype so lower()/upper()/ILIKE
    # handle non-ASCII text.
    local ctype=C
    # (no grep -q: with pipefail an early exit could SIGPIPE the producer)
    if locale -a 2>/dev/null | grep -iE '^C\.utf-?8$' >/dev/null; then
        ctype=C.UTF-8
    fi
    note "initdb ($BINDIR/initdb) in $DATA"
    if ! run_pg "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 \
        --locale=C --lc-ctype="$ctype" --no-instructions >"$DIR/initdb.log" 2>&1; then
        cat "$DIR/initdb.log" >&2 || true
        die "initdb failed (output above, also in $DIR/initdb.log)"
    fi
    echo "include = 'pg_throwaway.conf'" >>"$DATA/postgresql.conf"
}

start_server() {
    # -s: no progress chatter; -t: generous timeout for slow CI machines.
    run_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 -s start >&2
}

psql_cmd() {
    local port=$1
    shift
    run_pg "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

ensure_database() {
    local port=$1 exists
    exists=$(psql_cmd "$port" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ||
        die "cannot connect to the server on 127.0.0.1:$port (see $LOG)"
    if [ "$exists" != "1" ]; then
        psql_cmd "$port" -d postgres -c "CREATE DATABASE $DB_NAME" >&2 ||
            die "CREATE DATABASE $DB_NAME failed"
    fi
}

print_url() {
    echo "postgresql://postgres@127.0.0.1:$1/$DB_NAME"
}

show_log_tail() {
    if [ -f "$LOG" ]; then
        echo "----- last lines of $LOG -----" >&2
        tail -n 30 "$LOG" >&2 || true
        echo "------------------------------" >&2
    fi
}

# --------------------------------------------------------------------------- commands
do_start() {
    local port fresh=0 attempt log_lines
    prepare_dir_for_pg_user
    if ! is_cluster; then
        init_cluster
        fresh=1
    fi
    if is_running; then
        port=$(cat "$PORT_FILE" 2>/dev/null) || die "server is running but $PORT_FILE is missing"
        note "already running on port $port"
        ensure_database "$port"
        print_url "$port"
        return
    fi
    if [ "$fresh" -eq 0 ] && [ -s "$PORT_FILE" ]; then
        # Existing cluster (e.g. restart): keep its port.
        port=$(cat "$PORT_FILE")
        write_conf "$port"
        if ! start_server; then
            show_log_tail
            die "could not start the server on port $port"
        fi
    else
        port=$FIRST_PORT
        for attempt in 1 2 3 4 5; do
            port=$(pick_port "$port")
            write_conf "$port"
            log_lines=0
            if [ -f "$LOG" ]; then
                log_lines=$(wc -l <"$LOG")
            fi
            if start_server; then
                break
            fi
            # Lost a race for the port with another process: try the next one.
            if [ "$attempt" -lt 5 ] &&
                tail -n "+$((log_lines + 1))" "$LOG" 2>/dev/null | grep "could not bind" >/dev/null; then
                note "port $port got taken, retrying with another one"
                port=$((port + 1))
                continue
            fi
            show_log_tail
            die "could not start the server (port $port)"
        done
    fi
    ensure_database "$port"
    print_url "$port"
}

do_stop() {
    if ! is_cluster; then
        die "no PostgreSQL cluster in $DATA"
    fi
    if ! is_running; then
        note "not running ($DATA)"
        return
    fi
    if ! run_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 -s stop >&2; then
        note "fast shutdown failed, trying immediate"
        run_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 60 -s stop >&2 ||
            die "could not stop the server in $DATA"
    fi
}

case "$CMD" in
    start) do_start ;;
    stop) do_stop ;;
    restart)
        is_cluster || die "no PostgreSQL cluster in $DATA (use start first)"
        do_stop
        do_start
        ;;
esac
