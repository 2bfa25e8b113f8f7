/*
 * gitwrite.h - write one commit to a config repository, and push it:
 * what promote and rollback leave behind (DESIGN §5, §7). libgit2 only;
 * no git program is run.
 *
 * The flow a command follows: gitwrite_tip() reads the branch's commit;
 * source_load_git() reads the manifests at exactly that commit;
 * yamledit.h changes them; gitwrite_commit() writes the new files as one
 * commit on top of that commit, and only if the branch still points at
 * it (compare-and-swap: no update made meanwhile is lost);
 * gitwrite_push() publishes the branch.
 *
 * What is written, in this order: the blobs, trees and the commit (new
 * objects: nothing refers to them yet), then the branch, moved from the
 * expected commit to the new one under libgit2's lock of the ref
 * (refs/heads/<b>.lock, renamed over the ref: atomic), then - only
 * when the branch is checked out in the work tree opened - the edited
 * files and their index entries. A failure before the branch moves
 * leaves the repository as it was (at most unreferenced objects, which
 * git gc removes). A process killed at any point leaves the branch at
 * the old commit or the new one, never anything else; see
 * docs/gitwrite.md for each window and its repair.
 *
 * Ownership: request fields are borrowed; result structs own what they
 * point to and are freed with their _release (which leaves them empty).
 * Nothing here prints. libgit2 is initialized and shut down within each
 * call.
 */
#ifndef PRESS_SOURCE_GITWRITE_H
#define PRESS_SOURCE_GITWRITE_H

#include <stddef.h>

#include "../util/err.h"

/* Room for a commit id in hex (40 for SHA-1, 64 for SHA-256) and NUL. */
#define GITWRITE_ID_SIZE 72

/* Author and committer when the repository's config has no user.name
 * and user.email (both are needed; one alone is not used). */
#define GITWRITE_FALLBACK_NAME "pressctl"
#define GITWRITE_FALLBACK_EMAIL "pressctl@localhost"

/* A branch and the commit it points at. */
struct gitwrite_tip {
	char *ref;		       /* "refs/heads/main" (owned) */
	char commit[GITWRITE_ID_SIZE]; /* hex; "" while the branch has no
					* commit yet */
};

void gitwrite_tip_release(struct gitwrite_tip *t);

/*
 * The branch to write to, and its commit. repo is a work tree, its .git
 * or a bare repository, opened as given (not searched for upwards; see
 * gitwrite_locate). branch is "main" or "refs/heads/main"; NULL means
 * the branch HEAD points at (a detached HEAD is then an error: name the
 * branch). A branch that does not exist yet is not an error: commit ""
 * (the first commit creates it).
 */
int gitwrite_tip(struct gitwrite_tip *out, const char *repo, const char *branch,
		 struct err *e);

/*
 * The repository holding the directory dir (searched upwards, as git
 * does): *repo receives its work tree's root (or, for a bare
 * repository, its own path), *prefix the path of dir inside it ("" at
 * the root, else "manifests/", with a trailing slash), both new strings
 * (NULL on error). Symbolic links in dir are resolved first.
 */
int gitwrite_locate(char **repo, char **prefix, const char *dir, struct err *e);

/* One file of the commit. */
struct gitwrite_file {
	const char *path; /* from the repository root, '/'-separated:
			   * "envs/acme.yaml"; no ".", "..", ".git", empty
			   * or trailing segments */
	const char *data; /* the new content; NULL deletes the file */
	size_t len;
};

/* "Key: value" in the trailer block of the message (git
 * interpret-trailers): key of letters, digits and '-', value one line. */
struct gitwrite_trailer {
	const char *key, *value;
};

struct gitwrite_commit {
	const char *repo;   /* as gitwrite_tip takes it */
	const char *branch; /* as gitwrite_tip takes it */
	/* The commit the edits were made from (hex, as gitwrite_tip gave
	 * it; "" for a branch without commits). The branch must still
	 * point at it, or nothing is written. NULL: whatever it points at
	 * when read here - no protection against a concurrent update. */
	const char *expect;
	const struct gitwrite_file *files;
	size_t nfiles;
	const char *subject; /* one line, not empty */
	const char *body;    /* NULL, or paragraphs */
	const struct gitwrite_trailer *trailers;
	size_t ntrailers;
	/* Author and committer (one signature, the time from
	 * util/clock.h). NULL: user.name and user.email from the
	 * repository's config (with the global and system files), else
	 * GITWRITE_FALLBACK_NAME and _EMAIL. */
	const char *name, *email;
};

/* What became of the work tree. */
enum gitwrite_worktree {
	/* A bare repository, or a branch not checked out here: only the
	 * branch moved; no file or index was touched. */
	GITWRITE_WT_NONE,
	/* The branch is checked out: the edited files and their index
	 * entries now hold the commit's content; nothing else changed. */
	GITWRITE_WT_UPDATED,
	/* The branch is checked out, but the files could not be updated
	 * after the commit (note says why and what to run). The commit
	 * stands; the files are as they were. */
	GITWRITE_WT_STALE,
};

struct gitwrite_result {
	struct gitwrite_tip tip;       /* the branch and its new commit */
	char parent[GITWRITE_ID_SIZE]; /* the commit it replaced; "" */
	int changed; /* 0: the files already held that content; nothing
		      * was written and tip.commit is the old commit */
	enum gitwrite_worktree worktree;
	char note[512]; /* GITWRITE_WT_STALE: what failed, the repair */
};

void gitwrite_result_release(struct gitwrite_result *r);

/*
 * Write c->files as one commit on c->branch, its parent the branch's
 * commit (none for a branch without commits). The message is the
 * subject, a blank line, the body, a blank line and the trailers, one
 * "Key: value" line each; it is parsed back (git_message_trailers) and
 * must give exactly those trailers. A file keeps its mode (executable
 * or not); a new file is a regular one. Files that already hold the
 * content given: changed = 0, nothing is written.
 *
 * Refused before anything is written: an invalid path, subject or
 * trailer; a path that is a directory, symbolic link or submodule in
 * the branch, or a deletion of a file that is not there; the branch
 * moved ("branch 'main' of '/srv/cfg' is at 1a2b3c4, not at 5d6e7f8
 * where the change was made: ... read it again and redo the change");
 * the branch checked out in another work tree; in the work tree that
 * has it checked out, an edited path with uncommitted changes (staged,
 * modified, deleted, untracked or ignored file in the way: never
 * overwritten). The branch is updated only if it still points at its
 * commit at that moment (libgit2 compares under the ref's lock), so a
 * concurrent writer makes this call fail, not lose the other update;
 * a ref lock left by a killed git is reported with its path.
 */
int gitwrite_commit(struct gitwrite_result *out,
		    const struct gitwrite_commit *c, struct err *e);

/*
 * Push the branch (NULL: HEAD's) of repo to remote: a remote's name in
 * the repository's config (NULL: "origin"), or a URL or path used as
 * given (credentials in it are used, never written or shown). Never
 * forced: a remote branch with commits the local one does not have is
 * refused ("... rejected: not a fast-forward ..."), as is any update
 * the remote itself refuses (its reason is given). Credentials as the
 * mirrors' fetches: the URL's own, else the ssh agent. Network and
 * server failures are transient (e->transient). On success a named
 * remote's tracking branch is updated too.
 */
int gitwrite_push(const char *repo, const char *branch, const char *remote,
		  struct err *e);

#endif
