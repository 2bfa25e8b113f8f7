#!/bin/sh
# Turn a Markdown manual page of docs/man into a roff man page (man(7)).
#
#   scripts/md2man.sh docs/man/pressctl-plan.md build/man/pressctl-plan.1 [VERSION]
#
# The page's first line is its title, `# NAME(SECTION)`; its "## " headings
# become the page's sections. lowdown(1) does the conversion; the sed
# below only fits its output to an 80-column terminal without warnings
# (man -l --warnings, groff -ww):
# - the text is set ragged-right (.ad l): justifying the narrow columns of
#   a table leaves lines that cannot be adjusted;
# - tables span the line width with columns that share it (tbl's x
#   modifier) instead of the global "expand", which sets text blocks too
#   wide for a five-column table;
# - in table cells, a break point (\:) follows each / . , = _ : inside a
#   word, so that a long name (schema/validate.schema.json) can break;
# - outside tables, code (\fC) is not hyphenated (\%): a path or an
#   option is not cut by a hyphen that is not part of it.
set -eu

in=$1
out=$2
version=${3:-}

title=$(head -n 1 "$in")
name=$(printf '%s\n' "$title" | sed -n 's/^# \([a-z0-9-]*\)(\([1-8]\))$/\1/p')
section=$(printf '%s\n' "$title" | sed -n 's/^# \([a-z0-9-]*\)(\([1-8]\))$/\2/p')
if [ -z "$name" ] || [ -z "$section" ]; then
	echo "md2man: $in: the first line must be '# NAME(SECTION)', not '$title'" >&2
	exit 1
fi

tmp="$out.tmp"
trap 'rm -f "$tmp"' EXIT
tail -n +2 "$in" |
	lowdown -s -tman --nroff-nolinks --parse-no-metadata \
		-M "title:$name" -M "section:$section" -M shiftheadinglevelby:-1 \
		-M "source:pressctl${version:+ $version}" -M "volume:pressctl Manual" |
	sed -e '/^\.TH /a\
.ad l' \
		-e 's/^tab(|) expand allbox;$/tab(|) allbox;/' \
		-e '/^l\( l\)*\.$/s/ l/ lx/g' \
		-e '/^T{$/,/^T}$/!s/\\fC/\\fC\\%/g' \
		-e '/^T{$/,/^T}$/{/^[.T]/!s/\([/.,=_:]\)\([^ ]\)/\1\\:\2/g;}' >"$tmp"
mv "$tmp" "$out"
trap - EXIT
