/*
 * pressctl promote [SRC] --from SITE/ENV --to SITE/ENV [--dry-run]
 *                  [--commit] [--push] [--format text|json|markdown]
 * pressctl rollback [SRC] SITE/ENV [--to REVISION] [--with-data]
 *
 * promote runs every guard (promote/promote.h) and reports each verdict
 * with its evidence. With --commit and every guard passing (the last one
 * takes a verified backup of the target), one commit is written to the
 * config repository that sets the target's image, and the variables its
 * promotion.env names, to the source's; --push publishes it. Any guard that blocks: exit 3, nothing written.
 *
 * rollback writes a commit that gives the environment back the image and
 * promoted variables it had before its last promotion (or at --to
 * REVISION); --with-data also
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
#include "../util/strbuf.h"
#include "../util/testhook.h"

static const char promote_usage[] =
	"usage: pressctl promote [DIR] --from SITE/ENV --to SITE/ENV [--dry-run]\n"
	"                        [--commit] [--push] [--format text|json|markdown]\n"
	"       pressctl promote --git REPO [--ref BRANCH] [--path SUBDIR] ...\n"
	"\n"
	"Checks every promotion guard of moving SITE/ENV's image (and the\n"
	"variables the target's promotion.env names) to the other environment\n"
	"and prints each verdict with its evidence (a dry run by\n"
	"default). --commit: when all pass, take a verified backup of the\n"
	"target and write one commit to the config repository; --push: push\n"
	"it. Exit 3 when a guard blocks (nothing is written).\n";

static const char rollback_usage[] =
	"usage: pressctl rollback [DIR] SITE/ENV [--to REVISION] [--with-data]\n"
	"       pressctl rollback --git REPO [--ref BRANCH] [--path SUBDIR] ...\n"
	"\n"
	"Writes a commit that gives SITE/ENV back the image and promoted\n"
	"variables it had before its last promotion (or at REVISION of the\n"
	"config repository);\n"
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

/* ch's member key; NULL when it is missing or null. */
static const json_t *
value_of(const json_t *ch, const char *key)
{
	const json_t *v = json_object_get(ch, key);

	return json_is_null(v) ? NULL : v;
}

/*
 * One commit, on top of the tip, making every change of changes (as
 * promote_changes gives them: "pointer" set to "after", or removed when
 * it is null) in env's document. *commit (GITWRITE_ID_SIZE) receives
 * its id.
 */
static int
write_changes(struct repo *r, const struct environment *env,
	      const json_t *changes, const char *subject, const char *body,
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
	const json_t *ch;
	char *out = NULL;
	size_t outlen = 0, i;
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
	out = xmalloc(f->len + 1);
	memcpy(out, f->data, f->len);
	out[f->len] = '\0';
	outlen = f->len;
	json_array_foreach(changes, i, ch) {
		const char *ptr = json_string_value(json_object_get(ch, "pointer"));
		const json_t *after = value_of(ch, "after");
		char *next = NULL;
		size_t nlen = 0;
		int ret = after ? yamledit_set(&next, &nlen, f->path, out,
					       outlen, &d, ptr, after, e) :
				  yamledit_remove(&next, &nlen, f->path, out,
						  outlen, &d, ptr, e);

		if (ret < 0)
			goto out;
		free(out);
		out = next;
		outlen = nlen;
	}
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
	free(out);
	return rc;
}

/* The names of the changes after the image, "env.A, env.B." ("" when
 * none; a new string). */
static char *
change_names(const json_t *changes)
{
	struct strbuf sb;
	size_t n = json_array_size(changes);

	strbuf_init(&sb, 0);
	for (size_t i = 1; i < n; i++)
		strbuf_addf(&sb, "%s%s", i > 1 ? ", " : "",
			    json_string_value(json_object_get(
				    json_array_get(changes, i), "name")));
	if (n > 1)
		strbuf_addstr(&sb, ".");
	return strbuf_detach(&sb, NULL);
}

/* Each change of changes, one line each: "  env.X: a -> b". */
static void
print_changes(const json_t *changes)
{
	const json_t *ch;
	size_t i;

	json_array_foreach(changes, i, ch) {
		const char *b = json_string_value(json_object_get(ch, "before"));
		const char *a = json_string_value(json_object_get(ch, "after"));

		printf("  %s: %s -> %s\n",
		       json_string_value(json_object_get(ch, "name")),
		       b ? b : "(none)", a ? a : "(none)");
	}
}

/* --- promote ---------------------------------------------------------------- */

static void
print_text(const struct promotion *pr, const json_t *changes,
	   const char *commit, int dry_run)
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
		printf("promoted: commit %s sets in %s:\n", commit,
		       pr->to->id);
	else if (dry_run)
		printf("every guard passes; run again with --commit to "
		       "promote; the commit would set in %s:\n",
		       pr->to->id);
	if (!blocked && (commit || dry_run))
		print_changes(changes);
}

static void
print_markdown(const struct promotion *pr, const json_t *changes,
	       const char *commit)
{
	const json_t *ch;
	size_t k;

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
	if (pr->allowed) {
		printf("\n| setting | in `%s` now | after |\n|---|---|---|\n",
		       pr->to->id);
		json_array_foreach(changes, k, ch) {
			const char *b = json_string_value(
				json_object_get(ch, "before"));
			const char *a = json_string_value(
				json_object_get(ch, "after"));

			printf("| %s | %s%s%s | %s%s%s |\n",
			       json_string_value(json_object_get(ch, "name")),
			       b ? "`" : "", b ? b : "(none)", b ? "`" : "",
			       a ? "`" : "", a ? a : "(none)", a ? "`" : "");
		}
	}
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
	json_t *changes = NULL;
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
	if ((rc = cmd_pass_open(&cp, &r.so, "promote", 0, 0, NULL, NULL,
				NULL)) != EXIT_OK) {
		repo_release(&r);
		return rc;
	}
	if (promote_envs(cp.m, from_id, to_id, &from, &to, &e) < 0 ||
	    promote_changes(from, to, &changes, &e) < 0) {
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
		char *vars = change_names(changes);
		char *body = xprintf(
			"Image %s (was %s), from %s at %s.%s%s\n\nEvery "
			"promotion guard passed; the verdicts are below.",
			from->image, to->image, from->id, cp.m->revision,
			*vars ? " Also moved: " : "", vars);
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
		if (write_changes(&r, to, changes, subject, body, tr, n, id,
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
		free(vars);
	}
	{
		json_t *j = promotion_json(&pr, id[0] ? id : NULL);

		json_object_set_new(j, "previousImage", json_string(to->image));
		json_object_set_new(j, "image", json_string(from->image));
		json_object_set(j, "changes", changes);
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
			print_markdown(&pr, changes, id[0] ? id : NULL);
		else
			print_text(&pr, changes, id[0] ? id : NULL, !commit);
		json_decref(j);
	}
	promotion_release(&pr);
out_run:
	if (run_id)
		state_run_end(cp.pass.state, run_id, "failed", NULL, &e);
out:
	json_decref(changes);
	cmd_pass_close(&cp);
	repo_release(&r);
	return rc;
}

/* --- rollback ------------------------------------------------------------- */

/* What gives env back its image and promoted variables at revision of
 * the repository (the manifests' directory as r reads them), as
 * promote_changes gives them. */
static int
changes_at(const struct repo *r, const char *revision,
	   const struct environment *env, json_t **changes, struct err *e)
{
	struct source_opts so = r->so;
	struct model *m = NULL;
	const struct environment *then;
	int rc = -1;

	so.ref = revision;
	if (cmd_load_model(&m, &so, 0, NULL) != EXIT_OK)
		return err_set(e, "the manifests at %s do not load", revision);
	if (!(then = model_find_env(m, env->id)) || !then->image)
		err_set(e, "'%s' has no image at %s", env->id, revision);
	else
		rc = promote_changes(then, env, changes, e);
	model_free(m);
	return rc;
}

/* What undoes the promotion last (its journaled summary): its changes
 * with before and after swapped (a summary from before promoted
 * variables existed: the image alone). */
static json_t *
changes_undoing(const json_t *last, const char *image_now)
{
	json_t *done = json_object_get(last, "changes"), *out = json_array();
	const json_t *ch;
	size_t i;

	if (!json_is_array(done))
		json_array_append_new(
			out, json_pack("{s:s, s:s, s:s?, s:O}", "name",
				       "image", "pointer", "/spec/image",
				       "before", image_now, "after",
				       json_object_get(last, "previousImage")));
	json_array_foreach(done, i, ch)
		json_array_append_new(
			out, json_pack("{s:O, s:O, s:O?, s:O?}", "name",
				       json_object_get(ch, "name"), "pointer",
				       json_object_get(ch, "pointer"), "before",
				       json_object_get(ch, "after"), "after",
				       json_object_get(ch, "before")));
	return out;
}

/* The changes that would change something in env as it is now (a new
 * array; each "before" is the value now). */
static json_t *
changes_needed(const json_t *changes, const struct environment *env)
{
	json_t *out = json_array(), *vars = json_object_get(env->spec, "env");
	const json_t *ch;
	size_t i;

	json_array_foreach(changes, i, ch) {
		const char *name = json_string_value(json_object_get(ch, "name"));
		const json_t *after = value_of(ch, "after");
		json_t *now = strcmp(name, "image") == 0 ?
				      (env->image ? json_string(env->image) :
						    NULL) :
				      json_incref(json_object_get(
					      vars, name + strlen("env.")));

		if ((now || after) && !json_equal(now, after))
			json_array_append_new(
				out, json_pack("{s:s, s:O, s:O?, s:O?}", "name",
					       name, "pointer",
					       json_object_get(ch, "pointer"),
					       "before", now, "after", after));
		json_decref(now);
	}
	return out;
}

int
cmd_rollback(int argc, char **argv)
{
	struct source_opts so = { 0 };
	const char *revision = NULL, *env_id, *backup_id = NULL;
	int with_data = 0, first, rc, stale = 0;
	const struct environment *env;
	json_t *last = NULL, *sum, *all = NULL, *changes = NULL;
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
				NULL, NULL)) != EXIT_OK) {
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
		if (changes_at(&r, revision, env, &all, &e) < 0) {
			rc = cmd_fail("%s", e.msg);
			goto out;
		}
	} else if (last &&
		   json_string_value(json_object_get(last, "previousImage"))) {
		all = changes_undoing(last, env->image);
	} else {
		rc = cmd_fail("no promotion of '%s' is on record; name the "
			      "revision to roll back to with --to REVISION",
			      env_id);
		goto out;
	}
	image = xstrdup(json_string_value(
		json_object_get(json_array_get(all, 0), "after")));
	changes = changes_needed(all, env);
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
	if (!json_array_size(changes)) {
		printf("%s already runs %s at %.12s: no commit\n", env_id,
		       image, r.tip.commit);
	} else {
		struct gitwrite_trailer tr[4];
		size_t n = 0;
		char *subject = xprintf("Roll back %s to %s", env_id, image);
		char *vars = change_names(all);
		char *body =
			xprintf("Image %s (was %s)%s%s.%s%s", image,
				env->image ? env->image : "the site's",
				backup_id ? "; data restored from backup " : "",
				backup_id ? backup_id : "",
				*vars ? " Also restored: " : "", vars);

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
		free(vars);
		if (write_changes(&r, env, changes, subject, body, tr, n, id,
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
		printf("rolled back: commit %s sets in %s:\n", id, env_id);
		print_changes(changes);
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
	if (changes)
		json_object_set(sum, "changes", changes);
	if (run_id)
		state_run_end(cp.pass.state, run_id,
			      rc == EXIT_OK ? "ok" : "failed", sum, &e);
	json_decref(sum);
	json_decref(last);
	json_decref(all);
	json_decref(changes);
	free(image);
	free(kept);
	cmd_pass_close(&cp);
	repo_release(&r);
	return rc;
}
