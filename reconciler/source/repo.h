/*
 * repo.h - opening a git repository, for the files of source/ only.
 *
 * Not a public header: it includes <git2.h>, and libgit2 stays inside
 * source/ (commands reach git through source.h, watch.h and hooks.h).
 * Callers initialize libgit2 (git_libgit2_init) around these calls.
 */
#ifndef PRESS_SOURCE_REPO_H
#define PRESS_SOURCE_REPO_H

#include <git2.h>

#include "../util/err.h"

/* source_open_repo: repo names the repository itself, "." included: it
 * is not searched for upwards and GIT_DIR is not consulted. */
#define SOURCE_REPO_EXACT 1u
/* source_open_repo: search for the repository upwards from repo, as git
 * does from a subdirectory (GIT_DIR is not consulted). */
#define SOURCE_REPO_SEARCH 2u

/*
 * Open the repository repo, the one way every part of pressctl opens
 * one. *out receives a repository the caller frees with
 * git_repository_free(); it is NULL on error.
 *
 * - repo NULL or "." with GIT_DIR set (a git hook), unless
 *   SOURCE_REPO_EXACT: opened from the environment exactly as git does
 *   (GIT_REPOSITORY_OPEN_FROM_ENV: GIT_DIR, GIT_OBJECT_DIRECTORY,
 *   GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_NAMESPACE...), so a
 *   pre-receive hook sees the quarantined objects of the push.
 * - Otherwise the path (a work tree, its .git or a bare repository;
 *   repo NULL is "."). Only "." without SOURCE_REPO_EXACT searches
 *   upwards, as git does from a subdirectory. The object directories
 *   named by GIT_OBJECT_DIRECTORY and GIT_ALTERNATE_OBJECT_DIRECTORIES,
 *   when set, are added to it for reading.
 *
 * Errors name the repository as source_repo_name() shows it, with
 * libgit2's message: "cannot open repository '/srv/x.git': ...", or
 * "cannot open repository '/srv/x.git' (GIT_DIR): ..." from the
 * environment.
 */
int source_open_repo(git_repository **out, const char *repo, unsigned flags,
		     struct err *e);

/* How messages name repo (without SOURCE_REPO_EXACT): GIT_DIR when repo
 * is NULL or "." and GIT_DIR is set, else repo, or "." for NULL.
 * Borrowed: it points into repo or the environment. */
const char *source_repo_name(const char *repo);

/* libgit2's message for the last failure of this thread, or "unknown
 * error" (borrowed: valid until the next libgit2 call). */
const char *source_git_msg(void);

/* --- remotes (remote.c): fetching mirrors, pushing (gitwrite.c) --- */

#define SOURCE_URL_MAX_SECRETS 4

/* A remote URL taken apart for messages: shown without its
 * credentials, which are kept to be scrubbed from libgit2's messages. */
struct source_url {
	char *shown;			       /* owned */
	char *secrets[SOURCE_URL_MAX_SECRETS]; /* owned */
	size_t nsecrets;
};

/* Fill v from url (borrowed); release with source_url_release. A
 * password is a secret; so is the user of an http(s) URL (often a
 * token); an ssh login name is shown. */
void source_url_init(struct source_url *v, const char *url);
void source_url_release(struct source_url *v);
/* msg with the secrets of v replaced by "***" (a new string). */
char *source_url_scrub(const struct source_url *v, const char *msg);

/* The payload of source_git_credentials: one per fetch or push. */
struct source_cred {
	int attempts;	 /* credential callback calls */
	int auth_failed; /* set when it gave up */
};

/* libgit2's credential callback for fetch and push: after the URL's
 * own credentials (which libgit2 tries first for http), the ssh agent;
 * gives up after a few attempts and sets auth_failed. */
int source_git_credentials(git_credential **out, const char *url,
			   const char *user, unsigned int allowed,
			   void *payload);

/* Is the libgit2 failure rc (errno errnum) worth retrying: the
 * network, a server error (HTTP 5xx, 429), a locked reference? */
int source_git_transient(int rc, int errnum);

/* path without its trailing slashes ("/" stays): libgit2 returns
 * directories with one. A new string. */
char *source_trim_slashes(const char *path);

#endif
