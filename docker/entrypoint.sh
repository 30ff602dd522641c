#!/bin/sh
# contab container entrypoint: the first argument names the role the container plays.
#
#   api                 uvicorn app.api.main:app on :8000          (health: /api/live)
#   worker POOL         prefect worker for POOL, type process      (health: :8080/health)
#   prefect-server      Prefect server + UI on :4200               (health: /api/health)
#   migrate [--dry-run] contab migrate (one-shot)
#   deploy              contab deploy: work pools + `prefect deploy --all` (one-shot)
#   check               contab check: refuses an unsafe configuration (one-shot)
#   anything else       executed as given, e.g. `contab workers pause`
#
# The health URL of the role is written to a file read by docker/healthcheck.py, because a
# HEALTHCHECK runs outside this process and cannot see variables exported here.
set -eu

HEALTH_FILE="${CONTAB_HEALTHCHECK_FILE:-/app/var/healthcheck-url}"

health() {
    printf '%s\n' "$1" > "$HEALTH_FILE"
}

# Prefect 3.9.1's worker does not exit on a first SIGTERM or SIGINT, even when idle (it turns
# the signal into a SIGINT to itself and keeps running; a second signal SIGKILLs it — checked
# on this version). Docker sends one signal, so without help every stop would last the whole
# stop_grace_period. On SIGTERM this waits until the worker has no flow-run child process left
# (process workers run each flow run as a child), then sends the second signal.
has_children() {
    for stat in /proc/[0-9]*/stat; do
        # Fields: pid (comm) state ppid … — comm of our processes has no spaces.
        { read -r _ _ _ ppid _ < "$stat"; } 2>/dev/null || continue
        [ "$ppid" = "$1" ] && return 0
    done
    return 1
}

drain_worker() {
    kill -TERM "$1" 2>/dev/null || return 0
    while has_children "$1"; do
        sleep 2
    done
    kill -TERM "$1" 2>/dev/null || true
}

role="${1:-api}"
[ "$#" -gt 0 ] && shift

case "$role" in
    api)
        health "http://127.0.0.1:${API_PORT:-8000}/api/live"
        # Uvicorn reads WEB_CONCURRENCY for its process count; proxy headers come from nginx.
        exec uvicorn app.api.main:app --host 0.0.0.0 --port "${API_PORT:-8000}" \
            --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" "$@"
        ;;
    worker)
        pool="${1:?usage: worker POOL (default|notificacoes|guias|documentos)}"
        shift
        health "http://127.0.0.1:${PREFECT_WORKER_WEBSERVER_PORT:-8080}/health"
        # Pools are created by `contab deploy`, never here (a missing pool is polled for).
        # WORKER_LIMIT: this worker's own run slots (`--limit`, exact). The pool's limit is
        # applied by the server when workers poll, so several workers polling together can
        # overshoot it; set WORKER_LIMIT so the workers' sum is the pool's limit
        # (docs/multi-host.md "Concurrency").
        prefect worker start --pool "$pool" --type process \
            --name "${pool}-$(hostname)" --with-healthcheck \
            ${WORKER_LIMIT:+--limit "$WORKER_LIMIT"} \
            --install-policy never --no-create-pool-if-not-found "$@" &
        worker_pid=$!
        trap 'drain_worker "$worker_pid"' TERM INT
        # `wait` returns early when a trapped signal arrives; loop until the worker is gone.
        status=0
        while kill -0 "$worker_pid" 2>/dev/null; do
            wait "$worker_pid" || status=$?
        done
        exit "$status"
        ;;
    prefect-server)
        health "http://127.0.0.1:${PREFECT_SERVER_API_PORT:-4200}/api/health"
        exec prefect server start --host 0.0.0.0 --port "${PREFECT_SERVER_API_PORT:-4200}" "$@"
        ;;
    migrate | deploy | check)
        health none
        exec contab "$role" "$@"
        ;;
    *)
        health none
        exec "$role" "$@"
        ;;
esac
