#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "../manifest/manifest.h"

int
cmd_source_load(struct source *src, const struct source_opts *o, struct err *e)
{
	if (o->git)
		return source_load_git(src, o->git, o->ref ? o->ref : "HEAD",
				       o->path, e);
	if (o->ref || o->path)
		return err_set(e, "--ref and --path need --git");
	return source_load_dir(src, o->dir ? o->dir : ".", e);
}

json_t *
cmd_diags_json(const struct diags *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];

		json_array_append_new(
			a,
			json_pack(
				"{s:s, s:i, s:i, s:s, s:s, s:i, s:s?, s:s, s:s?}",
				"file", g->file, "line", (int)g->line, "column",
				(int)g->col, "severity",
				g->level == DIAG_ERROR ? "error" : "warning",
				"code", g->code, "document", g->doc, "path",
				g->path, "message", g->message, "hint",
				g->hint));
	}
	return a;
}

/* Workflow command values escape %, CR and LF (and , : in properties). */
static void
gh_escape(FILE *f, const char *s, int property)
{
	for (; *s; s++) {
		if (*s == '%')
			fputs("%25", f);
		else if (*s == '\r')
			fputs("%0D", f);
		else if (*s == '\n')
			fputs("%0A", f);
		else if (property && *s == ':')
			fputs("%3A", f);
		else if (property && *s == ',')
			fputs("%2C", f);
		else
			fputc(*s, f);
	}
}

void
cmd_print_diags(const struct diags *d, enum format f)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		const char *lvl = g->level == DIAG_ERROR ? "error" : "warning";

		if (f == FORMAT_GITHUB) {
			printf("::%s file=", lvl);
			gh_escape(stdout, g->file, 1);
			if (g->line)
				printf(",line=%u,col=%u", g->line, g->col);
			fputs("::", stdout);
			gh_escape(stdout, g->message, 0);
			if (g->hint) {
				fputs(" (", stdout);
				gh_escape(stdout, g->hint, 0);
				fputs(")", stdout);
			}
			fputc('\n', stdout);
		} else if (f == FORMAT_TEXT) {
			if (g->line)
				fprintf(stderr, "%s:%u:%u: %s: %s", g->file,
					g->line, g->col, lvl, g->message);
			else
				fprintf(stderr, "%s: %s: %s", g->file, lvl,
					g->message);
			if (g->hint)
				fprintf(stderr, " (%s)", g->hint);
			fputc('\n', stderr);
		}
	}
}

int
cmd_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("pressctl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

void
cmd_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
}

int
cmd_load_model(struct model **m, const struct source_opts *so, int as_log,
	       struct timings *t)
{
	struct manifest_stats st = { 0 };
	struct source src;
	struct diags d;
	struct err e;
	int rc = EXIT_OK;

	*m = NULL;
	source_init(&src);
	diags_init(&d);
	if (cmd_source_load(&src, so, &e) < 0) {
		if (as_log) {
			cmd_log("error", "cannot read the source",
				json_pack("{s:s}", "error", e.msg));
			rc = EXIT_ERROR;
		} else {
			rc = cmd_fail("%s", e.msg);
		}
	} else if (manifest_read(m, &st, &src, &d) < 0) {
		diags_sort(&d);
		if (as_log) {
			for (size_t i = 0; i < d.n; i++) {
				const struct diag *g = &d.v[i];
				char at[1024];

				/* "at": the compiler-style location, to grep */
				snprintf(at, sizeof(at), "%s:%u:%u", g->file,
					 g->line, g->col);
				cmd_log(g->level == DIAG_ERROR ? "error" :
								 "warn",
					g->message,
					json_pack(
						"{s:s, s:s, s:i, s:i, s:s, s:s?, s:s}",
						"at", at, "file", g->file,
						"line", (int)g->line, "column",
						(int)g->col, "code", g->code,
						"hint", g->hint, "revision",
						src.revision));
			}
			cmd_log("error",
				"the source is invalid; nothing was "
				"changed",
				json_pack("{s:s, s:I}", "revision",
					  src.revision, "errors",
					  (json_int_t)d.errors));
			rc = EXIT_ERROR;
		} else {
			cmd_print_diags(&d, FORMAT_TEXT);
			rc = cmd_fail("%s is invalid (%zu error%s); nothing was "
				      "changed",
				      src.label, d.errors,
				      d.errors == 1 ? "" : "s");
		}
	}
	diags_release(&d);
	source_release(&src);
	/* Reading and parsing the source, then validating it. */
	timings_phase_split(t, "load", "validate", st.validate_seconds);
	return rc;
}

int
cmd_add_selector(struct selectors *s, const char *arg)
{
	if (s->n >= (int)(sizeof(s->v) / sizeof(s->v[0])))
		return -1;
	s->v[s->n++] = arg;
	return 0;
}

int
cmd_selector_match(const struct model *m, const char *env_id, void *arg)
{
	const struct selectors *s = arg;
	const struct environment *e = model_find_env(m, env_id);
	size_t sl = strcspn(env_id, "/");

	if (!s || s->n == 0)
		return 1;
	for (int i = 0; i < s->n; i++) {
		const char *sel = s->v[i], *eq = strchr(sel, '=');

		if (eq) {
			char key[128];
			json_t *v;

			snprintf(key, sizeof(key), "%.*s", (int)(eq - sel),
				 sel);
			v = e ? json_object_get(e->labels, key) : NULL;
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), eq + 1) == 0)
				return 1;
		} else if (strchr(sel, '/')) {
			if (strcmp(sel, env_id) == 0)
				return 1;
		} else if (strlen(sel) == sl && strncmp(sel, env_id, sl) == 0) {
			return 1;
		}
	}
	return 0;
}

int
cmd_tty(void)
{
	return isatty(STDERR_FILENO);
}

/* A selector that matches no environment, declared or recorded, is a
 * typo, not an empty plan. */
static int
unmatched(const struct model *m, const struct recorded *rec,
	  struct selectors *s, const char *option, struct err *e)
{
	for (int i = 0; i < s->n; i++) {
		struct selectors one = { .n = 1 };
		int hit = 0;

		one.v[0] = s->v[i];
		for (size_t j = 0; j < m->nenvs && !hit; j++)
			hit = cmd_selector_match(m, m->envs[j].id, &one);
		for (size_t j = 0; j < rec->nres && !hit; j++)
			hit = cmd_selector_match(m, rec->res[j].env_id, &one);
		if (!hit)
			return err_set(e, "%s '%s' matches no environment",
				       option, s->v[i]);
	}
	return 0;
}

int
cmd_pass_open(struct cmd_pass *cp, const struct source_opts *so,
	      const char *command, int lock, int wait,
	      const struct plan_filter *only, const struct plan_filter *adopt,
	      struct timings *t)
{
	struct err e;
	int rc;

	memset(cp, 0, sizeof(*cp));
	if ((rc = cmd_load_model(&cp->m, so, 0, t)) != EXIT_OK)
		return rc;
	if (pass_open(&cp->pass, cp->m, command, &e) < 0) {
		model_free(cp->m);
		cp->m = NULL;
		return cmd_fail("%s", e.msg);
	}
	cp->pass.timings = t;
	if ((lock && (state_lock(cp->pass.state, wait, &e) != 0 ||
		      state_close_interrupted(cp->pass.state, &cp->interrupted,
					      &e) < 0)) ||
	    pass_observe(&cp->pass, &e) < 0 ||
	    (only && only->arg &&
	     unmatched(cp->m, &cp->pass.rec, only->arg, "--only", &e)) ||
	    (adopt && adopt->arg &&
	     unmatched(cp->m, &cp->pass.rec, adopt->arg, "--adopt", &e)) ||
	    plan_build(&cp->plan, cp->m, &cp->pass.rec, &cp->pass.live,
		       cp->pass.now, only, adopt, &e) < 0) {
		cmd_pass_close(cp);
		return cmd_fail("%s", e.msg);
	}
	timings_phase(t, "diff");
	return EXIT_OK;
}

void
cmd_pass_close(struct cmd_pass *cp)
{
	plan_release(&cp->plan);
	if (cp->m)
		pass_close(&cp->pass);
	model_free(cp->m);
	memset(cp, 0, sizeof(*cp));
}

void
cmd_print_timings(const struct timings *t)
{
	struct strbuf sb;

	if (!t)
		return;
	strbuf_init(&sb, 0);
	timings_render(t, timings_wall(t), &sb);
	fflush(stdout); /* the plan first, when both go to one place */
	fwrite(sb.buf, 1, sb.len, stderr);
	strbuf_release(&sb);
}

json_t *
cmd_timings_json(const struct timings *t, double wall)
{
	json_t *o = json_object();
	double other = wall - timings_phases_sum(t);

	for (size_t i = 0; t && i < t->n; i++) {
		const struct timing *x = &t->v[i];
		char *k = x->part ? xprintf("%s %s", x->phase, x->part) :
				    xstrdup(x->phase);

		json_object_set_new(o, k, json_real(x->seconds));
		free(k);
	}
	json_object_set_new(o, "other", json_real(other > 0 ? other : 0));
	json_object_set_new(o, "total", json_real(wall));
	return o;
}

void
cmd_log(const char *level, const char *message, json_t *fields)
{
	struct timespec ts;
	struct tm tm;
	char when[40];
	json_t *o;
	char *line;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ",
		 ts.tv_nsec / 1000000);
	if (cmd_tty()) {
		const char *k;
		json_t *v;

		fprintf(stderr, "%s %s: %s", when + 11, level, message);
		json_object_foreach(fields, k, v) {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			fprintf(stderr, " %s=%s", k,
				json_is_string(v) ? json_string_value(v) :
				s		  ? s :
						    "?");
			free(s);
		}
		fputc('\n', stderr);
		json_decref(fields);
		return;
	}
	o = fields ? fields : json_object();
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "level", json_string(level));
	json_object_set_new(o, "message", json_string(message));
	line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (line) {
		fprintf(stderr, "%s\n", line);
		free(line);
	}
	json_decref(o);
}

json_t *
cmd_action_fields(const struct action *a, const char *outcome,
		  const char *error)
{
	json_t *o = json_object();
	size_t sl = strcspn(a->env_id, "/");

	json_object_set_new(o, "action", json_string(action_verb(a)));
	json_object_set_new(o, "kind",
			    json_string(a->act.name ?
						live_kind_name(a->act.kind) :
						"environment"));
	json_object_set_new(o, "target",
			    json_string(a->act.name ? a->act.name : a->env_id));
	json_object_set_new(o, "site", json_stringn(a->env_id, sl));
	json_object_set_new(o, "env", json_string(a->env_id));
	json_object_set_new(o, "outcome", json_string(outcome));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	return o;
}
