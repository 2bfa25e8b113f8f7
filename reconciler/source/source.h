/*
 * source.h - where manifests come from: a directory or a git tree.
 *
 * A source is read whole into memory before anything is parsed, so a
 * reconcile never acts on a half-read tree. Files are the *.yaml and *.yml
 * files under the root, sorted by path (bytewise) for a deterministic order.
 * Entries whose name starts with '.' (.git, .press, dotfiles) are skipped.
 *
 * Ownership: a struct source owns every string it points to; the file
 * paths and data stay valid until source_release(). Loaders take an
 * initialized (source_init) or released source and, on success, release
 * what it held and fill it; on error they leave it untouched, so a watcher
 * can keep serving the last good source. Nothing here prints.
 */
#ifndef PRESS_SOURCE_H
#define PRESS_SOURCE_H

#include <stddef.h>

#include "../util/err.h"

/* Caps that keep a hostile source from exhausting memory. */
#define SOURCE_MAX_FILE_BYTES ((size_t)16 << 20)
#define SOURCE_MAX_TOTAL_BYTES ((size_t)512 << 20)
#define SOURCE_MAX_FILES 100000

struct source_file {
	char *path; /* as shown in messages: "examples/frappe/site.yaml" */
	char *data; /* file contents, NUL-terminated (owned); may hold
			 * NUL bytes before len */
	size_t len;
};

struct source {
	char *label;	/* human description: "examples/frappe", "repo@main" */
	char *revision; /* git commit id, or "sha256:<hex>" of the content */
	struct source_file *files;
	size_t nfiles, alloc;
};

/* An empty source (all fields zero). */
void source_init(struct source *src);
/* Free everything the source owns and leave it empty (as source_init), so
 * it may be reused or released again. */
void source_release(struct source *src);

/*
 * Read every manifest file under the directory root, recursively. Paths
 * are shown as root joined with the relative path ("dir/" is not doubled;
 * root "." shows "x.yaml"). Symlinked files are read, symlinked
 * directories are not entered (no loops); FIFOs and devices are skipped.
 * If root is a regular file, just that file is read, whatever its name
 * (`pressctl validate one.yaml`). label = root as given; revision =
 * "sha256:<hex>" (see source_hash_revision). Fails on an unreadable root
 * ("cannot read source 'x': No such file or directory"), an unreadable
 * subdirectory or manifest (a dangling *.yaml symlink included: a file
 * that silently vanished would delete its environments), a file over
 * SOURCE_MAX_FILE_BYTES, or the total/count caps. An empty result is not
 * an error here (the caller decides: "no manifests" is an error for
 * reconcile).
 */
int source_load_dir(struct source *out, const char *root, struct err *e);

/*
 * Read every manifest file of the tree at ref in the repository at repo
 * (a work tree or a bare repository), under subdir when not NULL, without
 * a checkout. ref is anything git_revparse_single() understands (branch,
 * tag, sha, "HEAD~1"; NULL means HEAD), peeled to a commit. subdir may
 * also name one file, read whatever its name. Paths are shown relative to
 * the repository root ("manifests/platform.yaml"); revision = the 40-hex
 * commit id; label = "<repo>@<ref>". Submodules are skipped; a symlinked
 * *.yaml is an error (its target is not in the tree).
 *
 * Git hooks: with repo NULL or "." and GIT_DIR set, the repository is
 * opened from the environment exactly as git does (GIT_OBJECT_DIRECTORY,
 * GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_NAMESPACE...), so a pre-receive
 * hook sees the quarantined objects of the push. Otherwise the path is
 * opened (only "." or NULL searches upwards, as git does) and the object
 * directories named by those two variables, when set, are added to it:
 * reading sees the repository's objects and the hook's.
 *
 * Errors carry libgit2's message: "cannot resolve 'main' in '/srv/repo':
 * ...", "path 'x' not found at main". libgit2 is initialized and shut
 * down (reference-counted) within the call; no global state is left.
 */
int source_load_git(struct source *out, const char *repo, const char *ref,
		    const char *subdir, struct err *e);

/*
 * Add one in-memory file (tests, fuzzing). Copies path and data (borrowed).
 * Keeps the files sorted. Sets the revision to the content hash. Fails on
 * a duplicate path or the caps. O(n) per call: for a few files, not bulk.
 */
int source_add(struct source *src, const char *path, const void *data,
	       size_t len, struct err *e);

/* The git directory of a repository (the bare repository itself, or a
 * work tree's .git), without a trailing slash; free() *out (NULL on
 * error). repo is found as source_load_git finds it: NULL or "." with
 * GIT_DIR set is the repository of the environment. */
int source_git_dir(char **out, const char *repo, struct err *e);

/* Sort the files by shown path (bytewise), the order everything uses. */
void source_sort(struct source *src);

/*
 * Recompute src->revision as "sha256:<hex>" over the (path, length,
 * content) of the files, which must be sorted. Paths are taken relative
 * to the directory root named by src->label when they start with it, so
 * one tree read as "manifests", "manifests/" or "/srv/cfg/manifests" has
 * one revision, whatever the readdir order or timestamps.
 */
void source_hash_revision(struct source *src);

/* Is this a manifest file name (*.yaml or *.yml, case-sensitive, with a
 * non-empty stem)? */
int source_is_manifest_name(const char *name);

#endif
