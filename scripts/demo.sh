#!/bin/sh
# The README's first command, after the build: start the private local
# services (PostgreSQL, s3rver, dockerd under .press/services), make the
# master key and the test app image, then reconcile manifests/ and print
# the status. Running it again converges nothing new: "no changes".
set -eu
cd "$(dirname "$0")/.."
PRESSCTL=${PRESSCTL:-bin/pressctl}

scripts/services.sh start
scripts/services.sh master-key .press/master.key
eval "$(scripts/services.sh env)"
scripts/test-image.sh "$PRESS_DOCKER_SOCK"
"$PRESSCTL" apply manifests
"$PRESSCTL" status manifests
echo "demo: stop the services with 'make services-stop'"
