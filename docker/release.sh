#!/bin/sh
# Server-side release steps for HOMOLOG and PRODUÇÃO, one per CI step (guide §4.3, §4.4, §12).
# Lives in /opt/contab next to compose.server.yaml; CI calls it over SSH and an operator can run
# the same steps by hand (docs/deploy.md). Every step stops at the first error.
#
#   release.sh ship IMAGE      save the current release, point release.env at IMAGE, pull
#   release.sh check           contab check: refuses an unsafe configuration
#   release.sh backup          contab backup (production: before anything changes)
#   release.sh dry-run         contab migrate --dry-run: prints the SQL to review
#   release.sh pause           contab workers pause: critical pools stop taking runs
#   release.sh migrate         contab migrate
#   release.sh deploy          contab deploy: work pools + every deployment of prefect.yaml
#   release.sh up              recreate changed services, wait until healthy, reload nginx
#   release.sh resume          contab workers resume
#   release.sh scheduler       "reiniciar scheduler": see below
#   release.sh smoke URL       contab smoke --url URL
#   release.sh rollback        back to the image saved by the last `ship`
#   release.sh status          docker compose ps
set -eu

cd "$(dirname "$0")"
COMPOSE="docker compose --env-file release.env -f compose.server.yaml"

ops() {
    # One-shot container of the release image with the environment's env file.
    $COMPOSE run --rm -T ops "$@"
}

current_image() {
    sed -n 's/^CONTAB_IMAGE=//p' release.env 2>/dev/null || true
}

step="${1:?usage: release.sh STEP [ARG] (see the header of this file)}"
shift

case "$step" in
    ship)
        image="${1:?usage: release.sh ship IMAGE}"
        # A re-run of the same release must not overwrite the real previous one.
        if [ -f release.env ] && [ "$(current_image)" != "$image" ]; then
            cp release.env release.previous.env
        fi
        printf 'CONTAB_IMAGE=%s\n' "$image" > release.env.new
        mv release.env.new release.env
        $COMPOSE pull --quiet
        ;;
    check) ops contab check ;;
    backup) ops contab backup ;;
    dry-run) ops contab migrate --dry-run ;;
    pause) ops contab workers pause ;;
    migrate) ops contab migrate ;;
    deploy) ops contab deploy ;;
    up)
        # Workers drain on SIGTERM for up to their stop_grace_period, hence the long wait.
        $COMPOSE up -d --remove-orphans --wait --wait-timeout 900
        # nginx resolves the api-N names at (re)load: pick up recreated containers' addresses.
        $COMPOSE exec -T nginx nginx -s reload
        ;;
    resume) ops contab workers resume ;;
    scheduler)
        # Prefect schedules are server-side: the scheduler is a service inside prefect-server.
        # `contab deploy` replaced each deployment's schedules and Prefect dropped their future
        # auto-scheduled runs; the scheduler loop (60 s) creates them again. Restart the server
        # only if its image or config changed (a no-op otherwise), then wait for upcoming runs.
        $COMPOSE up -d --no-deps --wait prefect-server
        tries=0
        while [ "$tries" -lt 30 ]; do
            if ops prefect flow-run ls --state-type SCHEDULED --limit 1 -o json | grep -q '"id"'; then
                echo "scheduler ok: upcoming runs exist"
                exit 0
            fi
            tries=$((tries + 1))
            sleep 5
        done
        echo "scheduler: no scheduled flow run appeared within 150 s" >&2
        exit 1
        ;;
    smoke) ops contab smoke --url "${1:?usage: release.sh smoke URL}" ;;
    rollback)
        if [ ! -f release.previous.env ]; then
            echo "rollback: no previous release recorded" >&2
            exit 1
        fi
        cp release.env release.failed.env
        cp release.previous.env release.env
        echo "rolling back to $(current_image)"
        $COMPOSE up -d --remove-orphans --wait --wait-timeout 900
        $COMPOSE exec -T nginx nginx -s reload
        ops contab workers resume
        ;;
    status) $COMPOSE ps ;;
    *)
        echo "unknown step: $step" >&2
        exit 2
        ;;
esac
