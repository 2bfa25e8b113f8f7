#!/bin/sh
# Build the local test app images with `docker import` (no registry is
# needed) from Debian's busybox-static:
#
#   scripts/test-image.sh SOCKET [TAG]
#
# SOCKET is the Docker engine's unix socket (default $PRESS_DOCKER_SOCK).
# Without TAG it builds all three images below; with TAG only that one, the
# variant chosen by the tag (…:broken, …:2, anything else is version 1).
#
#   local/press-test-app:1       busybox httpd on port 8080 serving /www:
#                                  /            "press-test-app 1"
#                                  /healthz     200 "ok"
#                                  /version     "1"
#                                  /cgi-bin/env the container's environment
#   local/press-test-app:2       the same, version 2 (for rollout tests)
#   local/press-test-app:broken  the same without /healthz (404), for
#                                blue/green failure tests
#
# /cgi-bin/env prints, sorted, NAME=value for each variable the container was
# started with (except PATH, HOME, HOSTNAME, PWD, SHLVL), but for a
# secret-looking name (PASSWORD, PASSWD, SECRET, TOKEN, or ending in _KEY)
# only NAME.sha256=<hex SHA-256 of the value>; and a line
# password-sha256=<hex> for the first of PRESS_DB_PASSWORD, DB_PASSWORD,
# WORDPRESS_DB_PASSWORD, PASSWORD that is set. Tests can so check a
# password without it appearing in their output.
#
# The entrypoint forwards SIGTERM to httpd, so `docker stop` is immediate.
# Idempotent: an image whose label press.test-app.content equals the hash of
# its inputs (this script, busybox, the variant) is not rebuilt.
set -eu

SOCK=${1:-${PRESS_DOCKER_SOCK:-}}
ONLY=${2:-}
[ -n "$SOCK" ] || { echo "usage: $0 SOCKET [TAG]" >&2; exit 2; }
[ -S "$SOCK" ] || { echo "test-image: no Docker socket at $SOCK; run scripts/services.sh start first" >&2; exit 1; }
BUSYBOX=/bin/busybox
if ! { [ -x "$BUSYBOX" ] && "$BUSYBOX" --list | grep -qx httpd; }; then
	echo "test-image: $BUSYBOX with httpd is missing; run scripts/deps.sh (busybox-static)" >&2
	exit 1
fi

docker_() { docker -H "unix://$SOCK" "$@"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/press-test-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The file tree common to all variants, built once into $WORK/base.
base() {
	r=$WORK/base
	mkdir -p "$r/bin" "$r/www/cgi-bin" "$r/etc" "$r/tmp" "$r/root"
	chmod 1777 "$r/tmp"
	# One process makes all applet links (a loop of ln is slow); they point
	# at busybox's absolute path as this host sees it, so put it there too.
	"$BUSYBOX" --install -s "$r/bin"
	target=$(readlink "$r/bin/sh")
	case $target in /*) ;; *) echo "test-image: unexpected busybox link $target" >&2; exit 1 ;; esac
	mkdir -p "$r$(dirname "$target")"
	cp "$BUSYBOX" "$r$target"
	[ -e "$r/bin/busybox" ] || ln -s "$target" "$r/bin/busybox"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"

	cat >"$r/bin/press-start" <<-'EOF'
	#!/bin/sh
	# Record the environment the container was given, then serve /www.
	env >/tmp/press-env
	httpd -f -p 8080 -h /www &
	pid=$!
	trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' TERM INT
	wait $pid
	EOF
	chmod 755 "$r/bin/press-start"

	cat >"$r/www/cgi-bin/env" <<-'EOF'
	#!/bin/sh
	printf 'Content-Type: text/plain\r\n\r\n'
	sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
	while IFS= read -r line; do
		case $line in *=*) ;; *) continue ;; esac
		name=${line%%=*} value=${line#*=}
		case $name in
		PATH|HOME|HOSTNAME|PWD|SHLVL) continue ;;
		esac
		case $name in
		*PASSWORD*|*PASSWD*|*SECRET*|*TOKEN*|*_KEY)
			echo "$name.sha256=$(sha "$value")" ;;
		*)
			echo "$name=$value" ;;
		esac
	done </tmp/press-env | sort
	for n in PRESS_DB_PASSWORD DB_PASSWORD WORDPRESS_DB_PASSWORD PASSWORD; do
		if grep -q "^$n=" /tmp/press-env; then
			echo "password-sha256=$(sha "$(sed -n "s/^$n=//p" /tmp/press-env | head -n 1)")"
			break
		fi
	done
	EOF
	chmod 755 "$r/www/cgi-bin/env"
}

# rootfs VARIANT DIR: the file tree of one variant.
rootfs() {
	v=$1
	r=$2
	cp -a "$WORK/base" "$r"
	case $v in
	2) ver=2 ;;
	broken) ver=broken ;;
	*) ver=1 ;;
	esac
	printf '<!doctype html>\n<title>press-test-app %s</title>\n<p>press-test-app %s</p>\n' \
		"$ver" "$ver" >"$r/www/index.html"
	echo "$ver" >"$r/www/version"
	[ "$v" = broken ] || echo ok >"$r/www/healthz"
}

# The content label: a hash of this script and the busybox binary (all the
# inputs of the file tree) and the variant, known without building anything.
INPUTS=$(cat "$0" "$BUSYBOX" | sha256sum | cut -d' ' -f1)

# build TAG VARIANT
build() {
	tag=$1
	v=$2
	sum=$(printf '%s %s\n' "$INPUTS" "$v" | sha256sum | cut -d' ' -f1)
	have=$(docker_ image inspect \
		-f '{{.Id}} {{index .Config.Labels "press.test-app.content"}}' \
		"$tag" 2>/dev/null || true)
	old=${have%% *}
	have=${have#* }
	if [ "$have" = "$sum" ]; then
		echo "test-image: $tag is up to date" >&2
		return 0
	fi
	[ -d "$WORK/base" ] || base
	r=$WORK/$v
	rootfs "$v" "$r"
	tar -C "$r" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-cf "$WORK/$v.tar" .
	docker_ import \
		-c 'CMD ["/bin/press-start"]' \
		-c 'EXPOSE 8080' \
		-c 'ENV PATH=/bin' \
		-c "LABEL press.test-app.content=$sum press.test-app.variant=$v" \
		"$WORK/$v.tar" "$tag" >/dev/null
	# The image the tag named before, unless a container still uses it.
	[ -z "$old" ] || docker_ rmi "$old" >/dev/null 2>&1 || true
	echo "test-image: built $tag" >&2
}

variant_of() {
	case $1 in
	*:broken) echo broken ;;
	*:2) echo 2 ;;
	*) echo 1 ;;
	esac
}

if [ -n "$ONLY" ]; then
	build "$ONLY" "$(variant_of "$ONLY")"
else
	build local/press-test-app:1 1
	build local/press-test-app:2 2
	build local/press-test-app:broken broken
fi
