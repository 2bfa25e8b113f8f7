#!/bin/sh
# The README's first command, after the build: start the private local
# services (PostgreSQL, s3rver, dockerd under .press/services), make the
# master key and the test app image, then reconcile manifests/, back up
# what its BackupPolicy covers (demo/production), list the backups and
# print the status. Running it again converges nothing new ("no
# changes") and takes one more backup (only its changed files are
# stored again).
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
echo "demo: for more commands against these services, run"
echo "  eval \"\$(scripts/services.sh env)\"; $PRESSCTL plan manifests"
echo "demo: stop the services with 'make services-stop'"
