#!/bin/sh
# The README's first command, after the build: start the private local
# services (PostgreSQL, s3rver, dockerd and Caddy under .press/services),
# make the master key and the test app image, then reconcile manifests/,
# back up what its BackupPolicy covers (demo/production), list the
# backups, print the status and fetch demo.localhost through the ingress.
# Running it again converges nothing new ("no changes") and takes one more
# backup (only its changed files are stored again).
set -eu
cd "$(dirname "$0")/.."
PRESSCTL=${PRESSCTL:-bin/pressctl}

scripts/services.sh start
scripts/services.sh master-key .press/master.key
eval "$(scripts/services.sh env)"
scripts/test-image.sh "$PRESS_DOCKER_SOCK"
"$PRESSCTL" apply manifests
"$PRESSCTL" backup run manifests
"$PRESSCTL" backup list manifests
"$PRESSCTL" status manifests
# manifests/domain.yaml: demo.localhost through the ingress (Caddy, on the
# port manifests/platform.yaml gives it).
echo "demo: curl --resolve demo.localhost:48580:127.0.0.1 http://demo.localhost:48580/"
curl -fsS --retry 5 --retry-connrefused --retry-delay 1 \
	--resolve demo.localhost:48580:127.0.0.1 http://demo.localhost:48580/
echo "demo: for more commands against these services, run"
echo "  eval \"\$(scripts/services.sh env)\"; $PRESSCTL plan manifests"
echo "demo: stop the services with 'make services-stop'"
