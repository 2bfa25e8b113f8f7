/*
 * pressctl promote [SRC] --from SITE/ENV --to SITE/ENV [--dry-run]
 *                  [--commit] [--push] [--format text|json|markdown]
 * pressctl rollback [SRC] SITE/ENV [--to REVISION] [--with-data]
 *
 * promote runs every guard (promote/promote.h) and reports each verdict
 * with its evidence. With --commit and every guard passing (the last one
 * takes a verified backup of the target), one commit is written to the
 * config repository that sets the target's image to the source's; --push
 * publishes it. Any guard that blocks: exit 3, nothing written.
 *
 * rollback writes a commit that gives the environment back the image it
 * had before its last promotion (or at --to REVISION); --with-data also
 * restores that promotion's pre-promotion backup, by swap.
 *
 * SRC is the config repository: a directory inside a git work tree (the
 * branch checked out there), or --git PATH with --ref as the branch. The
 * manifests are read at the branch's commit, and the commit is written
 * on top of it only if the branch has not moved meanwhile. Both are
 * journaled runs whose summary holds the verdicts and the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../apply/apply.h"
#include "../apply/backups.h"
#include "../promote/promote.h"
#include "../source/gitwrite.h"
#include "../source/source.h"
#include "../source/yamledit.h"
#include "../util/testhook.h"

static const char promote_usage[] =
	"usage: pressctl promote [DIR] --from SITE/ENV --to SITE/ENV [--dry-run]\n"
	"                        [--commit] [--push] [--format text|json|markdown]\n"
	"       pressctl promote --git REPO [--ref BRANCH] [--path SUBDIR] ...\n"
	"\n"
	"Checks every promotion guard of moving SITE/ENV's image to the other\n"
	"environment and prints each verdict with its evidence (a dry run by\n"
	"default). --commit: when all pass, take a verified backup of the\n"
	"target and write one commit to the config repository; --push: push\n"
	"it. Exit 3 when a guard blocks (nothing is written).\n";

static const char rollback_usage[] =
	"usage: pressctl rollback [DIR] SITE/ENV [--to REVISION] [--with-data]\n"
	"       pressctl rollback --git REPO [--ref BRANCH] [--path SUBDIR] ...\n"
	"\n"
	"Writes a commit that gives SITE/ENV back the image it had before its\n"
	"last promotion (or at REVISION of the config repository);\n"
	"--with-data also restores that promotion's pre-promotion backup\n"
	"(the replaced schema is kept).\n";

/* --- the config repository ------------------------------------------------ */

struct repo {
	char *path;   /* the repository */
	char *prefix; /* the manifests' directory in it: "" or "dir/" */
	struct gitwrite_tip tip;
	char *branch; /* as given (--ref), or NULL: HEAD's */
	/* what the manifests are read with: the tip's commit */
	struct source_opts so;
	char *subdir; /* so.path's storage */
};

static void
repo_release(struct repo *r)
{
	free(r->path);
	free(r->prefix);
	free(r->subdir);
	gitwrite_tip_release(&r->tip);
	memset(r, 0, sizeof(*r));
}

/* Where the commit goes, and the source read at exactly its parent. */
static int
repo_open(struct repo *r, const struct source_opts *so, struct err *e)
{
	memset(r, 0, sizeof(*r));
	if (so->git) {
		if (strstr(so->git, "://") || strchr(so->git, '@'))
			return err_set(e,
				       "--git %s: promote and rollback write a "
				       "commit, so the repository must be a "
				       "local path (clone it, then push with "
				       "--push)",
				       so->git);
		r->path = xstrdup(so->git);
		r->prefix = xstrdup(so->path ? so->path : "");
		r->branch = (char *)so->ref;
	} else if (gitwrite_locate(&r->path, &r->prefix,
				   so->dir ? so->dir : ".", e) < 0) {
		return err_wrap(e, "promote and rollback write to the git "
				   "repository holding the manifests");
	}
	if (gitwrite_tip(&r->tip, r->path, r->branch, e) < 0) {
		repo_release(r);
		return -1;
	}
	if (!r->tip.commit[0]) {
		err_set(e, "branch %s of '%s' has no commit yet", r->tip.ref,
			r->path);
		repo_release(r);
		return -1;
	}
	r->so.git = r->path;
	r->so.ref = r->tip.commit;
	if (r->prefix[0]) {
		size_t n = strlen(r->prefix);

		r->subdir = xstrdup(r->prefix);
		if (r->subdir[n - 1] == '/')
			r->subdir[n - 1] = '\0';
		r->so.path = r->subdir;
	}
	return 0;
}

/* The content of file (repository-relative) at the tip. */
static const struct source_file *
find_file(const struct source *src, const char *path)
{
	for (size_t i = 0; i < src->nfiles; i++)
		if (strcmp(src->files[i].path, path) == 0)
			return &src->files[i];
	return NULL;
}

/*
 * One commit setting env's spec.image to image, on top of the tip.
 * *commit (GITWRITE_ID_SIZE) receives its id.
 */
static int
write_image(struct repo *r, const struct environment *env, const char *image,
	    const char *subject, const char *body,
	    const struct gitwrite_trailer *tr, size_t ntr, char *commit,
	    int *worktree_stale, struct err *e)
{
	struct yamledit_doc d = { .index = env->doc->index,
				  .kind = "Environment",
				  .name = env->name,
				  .site = env->site->name };
	struct gitwrite_commit c = { .repo = r->path,
				     .branch = r->branch,
				     .expect = r->tip.commit,
				     .subject = subject,
				     .body = body,
				     .trailers = tr,
				     .ntrailers = ntr };
	const struct source_file *f;
	struct gitwrite_result res;
	struct gitwrite_file gf;
	struct source src;
	json_t *v = json_string(image);
	char *out = NULL;
	size_t outlen = 0;
	int rc = -1;

	source_init(&src);
	memset(&res, 0, sizeof(res));
	if (cmd_source_load(&src, &r->so, e) < 0)
		goto out;
	if (!(f = find_file(&src, env->doc->file))) {
		err_set(e, "'%s' is not in the repository at %.12s",
			env->doc->file, r->tip.commit);
		goto out;
	}
	if (yamledit_set(&out, &outlen, f->path, f->data, f->len, &d,
			 "/spec/image", v, e) < 0)
		goto out;
	gf = (struct gitwrite_file){ env->doc->file, out, outlen };
	c.files = &gf;
	c.nfiles = 1;
	if (gitwrite_commit(&res, &c, e) < 0)
		goto out;
	snprintf(commit, GITWRITE_ID_SIZE, "%s", res.tip.commit);
	*worktree_stale = res.worktree == GITWRITE_WT_STALE;
	if (*worktree_stale)
		fprintf(stderr, "pressctl: warning: %s\n", res.note);
	rc = 0;
out:
	gitwrite_result_release(&res);
	source_release(&src);
	json_decref(v);
	free(out);
	return rc;
}

/* --- promote ---------------------------------------------------------------- */

static void
print_text(const struct promotion *pr, const char *commit, int dry_run)
{
	size_t blocked = 0;

	printf("promote %s -> %s\n", pr->from->id, pr->to->id);
	for (size_t i = 0; i < pr->n; i++) {
		printf("  %-5s %-17s %s\n", pr->g[i].pass ? "ok" : "BLOCK",
		       pr->g[i].name, pr->g[i].text);
		blocked += !pr->g[i].pass;
	}
	if (blocked)
		printf("promotion blocked by %zu guard%s; nothing was "
		       "written\n",
		       blocked, blocked == 1 ? "" : "s");
	else if (commit)
		printf("promoted: commit %s sets %s's image to %s\n", commit,
		       pr->to->id, pr->from->image);
	else if (dry_run)
		printf("every guard passes; run again with --commit to "
		       "promote\n");
}

static void
print_markdown(const struct promotion *pr, const char *commit)
{
	printf("### pressctl promote: `%s` → `%s`\n\n", pr->from->id,
	       pr->to->id);
	printf("| guard | verdict | evidence |\n|---|---|---|\n");
	for (size_t i = 0; i < pr->n; i++) {
		printf("| %s | %s | ", pr->g[i].name,
		       pr->g[i].pass ? "pass" : "**blocks**");
		for (const char *s = pr->g[i].text; *s; s++) {
			if (*s == '|')
				fputs("\\|", stdout);
			else
				putchar(*s == '\n' ? ' ' : *s);
		}
		printf(" |\n");
	}
	printf("\n%s\n", !pr->allowed ? "**Blocked**: nothing was written." :
			 commit	      ? "Promoted." :
					"Every guard passes.");
	if (commit)
		printf("\ncommit `%s`\n", commit);
}

int
cmd_promote(int argc, char **argv)
{
	struct source_opts so = { 0 };
	const char *from_id = NULL, *to_id = NULL;
	enum format fmt = FORMAT_TEXT;
	int dry_run = 0, commit = 0, push = 0, rc, stale = 0;
	const struct environment *from, *to;
	struct promotion pr;
	struct cmd_pass cp;
	struct repo r;
	struct err e;
	char id[GITWRITE_ID_SIZE] = "";
	long long run_id = 0;
	const struct cmd_option opts[] = {
		{ OPT_STRING, "from", &from_id, 0, 0, 0 },
		{ OPT_STRING, "to", &to_id, 0, 0, 0 },
		{ OPT_FLAG, "dry-run", &dry_run, 0, 0, 0 },
		{ OPT_FLAG, "commit", &commit, 0, 0, 0 },
		{ OPT_FLAG, "push", &push, 0, 0, 0 },
		{ OPT_FORMAT, "format", &fmt, 0, 0,
		  FORMAT_TEXT | FORMAT_JSON | FORMAT_MARKDOWN },
		{ OPT_SOURCE, NULL, &so, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	if (cmd_parse(argc, argv, opts, promote_usage, &rc) < 0)
		return rc;
	if (!from_id || !to_id)
		return cmd_fail("promote needs --from SITE/ENV and --to "
				"SITE/ENV");
	if (push)
		commit = 1;
	if (dry_run && commit)
		return cmd_fail("--dry-run writes nothing: it goes without "
				"--commit and --push");
	if (repo_open(&r, &so, &e) < 0)
		return cmd_fail("%s", e.msg);
	if ((rc = cmd_pass_open(&cp, &r.so, "promote", 0, 0, NULL, NULL)) !=
	    EXIT_OK) {
		repo_release(&r);
		return rc;
	}
	if (promote_envs(cp.m, from_id, to_id, &from, &to, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	if (commit && state_run_begin(cp.pass.state, cp.m->revision, "promote",
				      &run_id, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	if (promote_check(&cp.pass, &cp.plan, from, to, commit, &pr, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out_run;
	}
	rc = pr.allowed ? EXIT_OK : EXIT_REFUSED;
	if (pr.allowed && commit) {
		struct gitwrite_trailer tr[4 + PROMOTE_GUARDS];
		char *subject = xprintf("Promote %s to %s", from->id, to->id);
		char *body = xprintf(
			"Image %s (was %s), from %s at %s.\n\nEvery promotion "
			"guard passed; the verdicts are below.",
			from->image, to->image, from->id, cp.m->revision);
		char *guard[PROMOTE_GUARDS];
		size_t n = 0;

		tr[n++] = (struct gitwrite_trailer){ "Promoted-From",
						     from->id };
		tr[n++] = (struct gitwrite_trailer){ "Promoted-To", to->id };
		tr[n++] = (struct gitwrite_trailer){ "Source-Revision",
						     cp.m->revision };
		tr[n++] = (struct gitwrite_trailer){ "Pre-Promotion-Backup",
						     pr.backup_id };
		for (size_t i = 0; i < pr.n; i++) {
			guard[i] = xprintf("pass: %s", pr.g[i].text);
			tr[n++] = (struct gitwrite_trailer){ pr.g[i].name,
							     guard[i] };
		}
		testhook_wait("promote-commit");
		if (write_image(&r, to, from->image, subject, body, tr, n, id,
				&stale, &e) < 0) {
			rc = cmd_fail("%s; the pre-promotion backup %s stays",
				      e.msg, pr.backup_id);
			id[0] = '\0';
		} else if (push &&
			   gitwrite_push(r.path, r.tip.ref, NULL, &e) < 0) {
			rc = cmd_fail("commit %s written, not pushed: %s", id,
				      e.msg);
		}
		for (size_t i = 0; i < pr.n; i++)
			free(guard[i]);
		free(subject);
		free(body);
	}
	{
		json_t *j = promotion_json(&pr, id[0] ? id : NULL);

		json_object_set_new(j, "previousImage", json_string(to->image));
		json_object_set_new(j, "image", json_string(from->image));
		if (run_id)
			state_run_end(cp.pass.state, run_id,
				      rc == EXIT_OK	 ? "ok" :
				      rc == EXIT_REFUSED ? "refused" :
							   "failed",
				      j, &e);
		run_id = 0;
		if (fmt == FORMAT_JSON)
			cmd_print_json(j);
		else if (fmt == FORMAT_MARKDOWN)
			print_markdown(&pr, id[0] ? id : NULL);
		else
			print_text(&pr, id[0] ? id : NULL, !commit);
		json_decref(j);
	}
	promotion_release(&pr);
out_run:
	if (run_id)
		state_run_end(cp.pass.state, run_id, "failed", NULL, &e);
out:
	cmd_pass_close(&cp);
	repo_release(&r);
	return rc;
}

/* --- rollback ------------------------------------------------------------- */

/* env's effective image at revision of the repository (the manifests'
 * directory as r reads them): a new string, or NULL with e set. */
static char *
image_at(const struct repo *r, const char *revision, const char *env_id,
	 struct err *e)
{
	struct source_opts so = r->so;
	struct model *m = NULL;
	const struct environment *env;
	char *image = NULL;

	so.ref = revision;
	if (cmd_load_model(&m, &so, 0) != EXIT_OK) {
		err_set(e, "the manifests at %s do not load", revision);
		return NULL;
	}
	if (!(env = model_find_env(m, env_id)) || !env->image)
		err_set(e, "'%s' has no image at %s", env_id, revision);
	else
		image = xstrdup(env->image);
	model_free(m);
	return image;
}

int
cmd_rollback(int argc, char **argv)
{
	struct source_opts so = { 0 };
	const char *revision = NULL, *env_id, *backup_id = NULL;
	int with_data = 0, first, rc, stale = 0;
	const struct environment *env;
	json_t *last = NULL, *sum;
	struct cmd_pass cp;
	struct repo r;
	struct err e;
	char id[GITWRITE_ID_SIZE] = "", *image = NULL, *kept = NULL;
	long long run_id = 0;
	const struct cmd_option opts[] = {
		{ OPT_STRING, "to", &revision, 0, 0, 0 },
		{ OPT_FLAG, "with-data", &with_data, 0, 0, 0 },
		{ OPT_STRING, "git", &so.git, 0, 0, 0 },
		{ OPT_STRING, "ref", &so.ref, 0, 0, 0 },
		{ OPT_STRING, "path", &so.path, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	if ((first = cmd_parse(argc, argv, opts, rollback_usage, &rc)) < 0)
		return rc;
	if (argc - first == 2 && !so.git)
		so.dir = argv[first++];
	if (argc - first != 1) {
		fputs(rollback_usage, stderr);
		return EXIT_ERROR;
	}
	env_id = argv[first];
	if (!strchr(env_id, '/'))
		return cmd_fail("name the environment as SITE/ENV");
	if (!so.git && (so.ref || so.path))
		return cmd_fail("--ref and --path need --git");
	if (repo_open(&r, &so, &e) < 0)
		return cmd_fail("%s", e.msg);
	/* With data, a restore: under the platform's apply lock. */
	if ((rc = cmd_pass_open(&cp, &r.so, "rollback", with_data, 1, NULL,
				NULL)) != EXIT_OK) {
		repo_release(&r);
		return rc;
	}
	if (!(env = model_find_env(cp.m, env_id))) {
		rc = cmd_fail("no environment '%s' in the source", env_id);
		goto out;
	}
	if (state_last_promotion(cp.pass.state, env_id, &last, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	if (revision) {
		if (!(image = image_at(&r, revision, env_id, &e))) {
			rc = cmd_fail("%s", e.msg);
			goto out;
		}
	} else if (last &&
		   json_string_value(json_object_get(last, "previousImage"))) {
		image = xstrdup(json_string_value(
			json_object_get(last, "previousImage")));
	} else {
		rc = cmd_fail("no promotion of '%s' is on record; name the "
			      "revision to roll back to with --to REVISION",
			      env_id);
		goto out;
	}
	if (with_data) {
		backup_id = json_string_value(json_object_get(last, "backup"));
		if (!backup_id) {
			rc = cmd_fail("--with-data restores the pre-promotion "
				      "backup of the last promotion of '%s', "
				      "and none is on record",
				      env_id);
			goto out;
		}
	}
	if (state_run_begin(cp.pass.state, cp.m->revision, "rollback", &run_id,
			    &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	/* The data first: if it cannot come back, nothing is committed. */
	if (backup_id) {
		struct backups b;

		if (backups_open(&b, &cp.pass, NULL, &e) < 0) {
			rc = cmd_fail("%s", e.msg);
			goto out;
		}
		b.run_id = run_id;
		if (state_lock_backups(cp.pass.state, &e) < 0 ||
		    backups_restore(&b, env_id, backup_id, env_id, &kept, &e) <
			    0) {
			rc = cmd_fail("%s; nothing was committed", e.msg);
			backups_close(&b, NULL);
			goto out;
		}
		backups_close(&b, NULL);
	}
	if (env->image && strcmp(env->image, image) == 0) {
		printf("%s already runs %s at %.12s: no commit\n", env_id,
		       image, r.tip.commit);
	} else {
		struct gitwrite_trailer tr[4];
		size_t n = 0;
		char *subject = xprintf("Roll back %s to %s", env_id, image);
		char *body =
			xprintf("Image %s (was %s)%s%s.", image,
				env->image ? env->image : "the site's",
				backup_id ? "; data restored from backup " : "",
				backup_id ? backup_id : "");

		tr[n++] = (struct gitwrite_trailer){ "Rolled-Back", env_id };
		if (json_string_value(json_object_get(last, "commit")) &&
		    !revision)
			tr[n++] = (struct gitwrite_trailer){
				"Promotion-Commit",
				json_string_value(
					json_object_get(last, "commit"))
			};
		if (revision)
			tr[n++] = (struct gitwrite_trailer){
				"Image-From-Revision", revision
			};
		if (backup_id)
			tr[n++] = (struct gitwrite_trailer){ "Restored-Backup",
							     backup_id };
		if (write_image(&r, env, image, subject, body, tr, n, id,
				&stale, &e) < 0) {
			rc = cmd_fail("%s%s", e.msg,
				      backup_id ? "; the data was restored, "
						  "the commit was not written" :
						  "");
			free(subject);
			free(body);
			goto out;
		}
		free(subject);
		free(body);
		printf("rolled back: commit %s sets %s's image to %s\n", id,
		       env_id, image);
	}
	if (kept)
		printf("restored backup %s into %s; the replaced schema is kept "
		       "as %s\n",
		       backup_id, env_id, kept);
	rc = EXIT_OK;
out:
	sum = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?}", "env", env_id, "image",
			image, "commit", id[0] ? id : NULL, "backup", backup_id,
			"keptSchema", kept);
	if (run_id)
		state_run_end(cp.pass.state, run_id,
			      rc == EXIT_OK ? "ok" : "failed", sum, &e);
	json_decref(sum);
	json_decref(last);
	free(image);
	free(kept);
	cmd_pass_close(&cp);
	repo_release(&r);
	return rc;
}
