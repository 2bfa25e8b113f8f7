/*
 * hooks.h - the git hooks of a config repository (pressctl hook): their
 * settings, kept in the repository's own config (pressctl.branch,
 * .path, .notify, .apply); installing them; and the ref updates git
 * gives them on standard input.
 *
 * Ownership: structs own every char * they hold (released by their
 * _release function, which leaves them empty and may be called again);
 * arguments are borrowed. On error an out-struct is left empty. Nothing
 * here prints. libgit2 is initialized and shut down within each call
 * that uses it.
 */
#ifndef PRESS_SOURCE_HOOKS_H
#define PRESS_SOURCE_HOOKS_H

#include "../util/err.h"

#define HOOK_DEFAULT_BRANCH "main"
/* The watcher's socket in the git directory, unless pressctl.notify. */
#define HOOK_SOCKET_NAME "pressctl-watch.sock"

/* The settings of a repository's hooks, with their defaults. */
struct hook_conf {
	char *gitdir; /* absolute, no trailing slash */
	char *branch; /* as configured: "main" */
	char *ref;    /* "refs/heads/main" */
	char *path;   /* subdirectory, or NULL for the root */
	char *notify; /* absolute socket path */
	int apply;
};

/*
 * The settings of the repository git runs a hook for, opened from the
 * environment (GIT_DIR; see source_open_repo). A relative
 * pressctl.notify is taken from the git directory. Errors: "cannot open
 * repository '/srv/x.git' (GIT_DIR): ...", "cannot read the config of
 * repository ...", "bad pressctl.apply in repository ..." (not a
 * boolean).
 */
int hook_conf_read(struct hook_conf *c, struct err *e);
void hook_conf_release(struct hook_conf *c);

/*
 * The ref of a branch given as "main" or "refs/heads/main": 0 and *ref
 * a new string ("refs/heads/main"; free() it), or -1 and *ref NULL when
 * it is not a valid ref name under refs/heads/.
 */
int hook_branch_ref(char **ref, const char *branch);

/* The hooks install writes, in this order. */
enum {
	HOOK_PRE_RECEIVE,
	HOOK_POST_RECEIVE,
	HOOK_COUNT
};
extern const char *const hook_names[HOOK_COUNT];

/* What install stores in the repository's config (borrowed). */
struct hook_settings {
	const char *branch; /* "main" or "refs/heads/main"; a valid
				 * one (hook_branch_ref) */
	const char *path;   /* NULL: the root */
	const char *notify; /* absolute socket path; NULL: the default */
	int apply;
};

/* What hook_install did. */
struct hook_installed {
	char *gitdir; /* absolute, no trailing slash */
	char *dir;    /* the hooks directory */
	char *notify; /* the socket the post-receive hook wakes */
	/* per hook_names: "installed", "updated", "replaced" or
	 * "unchanged" (static strings) */
	const char *what[HOOK_COUNT];
};

/*
 * Install the hooks into the repository repo (a bare repository, a
 * work tree or its .git; opened as given, never searched for, GIT_DIR
 * not consulted) and store s in its own config, an unset field deleting
 * its key. Each hook is a small sh script that execs exe (an absolute
 * path) with "hook <name>"; it carries a marker line, so a hook with
 * the marker is rewritten, one without is refused unless force, which
 * keeps it as <name>.before-pressctl. The hooks directory is
 * core.hooksPath when set (a relative one from the work tree, or the
 * git directory of a bare repository), else <git dir>/hooks; it is
 * created when missing. Files are written atomically, mode 0755.
 *
 * Errors, in the order they are checked: the repository cannot be
 * opened ("cannot open repository 'x': ... (give a bare repository or a
 * work tree)"), the notify socket path does not fit a unix socket, the
 * hooks directory cannot be made, a hook is foreign and not force ("hook
 * '...' exists and was not written by pressctl: ..."), a file or the
 * config cannot be written. Hooks written before a later error stay.
 */
int hook_install(struct hook_installed *out, const char *repo, const char *exe,
		 const struct hook_settings *s, int force, struct err *e);
void hook_installed_release(struct hook_installed *h);

/* One line of a hook's standard input: "<old> <new> <ref>". */
struct hook_update {
	char old[72], new[72]; /* object ids (40 or 64 hex digits) */
	char *ref;	       /* points into the parsed line */
};

/* Split line, modified in place (line ends stripped, the two spaces cut):
 * 0, or -1 when it is not such a line. */
int hook_update_parse(struct hook_update *u, char *line);

/* Is id git's null id (all zeros): the ref is created (old) or deleted
 * (new)? */
int hook_id_is_null(const char *id);

#endif
