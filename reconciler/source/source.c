/*
 * source.c - the in-memory source: files kept sorted by path, and the
 * content revision ("sha256:<hex>") that identifies what was read.
 */
#include "source.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/hash.h"
#include "../util/strbuf.h"

/* Bump when the revision scheme changes, so old and new never collide. */
#define REVISION_SCHEME "press-source-v1\n"

void
source_init(struct source *src)
{
	memset(src, 0, sizeof(*src));
}

void
source_release(struct source *src)
{
	for (size_t i = 0; i < src->nfiles; i++) {
		free(src->files[i].path);
		free(src->files[i].data);
	}
	free(src->files);
	free(src->label);
	free(src->revision);
	source_init(src);
}

static int
cmp_path(const void *a, const void *b)
{
	const struct source_file *x = a, *y = b;

	return strcmp(x->path, y->path);
}

void
source_sort(struct source *src)
{
	if (src->nfiles > 1)
		qsort(src->files, src->nfiles, sizeof(*src->files), cmp_path);
}

int
source_is_manifest_name(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

/*
 * How much of path to leave out of the revision: the directory root a
 * directory source was loaded from (its label), so that the same tree read
 * as "manifests", "manifests/" or "/srv/config/manifests" has one revision.
 * A single-file root keeps only its base name.
 */
static size_t
root_prefix_len(const char *label, const char *path)
{
	size_t n;

	if (label == NULL)
		return 0;
	if (strcmp(path, label) == 0) {
		const char *slash = strrchr(path, '/');

		return slash ? (size_t)(slash - path) + 1 : 0;
	}
	n = strlen(label);
	while (n > 1 && label[n - 1] == '/')
		n--;
	if (n == 1 && label[0] == '.')
		return 0;
	if (strncmp(path, label, n) != 0)
		return 0;
	if (label[n - 1] == '/') /* root "/" */
		return n;
	return path[n] == '/' ? n + 1 : 0;
}

/*
 * The revision hashes one line per file, "path NUL length NUL sha256(data)",
 * in path order. Hashing each file on its own keeps the input of the final
 * hash small (no copy of all contents) and the NULs keep it unambiguous:
 * a path cannot contain NUL.
 */
void
source_hash_revision(struct source *src)
{
	char hex[SHA256_HEX_LEN + 1];
	struct strbuf sb;

	strbuf_init(&sb, SIZE_MAX / 2);
	strbuf_addstr(&sb, REVISION_SCHEME);
	for (size_t i = 0; i < src->nfiles; i++) {
		const struct source_file *f = &src->files[i];

		hash_sha256_hex(hex, f->data, f->len);
		strbuf_addstr(&sb,
			      f->path + root_prefix_len(src->label, f->path));
		strbuf_addch(&sb, '\0');
		strbuf_addf(&sb, "%zu", f->len);
		strbuf_addch(&sb, '\0');
		strbuf_addstr(&sb, hex);
		strbuf_addch(&sb, '\n');
	}
	hash_sha256_hex(hex, sb.buf, sb.len);
	strbuf_reset(&sb);
	strbuf_addf(&sb, "sha256:%s", hex);
	free(src->revision);
	src->revision = strbuf_detach(&sb, NULL);
}

int
source_add(struct source *src, const char *path, const void *data, size_t len,
	   struct err *e)
{
	struct source_file *f;
	size_t lo = 0, hi = src->nfiles, total = 0;

	if (len > SOURCE_MAX_FILE_BYTES)
		return err_set(e,
			       "file '%s' is too large (%zu bytes; the limit "
			       "is %zu MiB): split it into smaller files",
			       path, len, SOURCE_MAX_FILE_BYTES >> 20);
	if (src->nfiles >= SOURCE_MAX_FILES)
		return err_set(e, "too many manifest files (more than %d)",
			       SOURCE_MAX_FILES);
	for (size_t i = 0; i < src->nfiles; i++)
		total += src->files[i].len;
	if (len > SOURCE_MAX_TOTAL_BYTES - total)
		return err_set(e,
			       "manifests are too large (more than %zu MiB "
			       "in all)",
			       SOURCE_MAX_TOTAL_BYTES >> 20);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(src->files[mid].path, path);

		if (c == 0)
			return err_set(e, "duplicate file '%s'", path);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}

	xgrow(&src->files, &src->alloc, src->nfiles + 1, sizeof(*src->files));
	memmove(&src->files[lo + 1], &src->files[lo],
		(src->nfiles - lo) * sizeof(*src->files));
	src->nfiles++;
	f = &src->files[lo];
	f->path = xstrdup(path);
	f->data = xmalloc(len + 1);
	if (len)
		memcpy(f->data, data, len);
	f->data[len] = '\0';
	f->len = len;

	source_hash_revision(src);
	return 0;
}
