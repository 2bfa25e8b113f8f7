#!/bin/bash
# Build pressctl's container image without any registry:
#
#   scripts/image.sh [base|pressctl|all|local|services]   (default all; `make image`)
#
#   base      a Debian bookworm root made with debootstrap (minbase), kept
#             as a tarball in the cache, `docker import`ed as
#             pressctl-base:bookworm; every image of the project starts
#             from it (image/Dockerfile, compose/images/*/Dockerfile)
#   pressctl  the multi-stage build of image/Dockerfile: a builder stage
#             (the base + Debian's compiler and -dev packages) runs
#             `make`, a runtime stage (the base + the runtime libraries
#             only, no compiler) gets bin/pressctl; tagged
#             pressctl:VERSION and pressctl:latest
#   local     pressctl, and the images of compose/compose.local.yaml from
#             compose/images/*/Dockerfile (PostgreSQL, Redis, Caddy,
#             s3rver from scripts/s3rver.sh's install)
#   services  those four only
#
# The engine is DOCKER_HOST's (unix://PATH); unset, the project's private
# engine (scripts/services.sh start, socket /tmp/pressctl-demo/docker.sock).
# Packages come from the Debian archive through apt inside the builds
# (the build containers use the host's network).
#
# Cache: PRESS_CACHE_DIR, default ${XDG_CACHE_HOME:-~/.cache}/pressctl:
#   debian-bookworm-minbase.tar    the debootstrapped root (made once)
#   images/NAME-HASH.tar           `docker save` of each built image, keyed
#                                  by the hash of its inputs: a new engine
#                                  (a test session's) loads it instead of
#                                  building again
# Delete the directory to start over. PRESS_DEBIAN_MIRROR overrides the
# mirror (default: the first one of the host's apt sources).
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pressctl}
SUITE=bookworm
BASE_TAG=pressctl-base:$SUITE
BASE_TAR=$CACHE/debian-$SUITE-minbase.tar
VERSION=$(sed -n 's/^#define PRESSCTL_VERSION "\(.*\)"$/\1/p' "$REPO/reconciler/cmd/cmd.h")

die() {
	echo "image: $*" >&2
	exit 1
}

what=${1:-all}
case $what in base|pressctl|all|local|services) ;; *) die "usage: $0 [base|pressctl|all|local|services]" ;; esac
[ -n "$VERSION" ] || die "no PRESSCTL_VERSION in reconciler/cmd/cmd.h"

if [ -z "${DOCKER_HOST:-}" ]; then
	"$REPO/scripts/services.sh" start >&2
	eval "$("$REPO/scripts/services.sh" env)"
fi
export DOCKER_HOST
# The engine is Debian's 20.10: the classic builder (no BuildKit plugin
# needed) builds multi-stage Dockerfiles.
export DOCKER_BUILDKIT=0
command -v docker >/dev/null 2>&1 || die "docker is missing; run scripts/deps.sh"
docker version >/dev/null 2>&1 || die "no Docker engine answers at $DOCKER_HOST; start one (scripts/services.sh start)"

mirror() {
	local m=${PRESS_DEBIAN_MIRROR:-}
	if [ -z "$m" ]; then
		m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
			grep -v security | head -n 1) || true
	fi
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

# The tarball of a debootstrapped bookworm (minbase), made once.
base_tar() {
	local m root
	[ -s "$BASE_TAR" ] && return 0
	command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing; run scripts/deps.sh"
	[ "$(id -u)" -eq 0 ] || die "debootstrap needs root (run as root, or sudo $0 base)"
	m=$(mirror)
	mkdir -p "$CACHE"
	root=$(mktemp -d "$CACHE/root.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$root'" EXIT
	echo "image: debootstrap $SUITE (minbase) from $m into $root" >&2
	if ! debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$m" \
		>"$CACHE/debootstrap.log" 2>&1; then
		tail -n 25 "$CACHE/debootstrap.log" >&2
		die "debootstrap failed (log: $CACHE/debootstrap.log)"
	fi
	printf 'deb %s %s main\ndeb %s %s-updates main\n' "$m" "$SUITE" "$m" "$SUITE" \
		>"$root/etc/apt/sources.list"
	# apt in a build: no recommends, no documentation but the copyright
	# files, no translations: smaller layers.
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
		>"$root/etc/apt/apt.conf.d/90pressctl"
	printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
		'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
		'path-exclude=/usr/share/locale/*' >"$root/etc/dpkg/dpkg.cfg.d/90pressctl"
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
	tar -C "$root" --numeric-owner -cf "$BASE_TAR.tmp" .
	mv "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf "$root"
	trap - EXIT
	echo "image: cached $BASE_TAR" >&2
}

# has_image TAG SUM: TAG exists with label press.image.content=SUM
has_image() {
	[ "$(docker image inspect -f '{{index .Config.Labels "press.image.content"}}' "$1" 2>/dev/null || true)" = "$2" ]
}

# The cache file name of an image: its repository, / as _.
cache_name() {
	local n=${1%%:*}
	echo "${n//\//_}"
}

# from_cache TAG SUM: loaded from the saved tarball if there is one
from_cache() {
	local f=$CACHE/images/$(cache_name "$1")-$2.tar
	[ -s "$f" ] || return 1
	docker load -i "$f" >/dev/null || return 1
	has_image "$1" "$2"
}

save_cache() { # SUM TAG...
	local sum=$1 f
	shift
	mkdir -p "$CACHE/images"
	f=$CACHE/images/$(cache_name "$1")-$sum.tar
	rm -f "$CACHE/images/$(cache_name "$1")"-*.tar
	docker save -o "$f.tmp" "$@" && mv "$f.tmp" "$f"
}

base_image() {
	local sum
	base_tar
	sum=$(sha256sum "$BASE_TAR" | cut -c1-16)
	if has_image "$BASE_TAG" "$sum"; then
		echo "image: $BASE_TAG is up to date" >&2
		return 0
	fi
	docker import -c 'CMD ["/bin/bash"]' \
		-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
		-c "LABEL press.image.content=$sum" \
		"$BASE_TAR" "$BASE_TAG" >/dev/null
	echo "image: imported $BASE_TAG" >&2
}

# tree_sum PATH...: a hash of the files (tracked and not) under PATHs of
# the repository, and of the base image they build on.
tree_sum() {
	{
		docker image inspect -f '{{.Id}}' "$BASE_TAG"
		cd "$REPO"
		find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	} | sha256sum | cut -c1-16
}

# build TAG SUM CONTEXT DOCKERFILE [TAG2]: docker build unless TAG carries
# SUM already or the cache has it; saved to the cache after a build.
build() {
	local tag=$1 sum=$2 ctx=$3 file=$4 also=${5:-} name log
	name=${tag%%:*}
	name=${name##*/}
	if has_image "$tag" "$sum" || from_cache "$tag" "$sum"; then
		[ -z "$also" ] || docker tag "$tag" "$also"
		echo "image: $tag is up to date" >&2
		return 0
	fi
	log=$CACHE/build-$name.log
	mkdir -p "$CACHE"
	echo "image: building $tag (log: $log)" >&2
	if ! docker build --network host -f "$file" \
		--build-arg "BASE=$BASE_TAG" --label "press.image.content=$sum" \
		-t "$tag" ${also:+-t "$also"} "$ctx" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "docker build of $tag failed (log: $log)"
	fi
	# shellcheck disable=SC2086
	save_cache "$sum" "$tag" $also ||
		echo "image: could not save $tag to $CACHE/images (not fatal)" >&2
	echo "image: built $tag" >&2
}

pressctl_image() {
	build "pressctl:$VERSION" "$(tree_sum Makefile image reconciler schema)" \
		"$REPO" "$REPO/image/Dockerfile" pressctl:latest
}

# The images of compose/compose.local.yaml (tags as named there).
local_images() {
	local d=$REPO/compose/images bin
	bin=$("$REPO/scripts/s3rver.sh") || die "s3rver: installation failed (see above)"
	rm -rf "$d/s3rver/node_modules"
	cp -a "${bin%/s3rver/bin/s3rver.js}" "$d/s3rver/node_modules"
	build pressctl-local/postgres:15 "$(tree_sum compose/images/postgres)" \
		"$d/postgres" "$d/postgres/Dockerfile"
	build pressctl-local/redis:7 "$(tree_sum compose/images/redis)" \
		"$d/redis" "$d/redis/Dockerfile"
	build pressctl-local/caddy:2.6 "$(tree_sum compose/images/caddy)" \
		"$d/caddy" "$d/caddy/Dockerfile"
	build pressctl-local/s3rver:3.7.1 "$(tree_sum compose/images/s3rver)" \
		"$d/s3rver" "$d/s3rver/Dockerfile"
}

base_image
case $what in
pressctl|all) pressctl_image ;;
local) pressctl_image; local_images ;;
services) local_images ;;
esac
