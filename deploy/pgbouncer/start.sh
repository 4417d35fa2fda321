#!/bin/sh
# PgBouncer in front of the primary, configured from the environment (compose service `pgbouncer`,
# and the CI smoke run, which runs this same script). Two pools reach the same database:
#   $PGBOUNCER_DB_ALIAS           transaction pooling, for the web (DATABASE_POOL_MODE=transaction)
#   ${PGBOUNCER_DB_ALIAS}_session session pooling, for Celery workers, beat, migrations and commands,
#                                 which need a session of their own (server-side cursors, advisory
#                                 locks, SET, temporary tables across transactions)
# The web's per-session settings (no JIT, no parallel workers) are set on each new server connection
# of its pool (connect_query): PgBouncer 1.18 refuses the `options` startup parameter.
set -eu
: "${PGBOUNCER_DB_HOST:?}" "${PGBOUNCER_DB_NAME:?}" "${PGBOUNCER_DB_USER:?}" "${PGBOUNCER_DB_PASSWORD:?}"
port="${PGBOUNCER_DB_PORT:-5432}"
alias="${PGBOUNCER_DB_ALIAS:-medreg}"
run="${PGBOUNCER_RUN_DIR:-/tmp/pgbouncer}"
here="$(cd "$(dirname "$0")" && pwd)"
web_options="${PGBOUNCER_WEB_CONNECT_QUERY:-SET jit = off; SET max_parallel_workers_per_gather = 0}"
mkdir -p "$run"
umask 077
target="host=$PGBOUNCER_DB_HOST port=$port dbname=$PGBOUNCER_DB_NAME"
cat > "$run/pgbouncer.ini" <<INI
[databases]
$alias = $target pool_mode=transaction connect_query='$web_options'
${alias}_session = $target pool_mode=session pool_size=${PGBOUNCER_SESSION_POOL_SIZE:-10}
%include $here/pgbouncer.ini
listen_addr = ${PGBOUNCER_LISTEN_ADDR:-*}
listen_port = ${PGBOUNCER_LISTEN_PORT:-6432}
auth_file = $run/userlist.txt
pidfile = $run/pgbouncer.pid
INI
# The same password authenticates clients (SCRAM) and PgBouncer to the server.
printf '"%s" "%s"\n' "$PGBOUNCER_DB_USER" "$PGBOUNCER_DB_PASSWORD" > "$run/userlist.txt"
exec pgbouncer "$run/pgbouncer.ini"
