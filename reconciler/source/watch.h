/*
 * watch.h - knowing when a source changed, without polling; keeping a
 * local mirror of a remote git source.
 *
 * A watcher gives a descriptor to poll(); it becomes readable when
 * something under the source may have changed. watcher_read drains it
 * and says whether a change is relevant (a manifest file, a ref).
 * Debouncing is the caller's (the watch loop waits a short quiet time,
 * then reloads the whole source: a watcher says *that* something
 * changed, never *what*). The descriptor stays the same for the
 * watcher's whole life, so it may be kept in a poll set or an epoll
 * instance.
 *
 * What a watcher cannot see, the periodic resync of watch mode must
 * catch: the target of a symlinked manifest outside the watched tree
 * changing, a tree deeper than the directory source reads, network
 * file systems (inotify only sees local changes).
 *
 * Ownership: a watcher owns its descriptor and every path it keeps;
 * watcher_free releases them. Arguments are borrowed (copied where
 * kept). Nothing here prints.
 */
#ifndef PRESS_WATCH_H
#define PRESS_WATCH_H

#include "../util/err.h"

struct watcher;

/*
 * Watch a directory tree recursively with inotify: manifest files
 * (*.yaml, *.yml) created, written, moved or deleted, and directories
 * created (watched from then on, their contents scanned), moved or
 * removed. Dot-entries are skipped and symlinked directories are not
 * entered, like the directory source does; temporary and backup names
 * (x.yaml~, vim's 4913, x.yaml.tmp) are not relevant, the rename of
 * one onto x.yaml is. The root's entry in its parent directory is
 * watched too, so a root replaced as a whole (a release symlink
 * switched, the directory removed and created again) is seen and
 * watched anew.
 *
 * A single-file root watches that file through its directory, so
 * editors that replace it (write a temporary file, rename it over) are
 * seen; when the root is a symlink, the target's name in its directory
 * is watched as well.
 *
 * Errors: the root cannot be read or is neither a directory nor a
 * regular file ("cannot watch 'x': No such file or directory"), or the
 * inotify limits are reached (the message names the sysctl to raise).
 */
int watcher_open_dir(struct watcher **out, const char *root, struct err *e);

/*
 * Watch a local git repository (a work tree, a bare repository, or
 * NULL/"." opened as source_load_git opens it, GIT_DIR included) for
 * ref updates, as a commit, a push, a fetch or `git pack-refs` makes
 * them: every file under refs/ (nested: refs/heads/feature/x), and
 * packed-refs and HEAD replaced. Lock files (*.lock) and everything
 * else in the git directory (index, objects, description, logs) are not
 * relevant. Errors carry libgit2's message.
 */
int watcher_open_git(struct watcher **out, const char *repo, struct err *e);

/* The descriptor to poll for POLLIN (non-blocking, close-on-exec; owned
 * by the watcher: do not close it). */
int watcher_fd(const struct watcher *w);

/*
 * Drain pending events: 1 if a relevant change happened, 0 if not, -1
 * on error (e). Never blocks; does a bounded amount of work per call
 * (if events are still pending, the descriptor stays readable). A
 * queue overflow counts as a relevant change (events were lost: reload
 * everything) and the watches are rebuilt. After an error (the inotify
 * watch limit reached while adding a new directory) the watcher keeps
 * working on what it watches; the caller should reload and rely on its
 * periodic resync, or open a new watcher.
 */
int watcher_read(struct watcher *w, struct err *e);

void watcher_free(struct watcher *w); /* accepts NULL */

/*
 * A remote git source (URL: https://, ssh://, file://, git@host:path;
 * a plain local path works too): keep a bare mirror of it under
 * cache_dir (created with its parents, mode 0700) and fetch every
 * branch and tag into it under the same names (forced, pruned: a branch
 * deleted upstream disappears), with libgit2. The mirror's HEAD
 * follows the remote's default branch. *path receives the mirror's path
 * (cache_dir/<first 16 hex of the SHA-256 of the URL without its
 * credentials>.git; free() it) for source_load_git; on error *path is
 * NULL. The first call clones (into a temporary folder renamed into
 * place, so a mirror is never half-made); later calls fetch.
 *
 * Credentials: user:password@ in an https URL is used for the request
 * but never written to disk (the mirror's origin URL has none) and
 * never shown: messages name the URL without its credentials, and the
 * library's message is scrubbed of them. ssh URLs authenticate with the
 * ssh agent. Errors: "cannot fetch 'https://host/x.git': ...", transient
 * (e->transient) for network failures and a locked mirror.
 */
int source_mirror(char **path, const char *url, const char *cache_dir,
		  struct err *e);

/*
 * Does this --git argument name a remote (a URL) rather than a path?
 * True for "scheme://..." and, as git decides, for scp-like
 * "[user@]host:path" (a ':' before any '/'); false for paths, including
 * ones with a ':' after a '/' ("./a:b", "/srv/a:b").
 */
int source_is_remote(const char *repo);

#endif
