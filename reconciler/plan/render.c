/*
 * render.c - a plan as JSON (schema/plan.schema.json), text and Markdown.
 * Plans never hold secret values: actions carry names, reasons, hashes
 * and the fields they change, masked (changes.c).
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

/* "sha256:" + 12 hex, or 12 hex of a commit id. */
static int
short_len(const char *rev)
{
	return strncmp(rev, "sha256:", 7) == 0 ? 19 : 12;
}

static size_t
held(const struct plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nnotes; i++)
		n += p->notes[i].name[0] != '\0';
	return n;
}

static const char *
kind_name(const struct action *a)
{
	return a->type == ACT_DRIVER || a->type == ACT_ADOPT ||
			       a->type == ACT_CLONE || a->type == ACT_RECORD ?
		       live_kind_name(a->act.kind) :
		       "environment";
}

static const char *
target(const struct action *a)
{
	return a->act.name ? a->act.name : a->env_id;
}

/* What a delete sets aside or destroys: sizes of the env's schema and
 * bucket from the observation (only measured for such environments);
 * *more: rows is a lower bound. */
static void
sizes(const struct action *a, const struct live *live, long long *bytes,
      long long *rows, long long *objects, long long *obytes, int *more)
{
	*bytes = *rows = *objects = *obytes = -1;
	*more = 0;
	for (size_t i = 0; i < live->n; i++) {
		const struct live_item *l = &live->v[i];

		if (a->act.name &&
		    (strcmp(l->name, a->act.name) || l->kind != a->act.kind))
			continue;
		if (!a->act.name &&
		    (!l->env_id || strcmp(l->env_id, a->env_id)))
			continue;
		if (l->kind == LIVE_SCHEMA) {
			*bytes = l->bytes;
			*rows = l->count;
			*more = l->count_more;
		} else if (l->kind == LIVE_BUCKET) {
			*obytes = l->bytes;
			*objects = l->count;
		}
	}
}

/* Actions that set data aside or destroy it: soft deletes, and purges of
 * schemas and buckets (a role holds no data of its own). */
static int
destroys(const struct action *a)
{
	return (a->type == ACT_DRIVER && a->act.op == OP_PURGE &&
		(a->act.kind == LIVE_SCHEMA || a->act.kind == LIVE_BUCKET)) ||
	       a->type == ACT_SOFT_DELETE;
}

json_t *
plan_json(const struct plan *p, const struct live *live)
{
	json_t *actions = json_array(), *notes = json_array();
	json_t *conflicts = json_array();

	for (size_t i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id",
				      (json_int_t)a->id, "action",
				      action_verb(a), "kind", kind_name(a),
				      "name", target(a), "environment",
				      a->env_id, "reason",
				      action_reason_name(a->reason));
		json_t *deps = json_array();

		if (a->detail)
			json_object_set_new(o, "detail",
					    json_string(a->detail));
		if (a->act.want)
			json_object_set_new(o, "specHash",
					    json_string(a->act.want->hash));
		for (size_t j = 0; j < a->ndeps; j++)
			json_array_append_new(deps,
					      json_integer(
						      (json_int_t)a->deps[j]));
		json_object_set_new(o, "dependsOn", deps);
		json_object_set_new(o, "changes",
				    a->changes ? json_deep_copy(a->changes) :
						 json_array());
		if (destroys(a)) {
			long long b, r, ob, n;
			int more;

			sizes(a, live, &b, &r, &n, &ob, &more);
			json_object_set_new(
				o, "data",
				json_pack("{s:I, s:I, s:b, s:I, s:I, s:b}",
					  "schemaBytes", (json_int_t)b,
					  "schemaRows", (json_int_t)r,
					  "schemaRowsAtLeast", more,
					  "bucketObjects", (json_int_t)n,
					  "bucketBytes", (json_int_t)ob,
					  "destroyed",
					  a->type != ACT_SOFT_DELETE));
		}
		json_array_append_new(actions, o);
	}
	for (size_t i = 0; i < p->nnotes; i++)
		json_array_append_new(notes,
				      json_pack("{s:s, s:s, s:s}",
						"environment",
						p->notes[i].env_id, "name",
						p->notes[i].name, "text",
						p->notes[i].text));
	for (size_t i = 0; i < p->nconflicts; i++) {
		const struct plan_conflict *c = &p->conflicts[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s}",
				      "environment", c->env_id, "kind",
				      live_kind_name(c->kind), "name", c->name,
				      "owner", c->owner, "reason", c->text);

		if (!c->owner)
			json_object_set_new(o, "owner", json_null());
		if (c->file)
			json_object_set_new(o, "declared",
					    json_pack("{s:s, s:i, s:i}", "file",
						      c->file, "line",
						      (int)c->line, "column",
						      (int)c->col));
		json_array_append_new(conflicts, o);
	}
	return json_pack("{s:s, s:s, s:b, s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o}",
			 "platform", p->platform, "revision", p->revision,
			 "changed", p->n > 0, "summary", "actions",
			 (json_int_t)p->n, "changes", (json_int_t)p->changes,
			 "drift", (json_int_t)p->drift, "conflicts",
			 (json_int_t)p->nconflicts, "actions", actions, "notes",
			 notes, "conflicts", conflicts);
}

static void
human_bytes(char *buf, size_t n, long long b)
{
	if (b < 0)
		snprintf(buf, n, "?");
	else if (b < 1024)
		snprintf(buf, n, "%lld B", b);
	else if (b < 1024 * 1024)
		snprintf(buf, n, "%.1f KiB", b / 1024.0);
	else if (b < 1024LL * 1024 * 1024)
		snprintf(buf, n, "%.1f MiB", b / 1048576.0);
	else
		snprintf(buf, n, "%.1f GiB", b / 1073741824.0);
}

/* "1,234,567"; "?" when unknown. */
static void
count_str(char *buf, size_t n, long long v)
{
	char digits[32];
	size_t len, o = 0;

	if (v < 0 || n < 2) {
		snprintf(buf, n, "?");
		return;
	}
	len = (size_t)snprintf(digits, sizeof(digits), "%lld", v);
	for (size_t i = 0; i < len && o + 1 < n; i++) {
		if (i && (len - i) % 3 == 0 && o + 2 < n)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

static void
data_line(struct strbuf *sb, const struct action *a, const struct live *live,
	  const char *indent)
{
	long long b, r, n, ob;
	char s1[32], s2[32], c1[32], c2[32];
	int schema = !a->act.name || a->act.kind == LIVE_SCHEMA;
	int bucket = !a->act.name || a->act.kind == LIVE_BUCKET;
	int more;

	if (!schema && !bucket)
		return;
	sizes(a, live, &b, &r, &n, &ob, &more);
	human_bytes(s1, sizeof(s1), b);
	human_bytes(s2, sizeof(s2), ob);
	count_str(c1, sizeof(c1), r);
	count_str(c2, sizeof(c2), n);
	strbuf_addf(sb, "%s%s", indent,
		    a->type == ACT_SOFT_DELETE ? "keeps" : "DESTROYS");
	if (schema)
		strbuf_addf(sb, " schema %s (%s%s row%s)%s", s1,
			    more ? "more than " : "", c1,
			    r == 1 && !more ? "" : "s", bucket ? "," : "");
	if (bucket)
		strbuf_addf(sb, " bucket %s objects (%s)", c2, s2);
	strbuf_addch(sb, '\n');
}

static char
sign(const struct action *a)
{
	if (a->type == ACT_FINAL_BACKUP || a->type == ACT_CLONE)
		return '+';
	if (a->phase == 1)
		return a->type == ACT_DRIVER && a->act.op == OP_PURGE ? '!' :
									'-';
	if (a->type == ACT_DRIVER && a->act.op == OP_CREATE)
		return '+';
	return '~';
}

/* --- field-level changes ------------------------------------------------ */

/* A string shown bare (`local/app:2`), unless it would read as
 * something else: empty, edged with blanks, or holding control
 * characters (then JSON-quoted). */
static int
bare(const char *s)
{
	size_t n = strlen(s);

	if (!n || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return 0;
	return 1;
}

/* A value for people, in the manifests' flow style: `local/app:2`,
 * `5`, `[CREATE, USAGE]`, `{env: TOKEN}`; absent is `(none)`. */
static void
value(struct strbuf *sb, json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	char *s;

	if (!v || json_is_null(v)) {
		strbuf_addstr(sb, "(none)");
	} else if (json_is_string(v) && bare(json_string_value(v))) {
		strbuf_addstr(sb, json_string_value(v));
	} else if (json_is_array(v)) {
		strbuf_addch(sb, '[');
		json_array_foreach(v, i, x) {
			strbuf_addstr(sb, i ? ", " : "");
			value(sb, x);
		}
		strbuf_addch(sb, ']');
	} else if (json_is_object(v)) {
		strbuf_addch(sb, '{');
		i = 0;
		json_object_foreach(v, k, x) {
			strbuf_addf(sb, "%s%s: ", i++ ? ", " : "", k);
			value(sb, x);
		}
		strbuf_addch(sb, '}');
	} else {
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		strbuf_addstr(sb, s ? s : "?");
		free(s);
	}
}

/* A value in Markdown code: `x`, or ``x`` around a backtick. */
static void
md_code(struct strbuf *sb, json_t *v)
{
	struct strbuf t;
	const char *fence;

	strbuf_init(&t, 0);
	value(&t, v);
	fence = strchr(t.buf, '`') ? "`` " : "`";
	strbuf_addf(sb, "%s%s%s", fence, t.buf, fence[1] ? " ``" : "`");
	strbuf_release(&t);
}

static int
is_generation(const char *path)
{
	size_t n = strlen(path);

	return n >= 19 && !strcmp(path + n - 19, "/passwordGeneration");
}

/*
 * One change: "image: local/app:1 → local/app:2", "env.API_TOKEN:
 * {env: A} → {env: B} (sensitive)", "password: rotated (generation 1 →
 * 2)"; Markdown puts the field and values in code.
 */
static void
change_line(struct strbuf *sb, json_t *c, int md)
{
	const char *path = json_string_value(json_object_get(c, "path"));
	json_t *before = json_object_get(c, "before");
	json_t *after = json_object_get(c, "after");

	strbuf_addstr(sb, md ? "- `" : "    ");
	if (is_generation(path)) {
		strbuf_addstr(sb, md ? "password`: rotated (generation " :
				       "password: rotated (generation ");
		value(sb, before);
		strbuf_addstr(sb, " → ");
		value(sb, after);
		strbuf_addstr(sb, ")\n");
		return;
	}
	diff_path_dotted(sb, path);
	strbuf_addstr(sb, md ? "`: " : ": ");
	if (md)
		md_code(sb, before);
	else
		value(sb, before);
	strbuf_addstr(sb, " → ");
	if (md)
		md_code(sb, after);
	else
		value(sb, after);
	if (json_is_true(json_object_get(c, "sensitive")))
		strbuf_addstr(sb, " (sensitive)");
	strbuf_addch(sb, '\n');
}

void
plan_render_text(struct strbuf *sb, const struct plan *p,
		 const struct live *live)
{
	json_t *ch;
	size_t j;

	strbuf_addf(sb, "plan for platform '%s' at %s\n", p->platform,
		    p->revision);
	for (size_t i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];

		strbuf_addf(sb, "  %c %-11s %-11s %-36s %s: %s%s%s\n", sign(a),
			    action_verb(a), kind_name(a), target(a), a->env_id,
			    action_reason_name(a->reason),
			    a->detail ? ": " : "", a->detail ? a->detail : "");
		if (destroys(a))
			data_line(sb, a, live, "      ");
		json_array_foreach(a->changes, j, ch)
			change_line(sb, ch, 0);
	}
	for (size_t i = 0; i < p->nnotes; i++)
		strbuf_addf(sb, "  = %s%s%s: %s\n", p->notes[i].env_id,
			    p->notes[i].name[0] ? " " : "", p->notes[i].name,
			    p->notes[i].text);
	for (size_t i = 0; i < p->nconflicts; i++) {
		const struct plan_conflict *c = &p->conflicts[i];

		strbuf_addf(sb, "  ! %-11s %-11s %-36s %s: %s\n", "conflict",
			    live_kind_name(c->kind), c->name, c->env_id,
			    c->text);
		if (c->file)
			strbuf_addf(sb,
				    "      %s:%u:%u: environment '%s' "
				    "declared here\n",
				    c->file, c->line, c->col, c->env_id);
	}
	if (p->nconflicts)
		strbuf_addf(sb,
			    "%zu conflict%s: apply refuses to run until "
			    "%s resolved\n",
			    p->nconflicts, p->nconflicts == 1 ? "" : "s",
			    p->nconflicts == 1 ? "it is" : "they are");
	if (p->n == 0 && held(p))
		strbuf_addf(sb, "nothing to apply now: %zu rollout%s held\n",
			    held(p), held(p) == 1 ? "" : "s");
	else if (p->n == 0 && !p->nconflicts)
		strbuf_addstr(sb, "no changes: the live platform matches the "
				  "desired state\n");
	else
		strbuf_addf(sb,
			    "%zu action%s: %zu change%s, %zu drift to heal\n",
			    p->n, p->n == 1 ? "" : "s", p->changes,
			    p->changes == 1 ? "" : "s", p->drift);
}

/* Actions grouped by environment for Markdown, in O(n log n) (plans of
 * thousands of environments): the actions sorted by (environment, plan
 * order), then the runs of one environment in the order their first
 * actions have in the plan. */
struct md_ref {
	const char *env;
	size_t i; /* the action's index */
};

struct md_group {
	size_t first;	 /* plan index of its first action */
	size_t start, n; /* its run in the sorted refs */
};

static int
cmp_ref(const void *x, const void *y)
{
	const struct md_ref *a = x, *b = y;
	int c = strcmp(a->env, b->env);

	return c ? c : (a->i > b->i) - (a->i < b->i);
}

static int
cmp_group(const void *x, const void *y)
{
	const struct md_group *a = x, *b = y;

	return (a->first > b->first) - (a->first < b->first);
}

/*
 * One environment's actions (ord[0..n), plan order), collapsible: a
 * pull-request comment shows the summary line; the table, what each
 * soft delete or purge holds and the fields each update and heal
 * changes open with it.
 */
static void
md_environment(struct strbuf *sb, const struct plan *p, const struct live *live,
	       const size_t *ord, size_t n)
{
	const char *env = p->v[ord[0]].env_id;
	size_t ch = 0, dr = 0, j;
	json_t *c;

	for (size_t k = 0; k < n; k++) {
		const struct action *a = &p->v[ord[k]];

		if (a->reason == WHY_DRIFT)
			dr++;
		else if (a->type != ACT_ADOPT)
			ch++;
	}
	strbuf_addf(sb,
		    "<details><summary><code>%s</code>: %zu action%s "
		    "(%zu change%s, %zu drift to heal)</summary>\n\n",
		    env[0] ? env : "(no environment)", n, n == 1 ? "" : "s", ch,
		    ch == 1 ? "" : "s", dr);
	strbuf_addstr(sb, "| | action | kind | name | reason |\n"
			  "|---|---|---|---|---|\n");
	for (size_t k = 0; k < n; k++) {
		const struct action *a = &p->v[ord[k]];

		strbuf_addf(sb, "| %c | %s | %s | `%s` | %s%s%s |\n", sign(a),
			    action_verb(a), kind_name(a), target(a),
			    action_reason_name(a->reason),
			    a->detail ? ": " : "", a->detail ? a->detail : "");
	}
	for (size_t k = 0; k < n; k++) {
		const struct action *a = &p->v[ord[k]];

		if (destroys(a)) {
			strbuf_addf(sb, "\n**%s** `%s`: ", action_verb(a),
				    a->env_id);
			data_line(sb, a, live, "");
		}
		if (!json_array_size(a->changes))
			continue;
		strbuf_addf(sb, "\n**%c %s** %s `%s`\n", sign(a),
			    action_verb(a), kind_name(a), target(a));
		json_array_foreach(a->changes, j, c)
			change_line(sb, c, 1);
	}
	strbuf_addstr(sb, "\n</details>\n\n");
}

static void
md_environments(struct strbuf *sb, const struct plan *p,
		const struct live *live)
{
	struct md_ref *r = xcalloc(p->n + 1, sizeof(*r));
	struct md_group *g = xcalloc(p->n + 1, sizeof(*g));
	size_t *ord = xcalloc(p->n + 1, sizeof(*ord)), ng = 0;

	for (size_t i = 0; i < p->n; i++) {
		r[i].env = p->v[i].env_id;
		r[i].i = i;
	}
	if (p->n > 1)
		qsort(r, p->n, sizeof(*r), cmp_ref);
	for (size_t k = 0; k < p->n; k++) {
		ord[k] = r[k].i;
		if (!ng || strcmp(r[k].env, r[g[ng - 1].start].env)) {
			g[ng].first = r[k].i;
			g[ng++].start = k;
		}
		g[ng - 1].n++;
	}
	if (ng > 1)
		qsort(g, ng, sizeof(*g), cmp_group);
	for (size_t k = 0; k < ng; k++)
		md_environment(sb, p, live, ord + g[k].start, g[k].n);
	free(ord);
	free(g);
	free(r);
}

void
plan_render_markdown(struct strbuf *sb, const struct plan *p,
		     const struct live *live)
{
	strbuf_addf(sb, "### pressctl plan: `%s` at `%.*s`\n\n", p->platform,
		    short_len(p->revision), p->revision);
	if (p->n == 0 && !p->nconflicts) {
		strbuf_addstr(sb, "No changes.\n");
	} else if (p->n == 0) {
		strbuf_addstr(sb, "No actions.\n");
	} else {
		strbuf_addf(sb,
			    "%zu action%s: %zu change%s, %zu drift to heal\n\n",
			    p->n, p->n == 1 ? "" : "s", p->changes,
			    p->changes == 1 ? "" : "s", p->drift);
		md_environments(sb, p, live);
	}
	for (size_t i = 0; i < p->nnotes; i++)
		strbuf_addf(sb, "- `%s` %s\n", p->notes[i].env_id,
			    p->notes[i].text);
	for (size_t i = 0; i < p->nconflicts; i++) {
		const struct plan_conflict *c = &p->conflicts[i];

		strbuf_addf(sb, "- **conflict** %s `%s` of `%s`: %s",
			    live_kind_name(c->kind), c->name, c->env_id,
			    c->text);
		if (c->file)
			strbuf_addf(sb, " (`%s:%u:%u`)", c->file, c->line,
				    c->col);
		strbuf_addch(sb, '\n');
	}
}
