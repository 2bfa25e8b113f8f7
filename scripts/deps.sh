#!/bin/sh
# Install every Debian package that pressctl's build, tests and local
# services need. Idempotent: packages already present are not touched, and
# nothing is downloaded when all are installed.
#
#   scripts/deps.sh            build + test + local-service dependencies
#
# Run as root or with sudo available. No standard input is read.
set -eu

PKGS="
build-essential pkg-config clang llvm libclang-rt-14-dev
libyaml-dev libjansson-dev libgit2-dev libpq-dev libcurl4-openssl-dev
libexpat1-dev libssl-dev libmicrohttpd-dev libpcre2-dev libcmocka-dev
python3 python3-pytest python3-jsonschema python3-yaml json-schema-test-suite
python3-prometheus-client python3-croniter
git valgrind lowdown groff-base man-db
postgresql-15 postgresql-client-15 docker.io busybox-static iptables
curl ca-certificates procps caddy chromium
debootstrap docker-compose prometheus
"

# kubectl renders the k8s/ overlays (kustomize is built in). Debian's
# kubernetes-client conflicts with a kubectl installed another way (dpkg
# file conflict): install it only where there is none.
command -v kubectl >/dev/null 2>&1 || PKGS="$PKGS kubernetes-client"

# Node.js runs s3rver (scripts/s3rver.sh). A machine may already have node
# and npm from another source (NodeSource): use those, do not replace them.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

# One dpkg-query for all: packages not installed are absent from the output
# or have another status.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null |
	awk '$NF == "installed" && $(NF-1) == "ok" { printf "%s ", $1 }') || true
missing=""
for p in $PKGS; do
	case " $installed" in
	*" $p "*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo -n"
fi

echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# The packages' maintainer scripts must not start the system-wide
# PostgreSQL cluster or Docker engine: scripts/services.sh runs private ones.
# A policy-rc.d that denies service starts is the Debian way to say so; it is
# removed again afterwards unless one was there before.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	trap '$SUDO rm -f "$policy"' EXIT
	trap 'exit 130' INT TERM
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
fi
$SUDO apt-get update -q >&2 || true
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >&2; then
	echo "deps: apt-get install failed; see its output above" >&2
	exit 1
fi
