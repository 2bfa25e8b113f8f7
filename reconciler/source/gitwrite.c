/*
 * gitwrite.c - one commit written with libgit2, compare-and-swap on the
 * branch, the work tree followed; push (see gitwrite.h).
 *
 * Order of the writes, which is what makes a killed writer harmless:
 * objects first (blobs, trees, the commit: loose object files that
 * libgit2 writes to a temporary name and renames), then the branch with
 * git_reference_create_matching (libgit2 takes refs/heads/<b>.lock,
 * compares the ref with the expected commit under that lock, appends
 * the reflog, renames the lock over the ref), then the work tree
 * (git_checkout_tree restricted to the edited paths).
 */
#include "gitwrite.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hooks.h"
#include "repo.h"
#include "source.h"
#include "watch.h"
#include "../util/clock.h"
#include "../util/strbuf.h"
#include "../util/testhook.h"

#define HEADS "refs/heads/"
#define MAX_PATH_BYTES 4096

void
gitwrite_tip_release(struct gitwrite_tip *t)
{
	free(t->ref);
	memset(t, 0, sizeof(*t));
}

void
gitwrite_result_release(struct gitwrite_result *r)
{
	gitwrite_tip_release(&r->tip);
	memset(r, 0, sizeof(*r));
}

/* --- repositories and branches ------------------------------------------ */

/* A short form of an id for messages. */
static void
short_id(char out[16], const git_oid *id)
{
	git_oid_tostr(out, 8, id);
}

static int
open_repo(git_repository **r, const char *repo, struct err *e)
{
	return source_open_repo(r, repo, repo ? SOURCE_REPO_EXACT : 0, e);
}

/* The full ref of branch, or of the branch HEAD points at. */
static int
resolve_ref(char **ref, git_repository *r, const char *branch,
	    const char *shown, struct err *e)
{
	git_reference *head = NULL;
	const char *target;
	int ret = -1;

	*ref = NULL;
	if (branch != NULL) {
		if (hook_branch_ref(ref, branch) < 0)
			return err_set(e,
				       "'%s' is not a valid branch name (give "
				       "\"main\" or \"refs/heads/main\")",
				       branch);
		return 0;
	}
	if (git_reference_lookup(&head, r, "HEAD") < 0) {
		err_set(e, "cannot read HEAD of '%s': %s", shown,
			source_git_msg());
		goto out;
	}
	if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC) {
		err_set(e,
			"HEAD of '%s' is detached (not on a branch); name the "
			"branch to write to",
			shown);
		goto out;
	}
	target = git_reference_symbolic_target(head);
	if (strncmp(target, HEADS, strlen(HEADS)) != 0) {
		err_set(e,
			"HEAD of '%s' points at '%s', not a branch; name the "
			"branch to write to",
			shown, target);
		goto out;
	}
	*ref = xstrdup(target);
	ret = 0;
out:
	git_reference_free(head);
	return ret;
}

/* The commit ref points at: 1, 0 when the ref does not exist. */
static int
read_ref(git_oid *id, git_repository *r, const char *ref, const char *shown,
	 struct err *e)
{
	int rc = git_reference_name_to_id(id, r, ref);

	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (rc < 0)
		return err_set(e, "cannot read branch '%s' of '%s': %s",
			       ref + strlen(HEADS), shown, source_git_msg());
	return 1;
}

int
gitwrite_tip(struct gitwrite_tip *out, const char *repo, const char *branch,
	     struct err *e)
{
	const char *shown = repo ? repo : ".";
	git_repository *r = NULL;
	git_oid id;
	int inited, has, ret = -1;

	memset(out, 0, sizeof(*out));
	inited = git_libgit2_init();
	if (inited < 0)
		return err_set(e, "cannot initialize libgit2: %s",
			       source_git_msg());
	if (open_repo(&r, repo, e) < 0 ||
	    resolve_ref(&out->ref, r, branch, shown, e) < 0)
		goto out;
	has = read_ref(&id, r, out->ref, shown, e);
	if (has < 0)
		goto out;
	if (has)
		git_oid_tostr(out->commit, sizeof(out->commit), &id);
	ret = 0;
out:
	if (ret < 0)
		gitwrite_tip_release(out);
	git_repository_free(r);
	git_libgit2_shutdown();
	return ret;
}

int
gitwrite_locate(char **repo, char **prefix, const char *dir, struct err *e)
{
	char real[PATH_MAX], root[PATH_MAX];
	git_repository *r = NULL;
	const char *wd;
	char *trimmed = NULL;
	size_t n;
	int ret = -1;

	*repo = *prefix = NULL;
	if (realpath(dir, real) == NULL)
		return err_set(e, "cannot read directory '%s': %s", dir,
			       strerror(errno));
	if (git_libgit2_init() < 0)
		return err_set(e, "cannot initialize libgit2: %s",
			       source_git_msg());
	if (source_open_repo(&r, real, SOURCE_REPO_SEARCH, e) < 0) {
		err_set(e,
			"'%s' is not in a git repository (give a directory "
			"of a work tree, or --git REPO)",
			dir);
		goto out;
	}
	wd = git_repository_workdir(r);
	if (wd == NULL) { /* bare: the repository itself */
		*repo = source_trim_slashes(git_repository_path(r));
		*prefix = xstrdup("");
		ret = 0;
		goto out;
	}
	trimmed = source_trim_slashes(wd);
	if (realpath(trimmed, root) == NULL) {
		err_set(e, "cannot read work tree '%s': %s", trimmed,
			strerror(errno));
		goto out;
	}
	n = strlen(root);
	if (strcmp(root, "/") == 0)
		n = 0;
	if (strncmp(real, root, n) != 0 || (real[n] != '/' && real[n])) {
		err_set(e, "'%s' is not in the work tree of '%s'", dir, root);
		goto out;
	}
	*repo = xstrdup(root);
	*prefix = real[n] ? xprintf("%s/", real + n + 1) : xstrdup("");
	ret = 0;
out:
	free(trimmed);
	git_repository_free(r);
	git_libgit2_shutdown();
	return ret;
}

/* --- checking the request -------------------------------------------------- */

static int
bad_path(const char *p, const char *why, struct err *e)
{
	return err_set(e,
		       "invalid path '%s' (%s): give a path from the "
		       "repository root, such as 'envs/acme.yaml'",
		       p, why);
}

static int
check_path(const char *p, struct err *e)
{
	size_t n = strlen(p);

	if (n == 0)
		return bad_path(p, "empty", e);
	if (n > MAX_PATH_BYTES)
		return bad_path(p, "too long", e);
	if (p[0] == '/')
		return bad_path(p, "absolute", e);
	if (p[n - 1] == '/')
		return bad_path(p, "a directory", e);
	if (strchr(p, '\\') != NULL)
		return bad_path(p, "a backslash", e);
	for (const char *s = p; *s;) {
		size_t k = strcspn(s, "/");

		if (k == 0)
			return bad_path(p, "an empty segment", e);
		if ((k == 1 && s[0] == '.') || (k == 2 && !strncmp(s, "..", 2)))
			return bad_path(p, "'.' or '..' segment", e);
		if (k == 4 && strncasecmp(s, ".git", 4) == 0)
			return bad_path(p, "inside .git", e);
		s += k;
		if (*s == '/')
			s++;
	}
	return 0;
}

static int
check_files(const struct gitwrite_commit *c, struct err *e)
{
	if (c->nfiles == 0)
		return err_set(e, "no file to commit");
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct gitwrite_file *f = &c->files[i];

		if (f->path == NULL)
			return err_set(e, "file %zu has no path", i);
		if (check_path(f->path, e) < 0)
			return -1;
		if (f->data && f->len > SOURCE_MAX_FILE_BYTES)
			return err_set(e,
				       "'%s' is too large (%zu bytes; the "
				       "limit is %zu MiB)",
				       f->path, f->len,
				       SOURCE_MAX_FILE_BYTES >> 20);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->files[j].path, f->path) == 0)
				return err_set(e, "'%s' is given twice",
					       f->path);
	}
	return 0;
}

static int
check_trailer(const struct gitwrite_trailer *t, struct err *e)
{
	const char *k = t->key ? t->key : "";

	if (*k == '\0' || k[0] == '-' ||
	    k[strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"abcdefghijklmnopqrstuvwxyz"
			"0123456789-")] != '\0')
		return err_set(e,
			       "trailer key '%s' is not valid (letters, "
			       "digits and '-', as in 'Promoted-From')",
			       k);
	if (t->value == NULL || *t->value == '\0' ||
	    strpbrk(t->value, "\r\n") != NULL)
		return err_set(e,
			       "trailer '%s' must have a value of one line, "
			       "not empty",
			       k);
	return 0;
}

/*
 * The commit message: subject, body, trailers, each after a blank line.
 * Trailers are parsed back as git would; they must come back as given.
 */
static int
build_message(struct strbuf *sb, const struct gitwrite_commit *c, struct err *e)
{
	git_message_trailer_array arr = { 0 };
	size_t n;
	int same, ret = -1;

	if (c->subject == NULL || c->subject[strspn(c->subject, " \t")] == '\0')
		return err_set(e, "the commit subject is empty");
	if (strpbrk(c->subject, "\r\n") != NULL)
		return err_set(e,
			       "the commit subject must be one line (put the "
			       "rest in the body)");
	for (size_t i = 0; i < c->ntrailers; i++)
		if (check_trailer(&c->trailers[i], e) < 0)
			return -1;
	strbuf_addf(sb, "%s\n", c->subject);
	if (c->body != NULL) {
		n = strlen(c->body);
		while (n > 0 && strchr(" \t\r\n", c->body[n - 1]) != NULL)
			n--;
		if (n > 0) {
			strbuf_addch(sb, '\n');
			strbuf_add(sb, c->body, n);
			strbuf_addch(sb, '\n');
		}
	}
	if (c->ntrailers == 0)
		return sb->overflow ? err_set(e, "the message is too long") : 0;
	strbuf_addch(sb, '\n');
	for (size_t i = 0; i < c->ntrailers; i++)
		strbuf_addf(sb, "%s: %s\n", c->trailers[i].key,
			    c->trailers[i].value);
	if (sb->overflow)
		return err_set(e, "the message is too long");
	if (git_message_trailers(&arr, sb->buf) < 0) {
		err_set(e, "cannot parse the trailers of the message: %s",
			source_git_msg());
		goto out;
	}
	same = arr.count == c->ntrailers;
	for (size_t i = 0; same && i < arr.count; i++)
		same = strcmp(arr.trailers[i].key, c->trailers[i].key) == 0 &&
		       strcmp(arr.trailers[i].value, c->trailers[i].value) == 0;
	if (!same) {
		err_set(e,
			"the trailers would not read back from the message as "
			"given (git reads %zu of %zu); a body line starting "
			"with '---' ends what git reads as the message",
			arr.count, c->ntrailers);
		goto out;
	}
	ret = 0;
out:
	git_message_trailer_array_free(&arr);
	return ret;
}

/* expect: NULL, "" or a full hex id. */
static int
check_expect(const char *expect, struct err *e)
{
	git_oid id;

	if (expect == NULL || *expect == '\0')
		return 0;
	if (strlen(expect) != GIT_OID_HEXSZ || git_oid_fromstr(&id, expect) < 0)
		return err_set(e,
			       "'%s' is not a commit id (the %d hex digits "
			       "gitwrite_tip gives)",
			       expect, GIT_OID_HEXSZ);
	return 0;
}

/* --- the commit ---------------------------------------------------------- */

/* What one call works with. */
struct job {
	const struct gitwrite_commit *c;
	const char *shown;  /* the repository in messages */
	const char *branch; /* short name, in ref */
	git_repository *r;
	char *ref;
	git_oid tip;
	int has_tip;
	git_commit *parent;
	git_tree *parent_tree;
	git_tree_update *updates; /* one per file */
	int checked_out;	  /* HEAD of this work tree is ref */
};

/* Is the branch checked out in the work tree opened, or in another? */
static int
find_checkout(struct job *j, struct err *e)
{
	git_reference *head = NULL, *br = NULL;
	int rc, ret = -1;

	if (!git_repository_is_bare(j->r) &&
	    git_reference_lookup(&head, j->r, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    strcmp(git_reference_symbolic_target(head), j->ref) == 0) {
		j->checked_out = 1;
		ret = 0;
		goto out;
	}
	git_error_clear();
	if (!j->has_tip) {
		ret = 0;
		goto out;
	}
	if (git_reference_lookup(&br, j->r, j->ref) < 0) {
		err_set(e, "cannot read branch '%s' of '%s': %s", j->branch,
			j->shown, source_git_msg());
		goto out;
	}
	rc = git_branch_is_checked_out(br);
	if (rc < 0) {
		err_set(e, "cannot list the work trees of '%s': %s", j->shown,
			source_git_msg());
		goto out;
	}
	if (rc == 1) {
		err_set(e,
			"branch '%s' is checked out in another work tree of "
			"'%s'; write to it from that work tree",
			j->branch, j->shown);
		goto out;
	}
	ret = 0;
out:
	git_reference_free(br);
	git_reference_free(head);
	return ret;
}

/* The branch is where the caller read it. */
static int
check_tip(const struct job *j, struct err *e)
{
	const char *expect = j->c->expect;
	char at[16], want[16];
	git_oid id;

	if (expect == NULL)
		return 0;
	if (*expect == '\0') {
		if (!j->has_tip)
			return 0;
		short_id(at, &j->tip);
		return err_set(e,
			       "branch '%s' of '%s' is at %s, not without "
			       "commits as expected: someone created it "
			       "meanwhile; read it again and redo the change",
			       j->branch, j->shown, at);
	}
	git_oid_fromstr(&id, expect);
	short_id(want, &id);
	if (!j->has_tip)
		return err_set(e,
			       "branch '%s' of '%s' has no commit, not %s "
			       "where the change was made",
			       j->branch, j->shown, want);
	if (git_oid_equal(&id, &j->tip))
		return 0;
	short_id(at, &j->tip);
	return err_set(e,
		       "branch '%s' of '%s' is at %s, not at %s where the "
		       "change was made: someone updated it meanwhile; read "
		       "it again and redo the change",
		       j->branch, j->shown, at, want);
}

/*
 * For each file: its tree update, with the mode it keeps; refuse paths
 * that are not regular files in the branch. Returns 1 when some file
 * changes, 0 when all already hold their content.
 */
static int
plan_updates(struct job *j, struct err *e)
{
	const struct gitwrite_commit *c = j->c;
	int changed = 0;

	j->updates = xcalloc(c->nfiles, sizeof(*j->updates));
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct gitwrite_file *f = &c->files[i];
		git_tree_update *u = &j->updates[i];
		git_tree_entry *te = NULL;
		int rc = GIT_ENOTFOUND;

		u->path = f->path;
		if (j->parent_tree)
			rc = git_tree_entry_bypath(&te, j->parent_tree,
						   f->path);
		if (rc < 0 && rc != GIT_ENOTFOUND)
			return err_set(e, "cannot read '%s' at branch '%s': %s",
				       f->path, j->branch, source_git_msg());
		git_error_clear();
		if (te != NULL) {
			git_filemode_t m = git_tree_entry_filemode(te);
			git_oid old;
			const char *what = m == GIT_FILEMODE_TREE ?
						   "a directory" :
					   m == GIT_FILEMODE_LINK ?
						   "a symbolic link" :
					   m == GIT_FILEMODE_COMMIT ?
						   "a submodule" :
						   NULL;

			git_oid_cpy(&old, git_tree_entry_id(te));
			git_tree_entry_free(te);
			if (what)
				return err_set(e,
					       "'%s' is %s in branch '%s'; "
					       "pressctl writes regular files "
					       "only",
					       f->path, what, j->branch);
			u->filemode = m;
			if (f->data == NULL) {
				u->action = GIT_TREE_UPDATE_REMOVE;
				changed = 1;
				continue;
			}
			u->action = GIT_TREE_UPDATE_UPSERT;
			if (git_odb_hash(&u->id, f->data, f->len,
					 GIT_OBJECT_BLOB) < 0)
				return err_set(e, "cannot hash '%s': %s",
					       f->path, source_git_msg());
			if (!git_oid_equal(&u->id, &old))
				changed = 1;
			continue;
		}
		if (f->data == NULL)
			return err_set(e,
				       "cannot delete '%s': it is not in "
				       "branch '%s'",
				       f->path, j->branch);
		/* A new file: no file may stand where a directory goes. */
		for (const char *s = strchr(f->path, '/'); s && j->parent_tree;
		     s = strchr(s + 1, '/')) {
			char *dir = xstrndup(f->path, (size_t)(s - f->path));

			if (git_tree_entry_bypath(&te, j->parent_tree, dir) ==
				    0 &&
			    git_tree_entry_type(te) != GIT_OBJECT_TREE) {
				git_tree_entry_free(te);
				err_set(e,
					"'%s' is a file in branch '%s', not a "
					"directory for '%s'",
					dir, j->branch, f->path);
				free(dir);
				return -1;
			}
			git_tree_entry_free(te);
			te = NULL;
			git_error_clear();
			free(dir);
		}
		u->action = GIT_TREE_UPDATE_UPSERT;
		u->filemode = GIT_FILEMODE_BLOB;
		changed = 1;
	}
	return changed;
}

/* What git status says of a path, in words; NULL when clean. */
static const char *
dirt(unsigned int st)
{
	if (st & GIT_STATUS_CONFLICTED)
		return "in conflict";
	if (st & (GIT_STATUS_INDEX_NEW | GIT_STATUS_INDEX_MODIFIED |
		  GIT_STATUS_INDEX_DELETED | GIT_STATUS_INDEX_RENAMED |
		  GIT_STATUS_INDEX_TYPECHANGE))
		return "staged";
	if (st & GIT_STATUS_WT_NEW)
		return "untracked";
	if (st & GIT_STATUS_WT_DELETED)
		return "deleted in the work tree";
	if (st & (GIT_STATUS_WT_MODIFIED | GIT_STATUS_WT_TYPECHANGE |
		  GIT_STATUS_WT_RENAMED))
		return "modified in the work tree";
	if (st & GIT_STATUS_IGNORED)
		return "an ignored file is in the way";
	return NULL;
}

/* In the work tree that has the branch checked out, every edited path
 * is as committed: nothing the operator has not committed is lost. */
static int
check_clean(const struct job *j, struct err *e)
{
	for (size_t i = 0; i < j->c->nfiles; i++) {
		const char *path = j->c->files[i].path;
		unsigned int st = 0;
		const char *why;
		int rc = git_status_file(&st, j->r, path);

		if (rc == GIT_ENOTFOUND) { /* nowhere: nothing to lose */
			git_error_clear();
			continue;
		}
		if (rc < 0)
			return err_set(e,
				       "cannot tell whether '%s' has "
				       "uncommitted changes in '%s': %s",
				       path, j->shown, source_git_msg());
		if ((why = dirt(st)) != NULL)
			return err_set(e,
				       "'%s' has uncommitted changes (%s) in "
				       "'%s'; commit or stash them, then run "
				       "again",
				       path, why, j->shown);
	}
	return 0;
}

/* Author and committer: given, from the config, or the fallback; the
 * time from the clock pressctl decides by. */
static int
signature(git_signature **out, const struct job *j, struct err *e)
{
	const struct gitwrite_commit *c = j->c;
	git_config *cfg = NULL;
	const char *name = GITWRITE_FALLBACK_NAME;
	const char *email = GITWRITE_FALLBACK_EMAIL;
	time_t now = clock_now();
	struct tm tm;
	int offset = 0, ret = -1;

	*out = NULL;
	if (c->name || c->email) {
		if (!c->name || !c->email || !*c->name || !*c->email)
			return err_set(e, "give both the name and the email "
					  "of the commit's author");
		name = c->name;
		email = c->email;
	} else if (git_repository_config_snapshot(&cfg, j->r) == 0) {
		const char *n = NULL, *m = NULL;

		if (git_config_get_string(&n, cfg, "user.name") == 0 &&
		    git_config_get_string(&m, cfg, "user.email") == 0 && *n &&
		    *m) {
			name = n;
			email = m;
		}
	}
	git_error_clear();
	if (localtime_r(&now, &tm) != NULL)
		offset = (int)(tm.tm_gmtoff / 60);
	if (git_signature_new(out, name, email, (git_time_t)now, offset) < 0) {
		err_set(e, "invalid author '%s <%s>': %s", name, email,
			source_git_msg());
		goto out;
	}
	ret = 0;
out:
	git_config_free(cfg);
	return ret;
}

/* Move the branch from the commit read to id, or fail without a trace. */
static int
move_branch(const struct job *j, const git_oid *id, struct err *e)
{
	git_reference *ref = NULL;
	git_oid zero, now;
	char *log = xprintf("pressctl: %s", j->c->subject);
	char *lock = NULL;
	int rc, ret = -1;

	memset(&zero, 0, sizeof(zero));
	rc = git_reference_create_matching(&ref, j->r, j->ref, id, 1,
					   j->has_tip ? &j->tip : &zero, log);
	if (rc == 0) {
		ret = 0;
		goto out;
	}
	if (rc == GIT_EMODIFIED) {
		char at[16] = "nothing", was[16] = "no commit";

		if (read_ref(&now, j->r, j->ref, j->shown, e) == 1)
			short_id(at, &now);
		if (j->has_tip)
			short_id(was, &j->tip);
		err_set(e,
			"branch '%s' of '%s' moved to %s while the commit was "
			"written (it was at %s): nothing was changed; read it "
			"again and redo the change",
			j->branch, j->shown, at, was);
	} else if (rc == GIT_ELOCKED) {
		lock = xprintf("%s%s.lock", git_repository_commondir(j->r),
			       j->ref);
		err_set(e,
			"branch '%s' of '%s' is locked: '%s' exists (another "
			"git command is running, or one was killed); if none "
			"runs, remove that file and try again",
			j->branch, j->shown, lock);
	} else {
		err_set(e, "cannot update branch '%s' of '%s': %s", j->branch,
			j->shown, source_git_msg());
	}
out:
	free(lock);
	free(log);
	git_reference_free(ref);
	return ret;
}

/*
 * Bring the edited paths of the work tree and the index to the new
 * commit. SAFE against the old tree: a file changed since the check is
 * a conflict and is left as it is.
 */
static void
update_worktree(struct gitwrite_result *out, const struct job *j,
		const git_commit *commit)
{
	git_checkout_options co;
	git_treebuilder *tb = NULL;
	git_tree *empty = NULL;
	git_oid eid;
	char **paths = xcalloc(j->c->nfiles, sizeof(*paths));
	struct strbuf list;
	int ok = 1;

	strbuf_init(&list, 0);
	for (size_t i = 0; i < j->c->nfiles; i++) {
		paths[i] = (char *)j->c->files[i].path;
		strbuf_addf(&list, "%s%s", i ? " " : "", paths[i]);
	}
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_SAFE |
			       GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	co.paths.strings = paths;
	co.paths.count = j->c->nfiles;
	co.baseline = j->parent_tree;
	if (co.baseline == NULL) { /* first commit: against nothing */
		ok = git_treebuilder_new(&tb, j->r, NULL) == 0 &&
		     git_treebuilder_write(&eid, tb) == 0 &&
		     git_tree_lookup(&empty, j->r, &eid) == 0;
		co.baseline = empty;
	}
	if (ok &&
	    git_checkout_tree(j->r, (const git_object *)commit, &co) == 0) {
		out->worktree = GITWRITE_WT_UPDATED;
		goto out;
	}
	out->worktree = GITWRITE_WT_STALE;
	snprintf(out->note, sizeof(out->note),
		 "the commit is on branch '%s', but the work tree was not "
		 "updated: %s; 'git diff HEAD -- %s' shows what differs, "
		 "'git checkout HEAD -- %s' takes the commit's files (and "
		 "drops changes made to them)",
		 j->branch, source_git_msg(), list.buf, list.buf);
out:
	git_error_clear();
	git_tree_free(empty);
	git_treebuilder_free(tb);
	strbuf_release(&list);
	free(paths);
}

static void
job_release(struct job *j)
{
	free(j->updates);
	git_tree_free(j->parent_tree);
	git_commit_free(j->parent);
	git_repository_free(j->r);
	free(j->ref);
}

int
gitwrite_commit(struct gitwrite_result *out, const struct gitwrite_commit *c,
		struct err *e)
{
	struct job j;
	struct strbuf msg;
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_commit *commit = NULL;
	const git_commit *parents[1];
	git_oid tree_id, commit_id;
	int inited = -1, changed, ret = -1;

	memset(out, 0, sizeof(*out));
	memset(&j, 0, sizeof(j));
	j.c = c;
	j.shown = c->repo ? c->repo : ".";
	strbuf_init(&msg, (size_t)1 << 20);
	if (check_files(c, e) < 0 || build_message(&msg, c, e) < 0 ||
	    check_expect(c->expect, e) < 0)
		goto out;
	inited = git_libgit2_init();
	if (inited < 0) {
		err_set(e, "cannot initialize libgit2: %s", source_git_msg());
		goto out;
	}
	if (open_repo(&j.r, c->repo, e) < 0 ||
	    resolve_ref(&j.ref, j.r, c->branch, j.shown, e) < 0)
		goto out;
	j.branch = j.ref + strlen(HEADS);
	if ((j.has_tip = read_ref(&j.tip, j.r, j.ref, j.shown, e)) < 0 ||
	    check_tip(&j, e) < 0 || find_checkout(&j, e) < 0)
		goto out;
	if (j.has_tip && (git_commit_lookup(&j.parent, j.r, &j.tip) < 0 ||
			  git_commit_tree(&j.parent_tree, j.parent) < 0)) {
		err_set(e, "cannot read the commit of branch '%s': %s",
			j.branch, source_git_msg());
		goto out;
	}
	if ((changed = plan_updates(&j, e)) < 0)
		goto out;
	if (j.has_tip)
		git_oid_tostr(out->parent, sizeof(out->parent), &j.tip);
	if (!changed) {
		out->tip.ref = xstrdup(j.ref);
		memcpy(out->tip.commit, out->parent, sizeof(out->parent));
		ret = 0;
		goto out;
	}
	if (j.checked_out && check_clean(&j, e) < 0)
		goto out;

	/* Nothing was written until here. Objects first. */
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct gitwrite_file *f = &c->files[i];

		if (f->data &&
		    git_blob_create_from_buffer(&j.updates[i].id, j.r, f->data,
						f->len) < 0) {
			err_set(e, "cannot write '%s' to '%s': %s", f->path,
				j.shown, source_git_msg());
			goto out;
		}
	}
	if (git_tree_create_updated(&tree_id, j.r, j.parent_tree, c->nfiles,
				    j.updates) < 0 ||
	    git_tree_lookup(&tree, j.r, &tree_id) < 0) {
		err_set(e, "cannot write the tree of the commit to '%s': %s",
			j.shown, source_git_msg());
		goto out;
	}
	if (signature(&sig, &j, e) < 0)
		goto out;
	parents[0] = j.parent;
	if (git_commit_create(&commit_id, j.r, NULL, sig, sig, NULL, msg.buf,
			      tree, j.has_tip ? 1 : 0, parents) < 0 ||
	    git_commit_lookup(&commit, j.r, &commit_id) < 0) {
		err_set(e, "cannot write the commit to '%s': %s", j.shown,
			source_git_msg());
		goto out;
	}

	/* Then the branch, compared and swapped under its lock. */
	testhook_wait("gitwrite-ref");
	if (move_branch(&j, &commit_id, e) < 0)
		goto out;
	out->tip.ref = xstrdup(j.ref);
	git_oid_tostr(out->tip.commit, sizeof(out->tip.commit), &commit_id);
	out->changed = 1;
	ret = 0;

	/* Then the work tree, when it has the branch checked out. */
	testhook_wait("gitwrite-worktree");
	if (j.checked_out)
		update_worktree(out, &j, commit);
out:
	git_commit_free(commit);
	git_tree_free(tree);
	git_signature_free(sig);
	job_release(&j);
	strbuf_release(&msg);
	if (inited >= 0)
		git_libgit2_shutdown();
	return ret;
}

/* --- push -------------------------------------------------------------- */

struct push_ctx {
	struct source_cred cred;
	char *rejected; /* the remote's reason, owned */
};

static int
push_status(const char *refname, const char *status, void *payload)
{
	struct push_ctx *ctx = payload;

	(void)refname;
	if (status != NULL && ctx->rejected == NULL)
		ctx->rejected = xstrdup(status);
	return 0;
}

/*
 * The URL to push to: a remote's pushurl or url from the config (read
 * as single values), or name itself when it is a URL or a path. *named
 * tells which. The remote is then an in-memory one without
 * url.<base>.insteadOf: git_remote_lookup() would apply it, and
 * libgit2 1.5 leaks memory at every config pattern that fails to
 * match (remote.c's fetches avoid it the same way).
 */
static int
push_url(char **url, int *named, git_repository *r, const char *name,
	 const char *shown, struct err *e)
{
	git_config *cfg = NULL;
	const char *v = NULL;
	char *key;
	int ret = -1;

	*url = NULL;
	*named = 0;
	if (git_repository_config_snapshot(&cfg, r) < 0)
		return err_set(e, "cannot read the config of '%s': %s", shown,
			       source_git_msg());
	key = xprintf("remote.%s.pushurl", name);
	if (git_config_get_string(&v, cfg, key) < 0) {
		free(key);
		key = xprintf("remote.%s.url", name);
		if (git_config_get_string(&v, cfg, key) < 0)
			v = NULL;
	}
	git_error_clear();
	if (v != NULL && *v != '\0') {
		*url = xstrdup(v);
		*named = 1;
	} else if (source_is_remote(name) || strchr(name, '/') != NULL) {
		*url = xstrdup(name);
	} else {
		err_set(e,
			"no remote '%s' in '%s' (name one of its remotes, or "
			"give a URL)",
			name, shown);
		goto out;
	}
	ret = 0;
out:
	free(key);
	git_config_free(cfg);
	return ret;
}

/* What a fetch would have recorded: refs/remotes/<name>/<branch> at
 * the commit pushed. Best effort: the push itself succeeded. */
static void
update_tracking(git_repository *r, const char *name, const char *ref)
{
	git_reference *out = NULL;
	git_oid id;
	char *tracking = xprintf("refs/remotes/%s/%s", name,
				 ref + strlen(HEADS));

	if (git_reference_name_to_id(&id, r, ref) == 0)
		git_reference_create(&out, r, tracking, &id, 1,
				     "pressctl: update by push");
	git_error_clear();
	git_reference_free(out);
	free(tracking);
}

int
gitwrite_push(const char *repo, const char *branch, const char *remote,
	      struct err *e)
{
	const char *shown = repo ? repo : ".";
	const char *name = remote ? remote : "origin";
	git_repository *r = NULL;
	git_remote *rem = NULL;
	git_remote_create_options o;
	git_push_options po;
	struct push_ctx ctx;
	struct source_url v;
	char *ref = NULL, *spec = NULL, *msg = NULL, *url = NULL;
	git_strarray specs;
	int inited, rc, errnum, named = 0, ret = -1;

	memset(&ctx, 0, sizeof(ctx));
	memset(&v, 0, sizeof(v));
	inited = git_libgit2_init();
	if (inited < 0)
		return err_set(e, "cannot initialize libgit2: %s",
			       source_git_msg());
	if (open_repo(&r, repo, e) < 0 ||
	    resolve_ref(&ref, r, branch, shown, e) < 0 ||
	    push_url(&url, &named, r, name, shown, e) < 0)
		goto out;
	source_url_init(&v, url);
	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = r;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		  GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&rem, url, &o) < 0) {
		msg = source_url_scrub(&v, source_git_msg());
		err_set(e, "cannot push to '%s': %s", v.shown, msg);
		goto out;
	}
	spec = xprintf("%s:%s", ref, ref); /* no '+': never forced */
	specs.strings = &spec;
	specs.count = 1;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks.credentials = source_git_credentials;
	po.callbacks.push_update_reference = push_status;
	po.callbacks.payload = &ctx;
	po.proxy_opts.type = GIT_PROXY_AUTO;
	errno = 0;
	rc = git_remote_push(rem, &specs, &po);
	errnum = errno;
	if (rc == GIT_ENONFASTFORWARD) {
		err_set(e,
			"cannot push branch '%s' to '%s': rejected: not a "
			"fast-forward (the remote branch has commits this "
			"repository does not have); fetch, redo the change on "
			"the remote's commit, then push",
			ref + strlen(HEADS), v.shown);
		goto out;
	}
	if (rc < 0) {
		int transient = !ctx.cred.auth_failed &&
				source_git_transient(rc, errnum);

		msg = ctx.cred.auth_failed ?
			      xstrdup("authentication failed (check the "
				      "credentials in the URL, or the keys of "
				      "the ssh agent)") :
			      source_url_scrub(&v, source_git_msg());
		if (transient)
			err_transient(e, "cannot push branch '%s' to '%s': %s",
				      ref + strlen(HEADS), v.shown, msg);
		else
			err_set(e, "cannot push branch '%s' to '%s': %s",
				ref + strlen(HEADS), v.shown, msg);
		goto out;
	}
	if (ctx.rejected != NULL) {
		msg = source_url_scrub(&v, ctx.rejected);
		err_set(e,
			"cannot push branch '%s' to '%s': rejected by the "
			"remote: %s",
			ref + strlen(HEADS), v.shown, msg);
		goto out;
	}
	if (named)
		update_tracking(r, name, ref);
	ret = 0;
out:
	free(msg);
	free(ctx.rejected);
	free(url);
	free(spec);
	free(ref);
	source_url_release(&v);
	git_remote_free(rem);
	git_repository_free(r);
	git_libgit2_shutdown();
	return ret;
}
