/*
 * pressctl backup run|list|verify|prune [SRC] [--env SEL]...
 *                 [--backup ID] [--restore-test] [--format text|json]
 * pressctl restore [SRC] SITE/ENV --backup ID [--into SITE/ENV2]
 *
 * Backups of environments (docs/backup.md): run takes one now, list
 * shows them, verify reads them back (and with --restore-test restores
 * one into a scratch schema), prune applies the policies' retention.
 * restore brings a backup back, never in place. Exit 0 done, 1 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../apply/backups.h"

static const char backup_usage[] =
	"usage: pressctl backup run|list|verify|prune [DIR] [--env SEL]...\n"
	"                       [--backup ID] [--restore-test]\n"
	"                       [--format text|json]\n"
	"       pressctl backup VERB --git REPO [--ref REF] [--path SUBDIR] [...]\n"
	"\n"
	"run: back up the selected environments now (default: those a\n"
	"BackupPolicy covers). list: their backups, newest first. verify:\n"
	"read the newest backup (or --backup ID) back and check every hash;\n"
	"--restore-test also restores it into a scratch schema and compares\n"
	"rows. prune: the policies' GFS retention. SEL is a site, an\n"
	"environment (acme/staging) or a label (tier=gold).\n";

static const char restore_usage[] =
	"usage: pressctl restore [DIR] SITE/ENV --backup ID [--into SITE/ENV2]\n"
	"       pressctl restore --git REPO [--ref REF] [--path SUBDIR] SITE/ENV\n"
	"                        --backup ID [--into SITE/ENV2]\n"
	"\n"
	"Restores backup ID of SITE/ENV into SITE/ENV (or SITE/ENV2): into a\n"
	"new schema, verified, then swapped in by rename in one transaction;\n"
	"the replaced schema is kept as <schema>__pre_restore_<time>.\n";

enum verb {
	RUN,
	LIST,
	VERIFY,
	PRUNE
};

/* The environments a verb works on: selected, declared (and for list
 * also those with backups only); by default every one a policy covers
 * (run, prune) or every one (list, verify). */
static int
wanted(const struct model *m, const struct environment *env,
       const struct selectors *sel, enum verb v)
{
	if (sel->n)
		return cmd_selector_match(m, env->id, (void *)sel);
	return v == LIST || v == VERIFY || backups_policy(m, env) != NULL;
}

/* Said, not hidden: uploads a failed or killed run left on the server. */
static void
uploads_warning(const struct backups *b)
{
	if (b->uploads_left)
		fprintf(stderr,
			"pressctl: warning: %d multipart upload%s of failed "
			"backups could not be aborted (the S3 server cannot, or "
			"is away); %s recorded in pressctl.uploads and tried "
			"again by the next backup, or removed by the server's "
			"lifecycle rules\n",
			b->uploads_left, b->uploads_left == 1 ? "" : "s",
			b->uploads_left == 1 ? "it is" : "they are");
}

static void
print_list(struct backup_info *v, size_t n, enum format fmt)
{
	json_t *a = json_array();
	char when[32];

	for (size_t i = 0; i < n; i++) {
		const char *reason = json_string_value(
			json_object_get(v[i].manifest, "reason"));
		struct tm tm;

		if (!reason)
			reason = "manual";
		gmtime_r(&v[i].time, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (fmt == FORMAT_JSON) {
			json_array_append_new(
				a,
				json_pack(
					"{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I}",
					"id", v[i].id, "env", v[i].env_id,
					"time", when, "reason", reason,
					"verified", 1, "encrypted",
					v[i].encrypted, "bytes",
					(json_int_t)v[i].bytes, "objects",
					(json_int_t)v[i].objects));
			continue;
		}
		printf("%-24s %-28s %s %-11s %12lld bytes %6zu files%s\n",
		       v[i].id, v[i].env_id, when, reason, v[i].bytes,
		       v[i].objects, v[i].encrypted ? "  encrypted" : "");
	}
	if (fmt == FORMAT_JSON)
		cmd_print_json(a);
	else if (n == 0)
		printf("no backups\n");
	json_decref(a);
}

static int
one(struct backups *b, enum verb v, const char *env_id, const char *id,
    int drill, struct backup_info *all, size_t nall, struct err *e)
{
	struct backup_result r;
	size_t deleted;

	switch (v) {
	case RUN:
		if (backups_run(b, env_id, "manual", &r, e) < 0)
			return -1;
		fprintf(stderr,
			"backup %s of %s: %lld bytes stored, %zu files "
			"(%zu new), verified\n",
			r.id, env_id, r.bytes, r.objects, r.new_objects);
		json_decref(r.manifest);
		return 0;
	case VERIFY:
		for (size_t i = 0; !id && i < nall; i++)
			if (strcmp(all[i].env_id, env_id) == 0)
				id = all[i].id; /* newest first */
		if (!id)
			return err_set(e,
				       "environment '%s' has no backup to "
				       "verify",
				       env_id);
		if (backups_verify(b, env_id, id, drill, e) < 0)
			return -1;
		fprintf(stderr, "backup %s of %s: verified%s\n", id, env_id,
			drill ? ", restore test passed" : "");
		return 0;
	case PRUNE:
		if (backups_prune(b, env_id, &deleted, e) < 0)
			return -1;
		fprintf(stderr, "%s: %zu backup%s pruned\n", env_id, deleted,
			deleted == 1 ? "" : "s");
		return 0;
	case LIST: break;
	}
	return 0;
}

int
cmd_backup(int argc, char **argv)
{
	static const char *const verbs[] = { "run", "list", "verify", "prune" };
	struct source_opts so = { 0 };
	struct selectors sel = { .n = 0 };
	enum format fmt = FORMAT_TEXT;
	const char *id = NULL;
	int drill = 0, rc, failed = 0;
	const struct cmd_option opts[] = {
		{ OPT_SELECTOR, "env", &sel, 0, 0, 0 },
		{ OPT_STRING, "backup", &id, 0, 0, 0 },
		{ OPT_FLAG, "restore-test", &drill, 0, 0, 0 },
		{ OPT_FORMAT, "format", &fmt, 0, 0, FORMAT_TEXT | FORMAT_JSON },
		{ OPT_SOURCE, NULL, &so, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};
	struct backup_info *all = NULL;
	size_t nall = 0;
	struct model *m = NULL;
	struct backups b;
	struct pass p;
	struct err e;
	enum verb v = RUN;
	size_t k;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(backup_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : EXIT_OK;
	}
	for (k = 0; k < 4 && strcmp(argv[1], verbs[k]); k++)
		;
	if (k == 4) {
		fprintf(stderr,
			"pressctl: error: unknown backup command '%s'\n",
			argv[1]);
		fputs(backup_usage, stderr);
		return EXIT_ERROR;
	}
	v = (enum verb)k;
	if (cmd_parse(argc - 1, argv + 1, opts, backup_usage, &rc) < 0)
		return rc;
	if ((id || drill) && v != VERIFY)
		return cmd_fail("--backup and --restore-test go with verify");
	if ((rc = cmd_load_model(&m, &so, 0, NULL)) != EXIT_OK)
		return rc;
	if (pass_open(&p, m, "backup", &e) < 0) {
		model_free(m);
		return cmd_fail("%s", e.msg);
	}
	if (state_read(p.state, &p.rec, &e) < 0 ||
	    backups_open(&b, &p, v == LIST ? "backup list" : "backup", &e) <
		    0) {
		rc = cmd_fail("%s", e.msg);
		goto out_pass;
	}
	if ((v == LIST || v == VERIFY) &&
	    backup_list(&b.ctx, NULL, &all, &nall, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	if (v == LIST) {
		size_t w = 0;

		/* the selected environments' backups, declared or not */
		for (size_t i = 0; i < nall; i++) {
			if (sel.n &&
			    !cmd_selector_match(m, all[i].env_id, &sel)) {
				free(all[i].id);
				free(all[i].env_id);
				json_decref(all[i].manifest);
				continue;
			}
			all[w++] = all[i];
		}
		nall = w;
		print_list(all, nall, fmt);
		rc = EXIT_OK;
		goto out;
	}
	rc = EXIT_OK;
	for (size_t i = 0; i < m->nenvs; i++) {
		if (!wanted(m, &m->envs[i], &sel, v))
			continue;
		if (one(&b, v, m->envs[i].id, id, drill, all, nall, &e) < 0) {
			fprintf(stderr, "pressctl: error: %s\n", e.msg);
			failed = 1;
		}
	}
	/* Soft-deleted environments, when named: their kept data. */
	for (size_t i = 0; sel.n && v != PRUNE && i < p.rec.ndel; i++) {
		const char *env_id = p.rec.del[i].env_id;

		if (model_find_env(m, env_id) ||
		    !cmd_selector_match(m, env_id, &sel))
			continue;
		if (one(&b, v, env_id, id, drill, all, nall, &e) < 0) {
			fprintf(stderr, "pressctl: error: %s\n", e.msg);
			failed = 1;
		}
	}
	if (failed)
		rc = EXIT_ERROR;
out:
	uploads_warning(&b);
	backups_close(&b, rc == EXIT_OK ? "ok" : "failed");
out_pass:
	backup_infos_free(all, nall);
	pass_close(&p);
	model_free(m);
	return rc;
}

int
cmd_restore(int argc, char **argv)
{
	struct source_opts so = { 0 };
	const char *id = NULL, *into = NULL, *env_id;
	int first, rc;
	const struct cmd_option opts[] = {
		{ OPT_STRING, "backup", &id, 0, 0, 0 },
		{ OPT_STRING, "into", &into, 0, 0, 0 },
		{ OPT_STRING, "git", &so.git, 0, 0, 0 },
		{ OPT_STRING, "ref", &so.ref, 0, 0, 0 },
		{ OPT_STRING, "path", &so.path, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};
	struct model *m = NULL;
	struct backups b;
	struct pass p;
	struct err e;
	char *kept = NULL;
	int interrupted = 0;

	if ((first = cmd_parse(argc, argv, opts, restore_usage, &rc)) < 0)
		return rc;
	if (argc - first == 2 && !so.git)
		so.dir = argv[first++];
	if (argc - first != 1 || !id) {
		fputs(restore_usage, stderr);
		return EXIT_ERROR;
	}
	env_id = argv[first];
	if (!strchr(env_id, '/') || (into && !strchr(into, '/')))
		return cmd_fail("name environments as SITE/ENV");
	if (!so.git && (so.ref || so.path))
		return cmd_fail("--ref and --path need --git");
	if ((rc = cmd_load_model(&m, &so, 0, NULL)) != EXIT_OK)
		return rc;
	if (pass_open(&p, m, "restore", &e) < 0) {
		model_free(m);
		return cmd_fail("%s", e.msg);
	}
	/* A restore is a run under the platform's apply lock; holding it,
	 * it closes the runs that died as interrupted, as apply does. */
	if (state_lock(p.state, 1, &e) != 0 ||
	    state_close_interrupted(p.state, &interrupted, &e) < 0 ||
	    state_read(p.state, &p.rec, &e) < 0 ||
	    backups_open(&b, &p, "restore", &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out_pass;
	}
	if (interrupted)
		cmd_log("warn", "earlier runs were interrupted",
			json_pack("{s:i}", "runs", interrupted));
	if (backups_restore(&b, env_id, id, into ? into : env_id, &kept, &e) <
	    0) {
		rc = cmd_fail("%s", e.msg);
	} else {
		printf("restored backup %s of %s into %s%s%s\n", id, env_id,
		       into ? into : env_id,
		       kept ? "; the replaced schema is kept as " : "",
		       kept ? kept : "");
		rc = EXIT_OK;
	}
	uploads_warning(&b);
	backups_close(&b, rc == EXIT_OK ? "ok" : "failed");
out_pass:
	free(kept);
	pass_close(&p);
	model_free(m);
	return rc;
}
