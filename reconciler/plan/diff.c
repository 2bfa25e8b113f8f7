#include "diff.h"

#include <stdlib.h>
#include <string.h>

#include "../util/err.h"

static void
path_push(struct strbuf *sb, const char *tok)
{
	strbuf_addch(sb, '/');
	for (const char *p = tok; *p; p++) {
		if (*p == '~')
			strbuf_addstr(sb, "~0");
		else if (*p == '/')
			strbuf_addstr(sb, "~1");
		else
			strbuf_addch(sb, *p);
	}
}

static void
field(json_t *fields, const char *path, const char *op, json_t *old,
      json_t *new)
{
	json_t *f = json_pack("{s:s, s:s}", "path", path, "op", op);

	if (old)
		json_object_set(f, "old", old);
	if (new)
		json_object_set(f, "new", new);
	json_array_append_new(fields, f);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted union of the keys of two objects; free() the array only. */
static const char **
keys_union(json_t *a, json_t *b, size_t *n)
{
	const char **k = xmalloc(
		(json_object_size(a) + json_object_size(b) + 1) * sizeof(*k));
	const char *key;
	json_t *v;
	size_t m = 0, w = 0;

	json_object_foreach(a, key, v)
		k[m++] = key;
	json_object_foreach(b, key, v)
		if (!json_object_get(a, key))
			k[m++] = key;
	qsort(k, m, sizeof(*k), cmp_str);
	for (size_t i = 0; i < m; i++)
		if (w == 0 || strcmp(k[w - 1], k[i]))
			k[w++] = k[i];
	*n = w;
	return k;
}

/* How a walk reports a field and which values it compares whole. */
struct walker {
	json_t *fields;
	int changes; /* {path, before, after} (diff_changes), else
		      * {path, op, old?, new?} (diff_objects) */
	int (*leaf)(const char *path, void *arg);
	void *arg;
};

static void
report(struct walker *w, const char *path, const char *op, json_t *old,
       json_t *new)
{
	if (!w->changes) {
		field(w->fields, path, op, old, new);
		return;
	}
	json_array_append_new(w->fields,
			      json_pack("{s:s, s:O, s:O}", "path", path,
					"before", old ? old : json_null(),
					"after", new ? new : json_null()));
}

static void
walk(struct walker *w, struct strbuf *path, json_t *a, json_t *b)
{
	size_t n, len = path->len;
	const char **keys;

	if (json_equal(a, b))
		return;
	if (!json_is_object(a) || !json_is_object(b) ||
	    (w->leaf && w->leaf(path->buf, w->arg))) {
		report(w, path->buf, "changed", a, b);
		return;
	}
	keys = keys_union(a, b, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_object_get(a, keys[i]);
		json_t *y = json_object_get(b, keys[i]);

		path_push(path, keys[i]);
		if (!x)
			report(w, path->buf, "added", NULL, y);
		else if (!y)
			report(w, path->buf, "removed", x, NULL);
		else
			walk(w, path, x, y);
		strbuf_setlen(path, len);
	}
	free(keys);
}

json_t *
diff_changes(json_t *before, json_t *after,
	     int (*leaf)(const char *path, void *arg), void *arg)
{
	struct walker w = { json_array(), 1, leaf, arg };
	struct strbuf path;

	strbuf_init(&path, 0);
	if (!before || !after) {
		if (before != after)
			report(&w, "", "changed", before, after);
	} else {
		walk(&w, &path, before, after);
	}
	strbuf_release(&path);
	return w.fields;
}

json_t *
diff_objects(json_t *base, json_t *head)
{
	json_t *objects = json_array();
	int added = 0, removed = 0, changed = 0;
	struct strbuf path;
	const char **keys;
	size_t n;

	strbuf_init(&path, 0);
	keys = keys_union(base, head, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_object_get(base, keys[i]);
		json_t *y = json_object_get(head, keys[i]);
		const char *slash = strchr(keys[i], '/');
		json_t *fields, *o;
		const char *change;

		if (json_equal(x, y))
			continue;
		fields = json_array();
		if (!x) {
			change = "added";
			added++;
		} else if (!y) {
			change = "removed";
			removed++;
		} else {
			struct walker w = { fields, 0, NULL, NULL };

			change = "changed";
			changed++;
			strbuf_reset(&path);
			walk(&w, &path, x, y);
		}
		o = json_pack("{s:s%, s:s, s:s, s:o}", "kind", keys[i],
			      (size_t)(slash ? slash - keys[i] : 0), "name",
			      slash ? slash + 1 : keys[i], "change", change,
			      "fields", fields);
		json_array_append_new(objects, o);
	}
	free(keys);
	strbuf_release(&path);
	return json_pack("{s:b, s:{s:i, s:i, s:i}, s:o}", "changed",
			 added + removed + changed > 0, "summary", "added",
			 added, "removed", removed, "changed", changed,
			 "objects", objects);
}

void
diff_path_dotted(struct strbuf *sb, const char *ptr)
{
	for (const char *p = ptr; *p; p++) {
		if (*p == '/' && p != ptr)
			strbuf_addch(sb, '.');
		else if (*p == '/')
			continue;
		else if (*p == '~' && p[1] == '1')
			strbuf_addch(sb, '/'), p++;
		else if (*p == '~' && p[1] == '0')
			strbuf_addch(sb, '~'), p++;
		else
			strbuf_addch(sb, *p);
	}
}

static void
value(struct strbuf *sb, json_t *v)
{
	char *s = json_dumps(v,
			     JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

	strbuf_addstr(sb, s ? s : "null");
	free(s);
}

static void
field_line(struct strbuf *sb, json_t *f, int md)
{
	const char *op = json_string_value(json_object_get(f, "op"));

	strbuf_addstr(sb, md ? "  - `" : "    ");
	diff_path_dotted(sb, json_string_value(json_object_get(f, "path")));
	strbuf_addstr(sb, md ? "`: " : ": ");
	if (strcmp(op, "added") == 0) {
		strbuf_addstr(sb, md ? "added `" : "(added) ");
		value(sb, json_object_get(f, "new"));
	} else if (strcmp(op, "removed") == 0) {
		strbuf_addstr(sb, md ? "removed `" : "(removed) ");
		value(sb, json_object_get(f, "old"));
	} else {
		if (md)
			strbuf_addch(sb, '`');
		value(sb, json_object_get(f, "old"));
		strbuf_addstr(sb, md ? "` → `" : " -> ");
		value(sb, json_object_get(f, "new"));
	}
	strbuf_addstr(sb, md ? "`\n" : "\n");
}

static void
render(struct strbuf *sb, json_t *r, int md)
{
	json_t *objects = json_object_get(r, "objects"), *o, *f;
	json_t *sum = json_object_get(r, "summary");
	size_t i, j;

	if (md)
		strbuf_addf(sb, "### pressctl diff `%s` → `%s`\n\n",
			    json_string_value(
				    json_object_get(json_object_get(r, "base"),
						    "ref")),
			    json_string_value(
				    json_object_get(json_object_get(r, "head"),
						    "ref")));
	json_array_foreach(objects, i, o) {
		const char *ch = json_string_value(
			json_object_get(o, "change"));
		const char *kind = json_string_value(
			json_object_get(o, "kind"));
		const char *name = json_string_value(
			json_object_get(o, "name"));
		char sign = ch[0] == 'a' ? '+' : ch[0] == 'r' ? '-' : '~';

		if (md)
			strbuf_addf(sb, "- **%s** %s `%s`\n", ch, kind, name);
		else
			strbuf_addf(sb, "%c %s %s\n", sign, kind, name);
		json_array_foreach(json_object_get(o, "fields"), j, f)
			field_line(sb, f, md);
	}
	strbuf_addf(sb,
		    "%s%" JSON_INTEGER_FORMAT " added, %" JSON_INTEGER_FORMAT
		    " removed, %" JSON_INTEGER_FORMAT " changed\n",
		    md ? "\n" : "",
		    json_integer_value(json_object_get(sum, "added")),
		    json_integer_value(json_object_get(sum, "removed")),
		    json_integer_value(json_object_get(sum, "changed")));
}

void
diff_render_text(struct strbuf *sb, json_t *result)
{
	render(sb, result, 0);
}

void
diff_render_markdown(struct strbuf *sb, json_t *result)
{
	render(sb, result, 1);
}
