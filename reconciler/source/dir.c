/*
 * dir.c - read the manifests under a directory (or one named file).
 *
 * The walk works on directory descriptors (openat with O_NOFOLLOW), so a
 * directory swapped for a symlink while we read is not followed either.
 * Symlinked files are read; symlinked directories are not entered, which
 * rules out loops.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/strbuf.h"

/* Deeper trees are a mistake or an attack; each level holds a descriptor. */
#define MAX_DEPTH 64

struct walk {
	struct source *src;
	const char *root;   /* as given, for messages */
	struct strbuf path; /* shown path being visited; a directory's
				 * prefix ends in '/' (empty for root ".") */
	size_t total;	    /* bytes read so far */
};

static int
too_large(struct err *e, const char *shown, size_t len, int grew)
{
	return err_set(e,
		       "file '%s' is too large (%s%zu bytes; the limit is "
		       "%zu MiB): split it into smaller files",
		       shown, grew ? "over " : "", len,
		       SOURCE_MAX_FILE_BYTES >> 20);
}

/*
 * Read the open file fd (closed by the caller) under its shown path.
 * Anything but a regular file is skipped: a FIFO named x.yaml must not
 * block the load.
 */
static int
read_fd(struct walk *w, int fd, const char *shown, struct err *e)
{
	struct source *src = w->src;
	struct source_file *f;
	struct stat st;
	char *data = NULL;
	size_t len = 0, alloc;
	int ret = -1;

	if (fstat(fd, &st) < 0) {
		err_set(e, "cannot read '%s': %s", shown, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = 0;
		goto out;
	}
	if ((size_t)st.st_size > SOURCE_MAX_FILE_BYTES) {
		too_large(e, shown, (size_t)st.st_size, 0);
		goto out;
	}
	if (src->nfiles >= SOURCE_MAX_FILES) {
		err_set(e,
			"source '%s' has too many manifest files (more "
			"than %d)",
			w->root, SOURCE_MAX_FILES);
		goto out;
	}

	/* One spare byte beyond the size notices a file that grew. */
	alloc = (size_t)st.st_size + 2;
	data = xmalloc(alloc);
	for (;;) {
		ssize_t n;

		if (alloc - len < 2) {
			alloc *= 2;
			data = xrealloc(data, alloc);
		}
		n = read(fd, data + len, alloc - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(e, "cannot read '%s': %s", shown,
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SOURCE_MAX_FILE_BYTES) {
			too_large(e, shown, len, 1);
			goto out;
		}
	}
	data[len] = '\0';

	if (len > SOURCE_MAX_TOTAL_BYTES - w->total) {
		err_set(e,
			"source '%s' is too large (more than %zu MiB of "
			"manifests)",
			w->root, SOURCE_MAX_TOTAL_BYTES >> 20);
		goto out;
	}
	w->total += len;

	xgrow(&src->files, &src->alloc, src->nfiles + 1, sizeof(*src->files));
	f = &src->files[src->nfiles++];
	f->path = xstrdup(shown);
	f->data = data;
	f->len = len;
	data = NULL;
	ret = 0;
out:
	free(data);
	return ret;
}

/* Read the entry name of the directory dirfd if it is a manifest file. */
static int
visit_file(struct walk *w, int dirfd, const char *name, const char *shown,
	   struct err *e)
{
	int fd, ret;

	if (!source_is_manifest_name(name))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return err_set(e, "cannot read '%s': %s", shown,
			       strerror(errno));
	ret = read_fd(w, fd, shown, e);
	close(fd);
	return ret;
}

/* The directory whose shown path is the first base bytes of w->path. */
static int
dir_error(struct walk *w, size_t base, int errnum, struct err *e)
{
	if (base <= 1)
		return err_set(e, "cannot read directory '%s': %s", w->root,
			       strerror(errnum));
	return err_set(e, "cannot read directory '%.*s': %s", (int)(base - 1),
		       w->path.buf, strerror(errnum));
}

/* Walk the directory open at dirfd (taken over and closed here). */
static int
walk_dir(struct walk *w, int dirfd, int depth, struct err *e)
{
	size_t base = w->path.len;
	struct dirent *de;
	DIR *d;
	int ret = -1;

	d = fdopendir(dirfd);
	if (d == NULL) {
		dir_error(w, base, errno, e);
		close(dirfd);
		return -1;
	}
	for (;;) {
		const char *name;
		struct stat st;
		int is_dir, is_reg, is_link;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				dir_error(w, base, errno, e);
				goto out;
			}
			break;
		}
		name = de->d_name;
		if (name[0] == '.') /* ".", "..", .git, .press, dotfiles */
			continue;

		strbuf_setlen(&w->path, base);
		strbuf_addstr(&w->path, name);

		is_dir = de->d_type == DT_DIR;
		is_reg = de->d_type == DT_REG;
		is_link = de->d_type == DT_LNK;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) <
			    0) {
				err_set(e, "cannot read '%s': %s", w->path.buf,
					strerror(errno));
				goto out;
			}
			is_dir = S_ISDIR(st.st_mode);
			is_reg = S_ISREG(st.st_mode);
			is_link = S_ISLNK(st.st_mode);
		}

		if (is_link) {
			/* A symlinked file is read, a symlinked directory is
			 * skipped; a dangling link named *.yaml is an error
			 * rather than a manifest that silently vanished. */
			if (!source_is_manifest_name(name))
				continue;
			if (fstatat(dirfd, name, &st, 0) < 0) {
				err_set(e, "cannot read '%s': %s", w->path.buf,
					strerror(errno));
				goto out;
			}
			if (!S_ISREG(st.st_mode))
				continue;
			is_reg = 1;
		}

		if (is_reg) {
			if (visit_file(w, dirfd, name, w->path.buf, e) < 0)
				goto out;
		} else if (is_dir) {
			int sub;

			if (depth >= MAX_DEPTH) {
				err_set(e,
					"directory '%s' is nested too deeply "
					"(more than %d levels)",
					w->path.buf, MAX_DEPTH);
				goto out;
			}
			sub = openat(dirfd, name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			if (sub < 0) {
				if (errno == ELOOP || errno == ENOTDIR)
					continue; /* became a symlink */
				err_set(e, "cannot read directory '%s': %s",
					w->path.buf, strerror(errno));
				goto out;
			}
			strbuf_addch(&w->path, '/');
			if (walk_dir(w, sub, depth + 1, e) < 0)
				goto out;
		}
		/* sockets, FIFOs, devices: not manifests */
	}
	ret = 0;
out:
	strbuf_setlen(&w->path, base);
	closedir(d);
	return ret;
}

int
source_load_dir(struct source *out, const char *root, struct err *e)
{
	struct source src;
	struct walk w;
	struct stat st;
	size_t rootlen = strlen(root);
	int fd, dirfd, ret = -1;

	source_init(&src);
	w.src = &src;
	w.root = root;
	w.total = 0;
	strbuf_init(&w.path, 0);

	fd = open(root, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err_set(e, "cannot read source '%s': %s", root,
			strerror(errno));
		goto out;
	}

	if (S_ISREG(st.st_mode)) {
		/* One named file, whatever its name: `validate one.yaml`. */
		if (read_fd(&w, fd, root, e) < 0)
			goto out;
	} else if (S_ISDIR(st.st_mode)) {
		/* Shown paths: root + "/" + relative path, without doubling a
		 * trailing '/' and without a "./" prefix for root ".". */
		while (rootlen > 1 && root[rootlen - 1] == '/')
			rootlen--;
		if (!(rootlen == 1 && root[0] == '.')) {
			strbuf_add(&w.path, root, rootlen);
			if (root[rootlen - 1] != '/')
				strbuf_addch(&w.path, '/');
		}
		dirfd = fd;
		fd = -1; /* walk_dir closes it */
		if (walk_dir(&w, dirfd, 0, e) < 0)
			goto out;
	} else {
		err_set(e,
			"cannot read source '%s': not a directory or a "
			"regular file",
			root);
		goto out;
	}

	source_sort(&src);
	src.label = xstrdup(root); /* before the hash: see source.c */
	source_hash_revision(&src);

	source_release(out);
	*out = src;
	source_init(&src);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	strbuf_release(&w.path);
	source_release(&src);
	return ret;
}
