/*
 * watch.c - inotify watchers for directory and git sources.
 *
 * inotify is not recursive: every directory of the tree gets a watch of
 * its own. A directory that appears later is watched first and scanned
 * second, so a file created in it before the watch existed is found by
 * the scan and one created after is reported by the watch (`mkdir -p
 * a/b && echo > a/b/x.yaml` cannot slip between the two). A directory
 * that leaves (deleted, moved away) drops its watches; one moved within
 * the tree is dropped and watched again under its new path, so kept
 * paths are never stale.
 *
 * Besides the tree, a few "anchors" watch one name in a directory: the
 * root's entry in its parent (a root replaced as a whole), a single-file
 * root, a git directory's HEAD and packed-refs. An event on an anchor
 * that may change what is watched (the root replaced, a queue overflow)
 * rebuilds everything by a mark-and-sweep rescan on the same inotify
 * descriptor, which the caller keeps polling.
 *
 * Watch descriptors are kept sorted for binary search; the kernel hands
 * them out increasing (cyclically), so a removed one is not reused soon
 * and late IN_IGNORED events for it match nothing.
 */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"
#include "source.h"
#include "../util/strbuf.h"

/* As the directory source: deeper trees are not read, so not watched. */
#define MAX_DEPTH 64
/* Reads per watcher_read call: bounds the work under an event storm. */
#define MAX_READS 64
#define MAX_ANCHORS 4
#define EVENT_BUF_SIZE (64 * 1024)

/* Everything that may change what a directory holds. IN_EXCL_UNLINK:
 * nothing from files already unlinked (a temporary file still open). */
#define DIR_EVENTS                                                \
	(IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM | \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK)
/* Events on a name that change a file's content or existence. */
#define NAME_EVENTS \
	(IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO)

enum watch_mode {
	MODE_DIR,  /* a directory tree of manifests */
	MODE_FILE, /* one manifest file */
	MODE_GIT,  /* the refs of a git repository */
};

/* A watched directory of the tree. */
struct wdir {
	int wd;
	int depth;    /* 0 for the tree root */
	unsigned gen; /* scan that last saw it (mark and sweep) */
	char *path;   /* as passed to inotify_add_watch */
};

/* One name watched in a directory. */
struct anchor {
	int wd;	    /* -1: the directory could not be watched */
	int rescan; /* an event rebuilds the watches */
	char *name;
};

struct watcher {
	int fd;
	enum watch_mode mode;
	char *root;   /* tree root: the directory, or <commondir>/refs;
				 * NULL for a single file */
	char *file;   /* MODE_FILE: the root as given */
	char *gitdir; /* MODE_GIT, without a trailing '/' */
	char *commondir;
	struct wdir *dirs; /* sorted by wd */
	size_t ndirs, alloc;
	struct anchor anchors[MAX_ANCHORS];
	size_t nanchors;
	unsigned gen;
	int want_rescan; /* set by an event, done after its batch */
	union {
		struct inotify_event ev; /* alignment */
		char bytes[EVENT_BUF_SIZE];
	} buf;
};

/* --- helpers ------------------------------------------------------------ */

static const char *
limit_hint(int errnum)
{
	if (errnum == ENOSPC)
		return " (raise the sysctl fs.inotify.max_user_watches)";
	if (errnum == EMFILE)
		return " (raise the sysctl fs.inotify.max_user_instances)";
	return "";
}

/* Running out of watches or memory is an error; anything else (the
 * directory vanished, became a symlink, is unreadable) is not: the next
 * load reports what it finds. */
static int
is_hard_error(int errnum)
{
	return errnum == ENOSPC || errnum == ENOMEM;
}

static char *
join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	if (n > 0 && dir[n - 1] == '/')
		return xprintf("%s%s", dir, name);
	return xprintf("%s/%s", dir, name);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/*
 * path made absolute lexically, "." components and doubled slashes
 * dropped: a later chdir of the process changes nothing, and symlinks
 * stay as given (a release symlink is watched as the link).
 */
static int
absolute(char **out, const char *path, struct err *e)
{
	char cwd[PATH_MAX], *o;
	struct strbuf sb;
	const char *p;

	*out = NULL;
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
		return err_set(e,
			       "cannot watch '%s': cannot get the current "
			       "directory: %s",
			       path, strerror(errno));
	strbuf_init(&sb, 0);
	if (path[0] != '/')
		strbuf_addstr(&sb, cwd);
	strbuf_addch(&sb, '/');
	strbuf_addstr(&sb, path);

	/* Keep the components other than "" and ".", in place. */
	o = sb.buf;
	p = sb.buf;
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n;
			continue;
		}
		*o++ = '/';
		memmove(o, p, n);
		o += n;
		p += n;
	}
	if (o == sb.buf)
		*o++ = '/';
	strbuf_setlen(&sb, (size_t)(o - sb.buf));
	*out = strbuf_detach(&sb, NULL);
	return 0;
}

/* Does a file of this name under the tree count? */
static int
counts(const struct watcher *w, const char *name)
{
	if (w->mode == MODE_GIT)
		return !ends_with(name, ".lock");
	return source_is_manifest_name(name);
}

/* --- the table of watched directories ----------------------------------- */

/* Index of wd in w->dirs, or where it would be inserted (*found 0). */
static size_t
dir_search(const struct watcher *w, int wd, int *found)
{
	size_t lo = 0, hi = w->ndirs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->dirs[mid].wd == wd) {
			*found = 1;
			return mid;
		}
		if (w->dirs[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static struct wdir *
dir_find(struct watcher *w, int wd)
{
	int found;
	size_t i = dir_search(w, wd, &found);

	return found ? &w->dirs[i] : NULL;
}

static void
dir_remove_at(struct watcher *w, size_t i)
{
	free(w->dirs[i].path);
	memmove(&w->dirs[i], &w->dirs[i + 1],
		(w->ndirs - i - 1) * sizeof(*w->dirs));
	w->ndirs--;
}

static int
is_anchor_wd(const struct watcher *w, int wd)
{
	for (size_t i = 0; i < w->nanchors; i++)
		if (w->anchors[i].wd == wd)
			return 1;
	return 0;
}

/* Stop watching wd unless something else still uses the watch (the
 * kernel gives one watch per inode and instance). */
static void
unwatch(struct watcher *w, int wd)
{
	if (wd >= 0 && !is_anchor_wd(w, wd) && dir_find(w, wd) == NULL)
		inotify_rm_watch(w->fd, wd); /* gone already: EINVAL */
}

/* Forget the directory at path and everything under it. */
static void
drop_tree(struct watcher *w, const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < w->ndirs;) {
		const char *p = w->dirs[i].path;

		if (strncmp(p, path, n) == 0 && (p[n] == '\0' || p[n] == '/')) {
			int wd = w->dirs[i].wd;

			dir_remove_at(w, i);
			unwatch(w, wd);
		} else {
			i++;
		}
	}
}

/* --- scanning ------------------------------------------------------------ */

/*
 * Watch the directory at path and, recursively, its subdirectories
 * (dot-entries skipped, symlinks not followed below the root), marking
 * them with gen. Sets *found when a file that counts is there. strict:
 * failing to watch path itself is an error (the root at open time);
 * otherwise only running out of watches is.
 */
static int
scan_tree(struct watcher *w, const char *path, int depth, unsigned gen,
	  int *found, int strict, struct err *e)
{
	uint32_t mask = DIR_EVENTS | IN_ONLYDIR;
	struct wdir *d;
	struct dirent *de;
	DIR *dir = NULL;
	size_t i;
	int wd, fd, in_table, ret = -1;

	if (depth > 0)
		mask |= IN_DONT_FOLLOW;
	wd = inotify_add_watch(w->fd, path, mask);
	if (wd < 0) {
		if (strict || is_hard_error(errno))
			return err_set(e, "cannot watch '%s': %s%s", path,
				       strerror(errno), limit_hint(errno));
		return 0;
	}

	i = dir_search(w, wd, &in_table);
	if (in_table) {
		d = &w->dirs[i];
		if (d->gen == gen)
			return 0; /* met twice in one scan: a bind mount
					 * loop; do not recurse again */
		free(d->path);
	} else {
		xgrow(&w->dirs, &w->alloc, w->ndirs + 1, sizeof(*w->dirs));
		memmove(&w->dirs[i + 1], &w->dirs[i],
			(w->ndirs - i) * sizeof(*w->dirs));
		w->ndirs++;
		d = &w->dirs[i];
		d->wd = wd;
	}
	d->path = xstrdup(path);
	d->depth = depth;
	d->gen = gen;

	/* Read it after the watch exists: what the scan misses, the watch
	 * reports. O_NOFOLLOW: a directory just swapped for a symlink is not
	 * entered. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				(depth > 0 ? O_NOFOLLOW : 0));
	if (fd < 0)
		return 0; /* vanished or unreadable: the load says */
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;
		int is_dir = de->d_type == DT_DIR;
		char *child;

		if (name[0] == '.') /* ".", "..", .git, dotfiles */
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(dir), name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			is_dir = S_ISDIR(st.st_mode);
		}
		if (!is_dir) {
			if (counts(w, name))
				*found = 1;
			continue;
		}
		if (depth >= MAX_DEPTH)
			continue;
		child = join(path, name);
		if (scan_tree(w, child, depth + 1, gen, found, 0, e) < 0) {
			free(child);
			goto out;
		}
		free(child);
	}
	ret = 0;
out:
	closedir(dir);
	return ret;
}

/* --- anchors --------------------------------------------------------------- */

static void
anchors_release(struct watcher *w)
{
	for (size_t i = 0; i < w->nanchors; i++)
		free(w->anchors[i].name);
	w->nanchors = 0;
}

/* Watch name in the directory dir. strict: failing is an error. */
static int
anchor_add(struct watcher *w, const char *dir, const char *name, int rescan,
	   int strict, struct err *e)
{
	struct anchor *a;
	int wd;

	wd = inotify_add_watch(w->fd, dir, DIR_EVENTS | IN_ONLYDIR);
	if (wd < 0 && (strict || is_hard_error(errno)))
		return err_set(e, "cannot watch '%s': %s%s", dir,
			       strerror(errno), limit_hint(errno));
	if (w->nanchors == MAX_ANCHORS)
		return 0; /* not reached: at most three are added */
	a = &w->anchors[w->nanchors++];
	a->wd = wd;
	a->rescan = rescan;
	a->name = xstrdup(name);
	return 0;
}

/*
 * Watch the entry of path in its parent directory. The split is lexical
 * ("cfg/current" -> "cfg", "current"), so a symlink is watched as the
 * link, not its target; a path ending in "." or ".." is resolved first.
 * The file system root has no parent: nothing to watch.
 */
static int
anchor_path(struct watcher *w, const char *path, int rescan, int strict,
	    struct err *e)
{
	char *copy = xstrdup(path), *resolved = NULL, *p, *slash;
	const char *dir, *name;
	size_t n = strlen(copy);
	int ret;

	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	slash = strrchr(copy, '/');
	name = slash ? slash + 1 : copy;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    *name == '\0') {
		resolved = realpath(copy, NULL);
		if (resolved == NULL) {
			ret = strict ? err_set(e, "cannot watch '%s': %s", path,
					       strerror(errno)) :
				       0;
			goto out;
		}
		p = resolved;
		slash = strrchr(p, '/');
		name = slash + 1; /* realpath is absolute */
	} else {
		p = copy;
	}
	if (*name == '\0') { /* "/" */
		ret = 0;
		goto out;
	}
	if (slash == NULL) {
		dir = ".";
	} else if (slash == p) {
		dir = "/";
	} else {
		*slash = '\0';
		dir = p;
	}
	ret = anchor_add(w, dir, name, rescan, strict, e);
out:
	free(resolved);
	free(copy);
	return ret;
}

static int
anchors_setup(struct watcher *w, int strict, struct err *e)
{
	struct stat st;

	anchors_release(w);
	switch (w->mode) {
	case MODE_DIR:
		/* A bonus: the tree is watched without it. */
		return anchor_path(w, w->root, 1, 0, e);
	case MODE_FILE:
		if (anchor_path(w, w->file, 1, strict, e) < 0)
			return -1;
		if (lstat(w->file, &st) == 0 && S_ISLNK(st.st_mode)) {
			char *target = realpath(w->file, NULL);
			int ret = 0;

			/* The target replaced is a change too; re-resolved
			 * at every event, as the link may be retargeted. */
			if (target != NULL)
				ret = anchor_path(w, target, 1, 0, e);
			free(target);
			return ret;
		}
		return 0;
	case MODE_GIT:
		if (anchor_add(w, w->gitdir, "HEAD", 0, strict, e) < 0 ||
		    anchor_add(w, w->commondir, "packed-refs", 0, strict, e) <
			    0 ||
		    anchor_add(w, w->commondir, "refs", 1, strict, e) < 0)
			return -1;
		return 0;
	}
	return 0;
}

/* --- rescan ------------------------------------------------------------------ */

/*
 * Set up every watch anew on the same descriptor: anchors re-resolved,
 * the tree scanned (watching an inode again returns its existing watch),
 * then whatever was not met is unwatched. strict: at open time, the root
 * and essential anchors must be watchable.
 */
static int
rescan(struct watcher *w, int strict, struct err *e)
{
	int old[MAX_ANCHORS];
	size_t nold = w->nanchors;
	unsigned gen = ++w->gen;
	int found = 0;

	for (size_t i = 0; i < nold; i++)
		old[i] = w->anchors[i].wd;
	if (anchors_setup(w, strict, e) < 0)
		return -1;
	if (w->root != NULL &&
	    scan_tree(w, w->root, 0, gen, &found, strict, e) < 0)
		return -1;

	for (size_t i = 0; i < w->ndirs;) {
		if (w->dirs[i].gen != gen) {
			int wd = w->dirs[i].wd;

			dir_remove_at(w, i);
			unwatch(w, wd);
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < nold; i++)
		unwatch(w, old[i]);

	/* Say so rather than go blind: the root and its directory gone. */
	for (size_t i = 0; i < w->nanchors; i++)
		if (w->anchors[i].wd >= 0)
			return 0;
	if (w->ndirs > 0)
		return 0;
	return err_set(e,
		       "cannot watch '%s' any more: neither it nor its "
		       "directory exists (watch it again once it is back)",
		       w->root ? w->root : w->file);
}

/* --- events ------------------------------------------------------------------ */

/* An event on an anchor's directory: 1 if it is about the anchored name
 * (or the directory itself went away). */
static int
anchor_event(struct watcher *w, const struct inotify_event *ev)
{
	int relevant = 0;

	for (size_t i = 0; i < w->nanchors; i++) {
		struct anchor *a = &w->anchors[i];
		int hit;

		if (a->wd < 0 || a->wd != ev->wd)
			continue;
		if (ev->mask & IN_IGNORED) {
			a->wd = -1;
			continue;
		}
		hit = (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) ||
		      (ev->len > 0 && (ev->mask & NAME_EVENTS) &&
		       strcmp(ev->name, a->name) == 0);
		if (!hit)
			continue;
		relevant = 1;
		if (a->rescan)
			w->want_rescan = 1;
	}
	return relevant;
}

/* A directory appeared under d (copied: scanning moves the table). */
static int
dir_appeared(struct watcher *w, const struct wdir *d, const char *name,
	     struct err *e)
{
	char *child;
	int depth = d->depth + 1, found = 0, ret;

	if (depth > MAX_DEPTH)
		return 0;
	child = join(d->path, name);
	ret = scan_tree(w, child, depth, ++w->gen, &found, 0, e);
	free(child);
	if (ret < 0)
		return -1;
	/* Any directory may hold manifests; under refs/, only one that
	 * already holds a ref (the rename into it reports the others). */
	return w->mode == MODE_DIR || found;
}

/* An event on a directory of the tree. */
static int
tree_event(struct watcher *w, const struct inotify_event *ev, struct err *e)
{
	struct wdir *d = dir_find(w, ev->wd);
	const char *name = ev->name;

	if (d == NULL)
		return 0;
	if (ev->mask & IN_IGNORED) {
		/* The directory is gone; its parent reported it. */
		dir_remove_at(w, (size_t)(d - w->dirs));
		return 0;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		if (d->depth > 0)
			return 0;   /* its parent reports it */
		w->want_rescan = 1; /* the root itself */
		return 1;
	}
	if (ev->len == 0 || name[0] == '.')
		return 0;

	if (ev->mask & IN_ISDIR) {
		if (ev->mask & (IN_CREATE | IN_MOVED_TO))
			return dir_appeared(w, d, name, e);
		if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
			char *child = join(d->path, name);

			drop_tree(w, child);
			free(child);
			/* Under refs/, a deleted directory only held
			 * refs whose deletion was reported already. */
			return w->mode == MODE_DIR ||
			       (ev->mask & IN_MOVED_FROM) != 0;
		}
		return 0;
	}
	return (ev->mask & NAME_EVENTS) && counts(w, name);
}

static int
handle(struct watcher *w, const struct inotify_event *ev, struct err *e)
{
	int relevant, r;

	if (ev->mask & IN_Q_OVERFLOW) {
		/* Events were lost, directories created among them: the
		 * caller reloads everything, the watches are rebuilt. */
		w->want_rescan = 1;
		return 1;
	}
	if (ev->mask & IN_UNMOUNT) {
		w->want_rescan = 1;
		return 1;
	}
	relevant = anchor_event(w, ev);
	if (w->mode == MODE_FILE)
		return relevant;
	r = tree_event(w, ev, e);
	if (r < 0)
		return -1;
	return relevant || r;
}

int
watcher_read(struct watcher *w, struct err *e)
{
	int relevant = 0;

	for (int reads = 0; reads < MAX_READS; reads++) {
		ssize_t n = read(w->fd, w->buf.bytes, sizeof(w->buf.bytes));
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return err_set(e, "cannot read file change events: %s",
				       strerror(errno));
		if (n == 0)
			break;
		w->want_rescan = 0;
		while (off + sizeof(struct inotify_event) <= (size_t)n) {
			const struct inotify_event *ev =
				(const struct inotify_event
					 *)(const void *)(w->buf.bytes + off);
			int r = handle(w, ev, e);

			if (r < 0)
				return -1;
			relevant |= r;
			off += sizeof(struct inotify_event) + ev->len;
		}
		if (w->want_rescan && rescan(w, 0, e) < 0)
			return -1;
	}
	return relevant;
}

/* --- open and free ------------------------------------------------------------ */

static int
watcher_new(struct watcher **out, const char *shown, struct err *e)
{
	struct watcher *w;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return err_set(e, "cannot watch '%s': %s%s", shown,
			       strerror(errno), limit_hint(errno));
	w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	*out = w;
	return 0;
}

int
watcher_open_dir(struct watcher **out, const char *root, struct err *e)
{
	struct watcher *w = NULL;
	struct stat st;
	int ret = -1;

	*out = NULL;
	if (stat(root, &st) < 0) {
		err_set(e, "cannot watch '%s': %s", root, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		err_set(e,
			"cannot watch '%s': not a directory or a regular "
			"file",
			root);
		goto out;
	}
	if (watcher_new(&w, root, e) < 0)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		w->mode = MODE_DIR;
		if (absolute(&w->root, root, e) < 0)
			goto out;
	} else {
		w->mode = MODE_FILE;
		if (absolute(&w->file, root, e) < 0)
			goto out;
	}
	if (rescan(w, 1, e) < 0)
		goto out;
	*out = w;
	w = NULL;
	ret = 0;
out:
	watcher_free(w);
	return ret;
}

/* The git directory and common directory of repo, opened as
 * source_load_git opens it (source_open_repo). */
static int
find_git_dirs(char **gitdir, char **commondir, const char *repo, struct err *e)
{
	git_repository *r = NULL;
	int inited, ret = -1;

	inited = git_libgit2_init();
	if (inited < 0) {
		err_set(e, "cannot initialize libgit2: %s", source_git_msg());
		goto out;
	}
	if (source_open_repo(&r, repo, 0, e) < 0)
		goto out;
	*gitdir = source_trim_slashes(git_repository_path(r));
	*commondir = source_trim_slashes(git_repository_commondir(r));
	ret = 0;
out:
	git_repository_free(r);
	if (inited >= 0)
		git_libgit2_shutdown();
	return ret;
}

int
watcher_open_git(struct watcher **out, const char *repo, struct err *e)
{
	struct watcher *w = NULL;
	const char *shown = source_repo_name(repo);
	char *gitdir = NULL, *commondir = NULL;
	int ret = -1;

	*out = NULL;
	if (find_git_dirs(&gitdir, &commondir, repo, e) < 0)
		goto out;
	if (watcher_new(&w, shown, e) < 0)
		goto out;
	w->mode = MODE_GIT;
	w->gitdir = gitdir;
	w->commondir = commondir;
	gitdir = commondir = NULL;
	w->root = join(w->commondir, "refs");
	if (rescan(w, 1, e) < 0)
		goto out;
	*out = w;
	w = NULL;
	ret = 0;
out:
	free(gitdir);
	free(commondir);
	watcher_free(w);
	return ret;
}

int
watcher_fd(const struct watcher *w)
{
	return w->fd;
}

void
watcher_free(struct watcher *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd); /* drops every watch */
	for (size_t i = 0; i < w->ndirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	anchors_release(w);
	free(w->root);
	free(w->file);
	free(w->gitdir);
	free(w->commondir);
	free(w);
}
