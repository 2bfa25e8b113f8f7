/*
 * anonymize.c - cloneFrom.anonymize: rules parsed, and their SQL
 * (docs/clone.md, "Anonymization").
 *
 * All randomness is an HMAC-SHA256 keyed with the caller's salt, built
 * from PostgreSQL's own sha256() (no pgcrypto: the copy's database may
 * not allow extensions): HMAC(m) = sha256(ko || sha256(ki || m)), with
 * ki and ko the key's inner and outer pads, computed here. So the same
 * value under the same key always gives the same result, in every
 * column and every clone, and nobody without the key can tell which
 * original a result came from.
 *
 * hash and mask work on the column's DISTINCT values: a map (temporary
 * table: original -> replacement) is built and checked first, then
 * applied. The map is what makes equal values stay equal, and it is
 * where collisions are resolved: a replacement equal to an original of
 * the column, or to another value's replacement, is drawn again (next
 * round of the HMAC) until none is, so that different values stay
 * different and no original survives even by chance. The map holds the
 * originals, so it is also the verification's list of them.
 *
 * shift works row by row (a factor per row, keyed by the row's content)
 * and records (ctid, original) of every changed row, so that the
 * verification can tell a shifted value from one left as it was.
 *
 * Every rule of one table is applied by ONE UPDATE: the ctids recorded
 * for shift stay true until the verification reads them.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "../util/hash.h"
#include "../util/sqltext.h"

#define MAX_NAME 63	  /* PostgreSQL's identifier limit, bytes */
#define MIN_SALT_HEX 32	  /* 16 bytes */
#define MAX_SALT_HEX 1024 /* 512 bytes */
#define MAX_ROUNDS 16	  /* redraws of colliding replacements */

static const char *const kind_names[] = { "hash", "mask", "shift", "null" };

static const char rules_hint[] =
	"use hash, mask, null, shift or shift:N with N from 1 to 99";

static int
name_ok(const char *s, size_t n)
{
	if (n == 0 || n > MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* rule s for key into r; -1 with e. */
static int
parse_rule(struct anon_rule *r, const char *key, const json_t *v, struct err *e)
{
	const char *s = json_string_value(v);

	if (!s)
		return err_set(e,
			       "cloneFrom.anonymize '%s': the rule must be a "
			       "string (%s)",
			       key, rules_hint);
	r->bound = 10;
	if (strcmp(s, "hash") == 0) {
		r->kind = ANON_HASH;
	} else if (strcmp(s, "mask") == 0) {
		r->kind = ANON_MASK;
	} else if (strcmp(s, "null") == 0) {
		r->kind = ANON_NULL;
	} else if (strcmp(s, "shift") == 0) {
		r->kind = ANON_SHIFT;
	} else if (strncmp(s, "shift:", 6) == 0 && s[6] >= '1' && s[6] <= '9' &&
		   (s[7] == '\0' ||
		    (s[7] >= '0' && s[7] <= '9' && s[8] == '\0'))) {
		r->kind = ANON_SHIFT;
		r->bound = s[7] ? (s[6] - '0') * 10 + (s[7] - '0') : s[6] - '0';
	} else {
		return err_set(e,
			       "cloneFrom.anonymize '%s': unknown rule '%.64s' "
			       "(%s)",
			       key, s, rules_hint);
	}
	return 0;
}

static int
by_table_column(const void *a, const void *b)
{
	const struct anon_rule *x = a, *y = b;
	int c = strcmp(x->table, y->table);

	return c ? c : strcmp(x->column, y->column);
}

int
anon_parse(struct anon_rules *r, const json_t *anonymize, struct err *e)
{
	const char *key;
	json_t *v;

	memset(r, 0, sizeof(*r));
	if (!anonymize)
		return 0;
	if (!json_is_object(anonymize))
		return err_set(e, "cloneFrom.anonymize must be an object of "
				  "\"table.column\": rule");
	json_object_foreach((json_t *)anonymize, key, v) {
		const char *dot = strchr(key, '.');
		struct anon_rule *a;

		if (!dot || strchr(dot + 1, '.') ||
		    !name_ok(key, (size_t)(dot - key)) ||
		    !name_ok(dot + 1, strlen(dot + 1))) {
			anon_release(r);
			return err_set(e,
				       "cloneFrom.anonymize '%.200s': expected "
				       "\"table.column\", one dot between two "
				       "names of 1 to %d bytes without control "
				       "characters",
				       key, MAX_NAME);
		}
		xgrow(&r->v, &r->alloc, r->n + 1, sizeof(*r->v));
		a = &r->v[r->n];
		memset(a, 0, sizeof(*a));
		if (parse_rule(a, key, v, e) < 0) {
			anon_release(r);
			return -1;
		}
		a->key = xstrdup(key);
		a->table = xstrndup(key, (size_t)(dot - key));
		a->column = xstrdup(dot + 1);
		r->n++;
	}
	if (r->n)
		qsort(r->v, r->n, sizeof(*r->v), by_table_column);
	return 0;
}

void
anon_release(struct anon_rules *r)
{
	for (size_t i = 0; r && i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].table);
		free(r->v[i].column);
	}
	if (r) {
		free(r->v);
		memset(r, 0, sizeof(*r));
	}
}

/* --- the key ---------------------------------------------------------- */

/* The HMAC pads of the salt, in hex: ipad and opad, 128 digits each. */
static int
pads(const char *salt_hex, char ipad[129], char opad[129], struct err *e)
{
	unsigned char k[MAX_SALT_HEX / 2], block[64] = { 0 };
	size_t n = salt_hex ? strlen(salt_hex) : 0;
	static const char hex[] = "0123456789abcdef";
	int ret = -1;

	if (n < MIN_SALT_HEX || n > MAX_SALT_HEX || n % 2) {
		err_set(e,
			"cannot anonymize the copy: its key must be %d to %d "
			"hexadecimal digits (an even number), derived from "
			"the platform's master key",
			MIN_SALT_HEX, MAX_SALT_HEX);
		goto out;
	}
	if (hash_hex_decode(k, n / 2, salt_hex) < 0) {
		err_set(e, "cannot anonymize the copy: its key is not "
			   "hexadecimal");
		goto out;
	}
	if (n / 2 > sizeof(block)) { /* HMAC: a long key is hashed first */
		char h[SHA256_HEX_LEN + 1];

		hash_sha256_hex(h, k, n / 2);
		hash_hex_decode(block, 32, h);
		memset(h, 0, sizeof(h));
	} else {
		memcpy(block, k, n / 2);
	}
	for (size_t i = 0; i < sizeof(block); i++) {
		unsigned char in = block[i] ^ 0x36, out = block[i] ^ 0x5c;

		ipad[2 * i] = hex[in >> 4];
		ipad[2 * i + 1] = hex[in & 15];
		opad[2 * i] = hex[out >> 4];
		opad[2 * i + 1] = hex[out & 15];
	}
	ipad[128] = opad[128] = '\0';
	ret = 0;
out:
	memset(k, 0, sizeof(k));
	memset(block, 0, sizeof(block));
	return ret;
}

/* --- SQL ------------------------------------------------------------- */

/* HMAC of 'label:' || round || ':' || value, a bytea expression. */
static void
hmac(struct strbuf *sb, const char *label, const char *round, const char *value)
{
	strbuf_addf(sb,
		    "sha256(press_ko || sha256(press_ki || convert_to('%s:' "
		    "|| %s || ':' || %s, 'UTF8')))",
		    label, round, value);
}

/* The replacement of the text value (an expression) in round: an
 * address keeps the shape of one, in a domain that never delivers. */
static void
hash_expr(struct strbuf *sb, const char *value, const char *round)
{
	strbuf_addf(sb,
		    "(SELECT CASE WHEN strpos(%s, '@') > 0"
		    " THEN 'u' || encode(substr(press_h.h, 1, 8), 'hex')"
		    " || '@anon.invalid'"
		    " ELSE 'anon-' || encode(substr(press_h.h, 1, 8), 'hex')"
		    " END FROM (SELECT ",
		    value);
	hmac(sb, "hash", round, value);
	strbuf_addstr(sb, " AS h) press_h)");
}

/* Every ASCII digit, lowercase and uppercase letter replaced by another
 * of its class (never itself), drawn from an HMAC stream (32 bytes per
 * block, a block per 32 characters); everything else kept: a phone
 * number keeps its length, '+', spaces and punctuation. */
static void
mask_expr(struct strbuf *sb, const char *value, const char *round)
{
	strbuf_addstr(
		sb, "(SELECT string_agg(CASE"
		    " WHEN press_c.a BETWEEN 48 AND 57"
		    " THEN chr(48 + (press_c.a - 48 + 1 + press_c.d % 9) % 10)"
		    " WHEN press_c.a BETWEEN 97 AND 122"
		    " THEN chr(97 + (press_c.a - 97 + 1 + press_c.d % 25) % 26)"
		    " WHEN press_c.a BETWEEN 65 AND 90"
		    " THEN chr(65 + (press_c.a - 65 + 1 + press_c.d % 25) % 26)"
		    " ELSE press_c.ch END, '' ORDER BY press_c.i)"
		    " FROM (SELECT ");
	hmac(sb, "mask", round, value);
	strbuf_addf(sb,
		    " AS h) press_h, LATERAL (SELECT press_s.ch, press_s.i,"
		    " ascii(press_s.ch) AS a,"
		    " get_byte(sha256(press_h.h || int4send(((press_s.i - 1)"
		    " / 32)::integer)), ((press_s.i - 1) %% 32)::integer) AS d"
		    " FROM regexp_split_to_table(%s, '') WITH ORDINALITY"
		    " AS press_s(ch, i)) press_c)",
		    value);
}

static void
replacement(struct strbuf *sb, const struct anon_rule *r, const char *value,
	    const char *round)
{
	if (r->kind == ANON_HASH)
		hash_expr(sb, value, round);
	else
		mask_expr(sb, value, round);
}

/* RAISE EXCEPTION 'cannot anonymize %: <msg>', key[, args]. */
static void
raise_error(struct strbuf *sb, const struct anon_rule *r, const char *msg,
	    const char *args)
{
	strbuf_addf(sb, "  RAISE EXCEPTION 'cannot anonymize %%: %s', ", msg);
	sqltext_literal(sb, r->key);
	strbuf_addf(sb, "%s%s;\n", *args ? ", " : "", args);
}

/* The column's type, checked against the rule. */
static void
check_column(struct strbuf *sb, const struct anon_rule *r)
{
	strbuf_addstr(
		sb,
		"SELECT format_type(press_a.atttypid, press_a.atttypmod),"
		" press_y.typname, press_y.typcategory::text,"
		" press_a.atttypmod, press_a.attnotnull\n"
		"  INTO press_ty, press_tn, press_cat, press_tm, press_nn\n"
		"  FROM pg_attribute press_a JOIN pg_type press_y"
		" ON press_y.oid = press_a.atttypid\n"
		" WHERE press_a.attrelid = press_rel AND press_a.attname = ");
	sqltext_literal(sb, r->column);
	strbuf_addstr(sb,
		      " AND press_a.attnum > 0 AND NOT press_a.attisdropped;\n"
		      "IF NOT FOUND THEN\n");
	raise_error(sb, r, "the copy''s table has no such column", "");
	strbuf_addstr(sb, "END IF;\n");
	switch (r->kind) {
	case ANON_HASH:
	case ANON_MASK:
		strbuf_addstr(sb, "IF press_cat <> 'S' THEN\n");
		strbuf_addf(sb,
			    "  RAISE EXCEPTION 'cannot anonymize %%: rule %s "
			    "needs a text column, and it is %%', ",
			    kind_names[r->kind]);
		sqltext_literal(sb, r->key);
		strbuf_addstr(sb, ", press_ty;\nEND IF;\n");
		break;
	case ANON_SHIFT:
		strbuf_addstr(sb, "IF press_tn NOT IN ('int2', 'int4', 'int8', "
				  "'numeric', 'float4', 'float8') THEN\n");
		raise_error(
			sb, r,
			"rule shift needs a number column (smallint, integer, "
			"bigint, numeric, real or double precision), and it is %",
			"press_ty");
		strbuf_addstr(sb, "END IF;\n");
		break;
	case ANON_NULL:
		strbuf_addstr(sb, "IF press_nn THEN\n");
		raise_error(
			sb, r,
			"rule null cannot empty a NOT NULL column (use hash or "
			"mask)",
			"");
		strbuf_addstr(sb, "END IF;\n");
		break;
	}
}

/* A fresh temporary table press_anon_<k> (ON COMMIT DROP). */
static void
temp_table(struct strbuf *sb, size_t k, const char *columns)
{
	strbuf_addf(
		sb,
		"IF to_regclass('pg_temp.press_anon_%zu') IS NOT NULL THEN\n"
		"  DROP TABLE pg_temp.press_anon_%zu;\n"
		"END IF;\n"
		"CREATE TEMPORARY TABLE press_anon_%zu (%s) ON COMMIT DROP;\n",
		k, k, k, columns);
}

/* The map of a hash or mask rule: every distinct original that the rule
 * changes, and its replacement, drawn again while it collides. */
static void
build_map(struct strbuf *sb, const struct anon_rule *r, size_t k, const char *t,
	  const char *c)
{
	temp_table(sb, k, "old text NOT NULL, new text");
	strbuf_addf(sb,
		    "INSERT INTO pg_temp.press_anon_%zu (old)\n"
		    "SELECT DISTINCT press_x.%s::text FROM %s press_x\n"
		    " WHERE press_x.%s::text <> ''",
		    k, c, t, c);
	if (r->kind == ANON_MASK) /* nothing to mask: left as it is */
		strbuf_addf(sb, " AND press_x.%s::text ~ '[0-9A-Za-z]'", c);
	strbuf_addf(sb,
		    ";\nANALYZE pg_temp.press_anon_%zu;\n"
		    "UPDATE pg_temp.press_anon_%zu press_m SET new = ",
		    k, k);
	replacement(sb, r, "press_m.old", "0");
	strbuf_addstr(sb, ";\npress_r := 0;\nLOOP\n");
	strbuf_addf(sb,
		    "  UPDATE pg_temp.press_anon_%zu press_m SET new = ", k);
	replacement(sb, r, "press_m.old", "(press_r + 1)");
	strbuf_addf(
		sb,
		"\n   WHERE press_m.old IN (\n"
		"     SELECT press_b.old FROM pg_temp.press_anon_%zu press_b\n"
		"      WHERE press_b.new IN (SELECT press_o.old"
		" FROM pg_temp.press_anon_%zu press_o)\n"
		"     UNION ALL\n"
		"     SELECT press_b.old FROM pg_temp.press_anon_%zu press_b\n"
		"       JOIN (SELECT press_d.new,"
		" min(press_d.old COLLATE \"C\") AS keep\n"
		"               FROM pg_temp.press_anon_%zu press_d"
		" GROUP BY press_d.new HAVING count(*) > 1) press_g\n"
		"         ON press_g.new = press_b.new"
		" AND press_b.old <> press_g.keep);\n"
		"  GET DIAGNOSTICS press_n = ROW_COUNT;\n"
		"  EXIT WHEN press_n = 0;\n"
		"  press_r := press_r + 1;\n"
		"  IF press_r >= %d THEN\n",
		k, k, k, k, MAX_ROUNDS);
	strbuf_addf(sb,
		    "    RAISE EXCEPTION 'cannot anonymize %%: %% values still "
		    "equal an original or each other after %% rounds of rule "
		    "%s', ",
		    kind_names[r->kind]);
	sqltext_literal(sb, r->key);
	strbuf_addstr(sb, ", press_n, press_r;\n  END IF;\nEND LOOP;\n");
	if (r->kind == ANON_HASH) {
		strbuf_addf(sb,
			    "IF press_tn IN ('varchar', 'bpchar') AND press_tm > 4"
			    " AND EXISTS (SELECT 1 FROM pg_temp.press_anon_%zu"
			    " press_m WHERE length(press_m.new) > press_tm - 4)"
			    " THEN\n",
			    k);
		raise_error(sb, r,
			    "its type % is too short for the values of rule hash "
			    "(up to 30 characters)",
			    "press_ty");
		strbuf_addstr(sb, "END IF;\n");
	}
}

/* The shift of the column's value (numeric expression v, NULL, zero,
 * NaN and infinities kept): by a factor 1 +/- bound% x (0.1 to 1), its
 * sign and size drawn from the HMAC of the row; rounded to the value's
 * own scale, and moved one unit of that scale in the factor's direction
 * when rounding would leave it as it was or make it zero (away from zero
 * when that direction reaches zero: a value never becomes zero or
 * changes sign). */
static void
shift_laterals(struct strbuf *sb, const struct anon_rule *r, size_t k,
	       const char *c)
{
	strbuf_addf(sb,
		    "\n  CROSS JOIN LATERAL (SELECT press_x.%s::numeric AS v, ",
		    c);
	{
		struct strbuf label;

		/* the column's name in the message: a literal */
		strbuf_init(&label, 0);
		sqltext_literal(&label, r->column);
		strbuf_addf(sb,
			    "sha256(press_ko || sha256(press_ki || "
			    "convert_to('shift:' || %s || ':' || "
			    "(press_x.*)::text, 'UTF8'))) AS h) press_k%zu",
			    label.buf, k);
		strbuf_release(&label);
	}
	strbuf_addf(
		sb,
		"\n  CROSS JOIN LATERAL (SELECT CASE WHEN"
		" get_byte(press_k%zu.h, 4) %% 2 = 1 THEN 1 ELSE -1 END AS sg,"
		" (get_byte(press_k%zu.h, 0)::numeric * 16777216"
		" + get_byte(press_k%zu.h, 1) * 65536"
		" + get_byte(press_k%zu.h, 2) * 256"
		" + get_byte(press_k%zu.h, 3)) / 4294967296 AS u) press_f%zu"
		"\n  CROSS JOIN LATERAL (SELECT round(press_k%zu.v * (1 +"
		" press_f%zu.sg * (%d::numeric / 100) * (0.1 + 0.9 *"
		" press_f%zu.u)), scale(press_k%zu.v)) AS w) press_w%zu",
		k, k, k, k, k, k, k, k, r->bound, k, k, k);
}

static void
shift_value(struct strbuf *sb, size_t k)
{
	strbuf_addf(sb,
		    "CASE WHEN press_k%zu.v IS NULL OR press_k%zu.v = 0"
		    " OR scale(press_k%zu.v) IS NULL THEN press_k%zu.v"
		    " WHEN press_w%zu.w <> press_k%zu.v AND press_w%zu.w <> 0"
		    " THEN press_w%zu.w"
		    " ELSE press_k%zu.v + CASE WHEN press_k%zu.v + press_f%zu.sg"
		    " * power(10::numeric, -scale(press_k%zu.v)) = 0"
		    " THEN -press_f%zu.sg ELSE press_f%zu.sg END"
		    " * power(10::numeric, -scale(press_k%zu.v)) END",
		    k, k, k, k, k, k, k, k, k, k, k, k, k, k, k);
}

/* The rules v[0..n) of one table, k0 the number of the first (temporary
 * tables press_anon_<k>), as one DO block. */
static void
table_sql(struct strbuf *sql, const struct anon_rule *v, size_t n, size_t k0,
	  const char *ipad, const char *opad)
{
	struct strbuf decls, body, t, sets, cols, joins, ret, keep;
	const char *table = v[0].table;

	strbuf_init(&decls, 0);
	strbuf_init(&body, 0);
	strbuf_init(&t, 0);
	strbuf_init(&sets, 0);
	strbuf_init(&cols, 0);
	strbuf_init(&joins, 0);
	strbuf_init(&ret, 0);
	strbuf_init(&keep, 0);
	sqltext_ident(&t, table);
	strbuf_addf(&decls,
		    "press_ki bytea := decode('%s', 'hex');\n"
		    "press_ko bytea := decode('%s', 'hex');\n"
		    "press_rel regclass := ",
		    ipad, opad);
	clone_regclass(&decls, table);
	strbuf_addstr(&decls, ";\npress_ty text;\npress_tn name;\n"
			      "press_cat text;\npress_tm integer;\n"
			      "press_nn boolean;\npress_r integer;\n"
			      "press_n bigint;\n");
	strbuf_addstr(&body, "IF press_rel IS NULL THEN\n"
			     "  RAISE EXCEPTION 'cannot anonymize %: the copy "
			     "has no table %', ");
	sqltext_literal(&body, v[0].key);
	strbuf_addstr(&body, ", ");
	sqltext_literal(&body, table);
	strbuf_addstr(&body, "\n    USING HINT = 'cloneFrom.anonymize names "
			     "tables of the copied schema: check the name';\n"
			     "END IF;\n");
	for (size_t i = 0; i < n; i++) {
		const struct anon_rule *r = &v[i];
		size_t k = k0 + i;
		struct strbuf c;

		strbuf_init(&c, 0);
		sqltext_ident(&c, r->column);
		check_column(&body, r);
		if (sets.len)
			strbuf_addstr(&sets, ", ");
		strbuf_addstr(&sets, c.buf);
		switch (r->kind) {
		case ANON_HASH:
		case ANON_MASK:
			build_map(&body, r, k, t.buf, c.buf);
			strbuf_addf(&sets,
				    " = coalesce(press_s.press_n%zu, "
				    "press_t.%s)",
				    k, c.buf);
			strbuf_addf(&cols, ", press_m%zu.new AS press_n%zu", k,
				    k);
			strbuf_addf(&joins,
				    "\n  LEFT JOIN pg_temp.press_anon_%zu "
				    "press_m%zu ON press_m%zu.old = "
				    "press_x.%s::text",
				    k, k, k, c.buf);
			break;
		case ANON_SHIFT:
			temp_table(&body, k,
				   "id tid NOT NULL, old numeric NOT NULL");
			strbuf_addf(&sets, " = press_s.press_n%zu", k);
			strbuf_addf(&cols, ", press_k%zu.v AS press_o%zu, ", k,
				    k);
			shift_value(&cols, k);
			strbuf_addf(&cols, " AS press_n%zu", k);
			shift_laterals(&joins, r, k, c.buf);
			strbuf_addf(&ret, ", press_s.press_o%zu", k);
			strbuf_addf(&keep,
				    ",\npress_keep%zu AS (INSERT INTO "
				    "pg_temp.press_anon_%zu (id, old) SELECT "
				    "press_u.press_id, press_u.press_o%zu FROM "
				    "press_u WHERE press_u.press_o%zu <> 0 AND "
				    "scale(press_u.press_o%zu) IS NOT NULL)",
				    k, k, k, k, k);
			break;
		case ANON_NULL: strbuf_addstr(&sets, " = NULL"); break;
		}
		strbuf_release(&c);
	}
	strbuf_addf(&body,
		    "WITH press_u AS (\n"
		    "UPDATE %s AS press_t SET %s\n"
		    "  FROM (SELECT press_x.ctid AS press_id%s\n"
		    "  FROM %s press_x%s) press_s\n"
		    " WHERE press_t.ctid = press_s.press_id\n"
		    "RETURNING press_t.ctid AS press_id%s)%s\n"
		    "SELECT count(*) INTO press_n FROM press_u;\n",
		    t.buf, sets.buf, cols.buf, t.buf, joins.buf, ret.buf,
		    keep.buf);
	clone_do(sql, decls.buf, body.buf);
	memset(decls.buf, 0, decls.len); /* the pads */
	strbuf_release(&decls);
	strbuf_release(&body);
	strbuf_release(&t);
	strbuf_release(&sets);
	strbuf_release(&cols);
	strbuf_release(&joins);
	strbuf_release(&ret);
	strbuf_release(&keep);
}

/* A finding when press_n > 0: "<key>: <n> <what> (rule <rule>)". */
static void
finding(struct strbuf *sb, const struct anon_rule *r, const char *what)
{
	strbuf_addstr(sb, "IF press_n > 0 THEN\n"
			  "  press_f := array_append(press_f, format('%s: %s ");
	strbuf_addf(sb, "%s (rule %s)', ", what, kind_names[r->kind]);
	sqltext_literal(sb, r->key);
	strbuf_addstr(sb, ", press_n));\nEND IF;\n");
}

/* The checks of rule r (number k) for the verification function. */
static void
rule_checks(struct strbuf *sb, const struct anon_rule *r, size_t k)
{
	struct strbuf t, c;

	strbuf_init(&t, 0);
	strbuf_init(&c, 0);
	sqltext_ident(&t, r->table);
	sqltext_ident(&c, r->column);
	switch (r->kind) {
	case ANON_HASH:
	case ANON_MASK:
		strbuf_addf(sb,
			    "SELECT count(*) INTO press_n FROM %s press_x\n"
			    " WHERE press_x.%s::text IN (SELECT press_m.old"
			    " FROM pg_temp.press_anon_%zu press_m);\n",
			    t.buf, c.buf, k);
		finding(sb, r, "values equal an original");
		break;
	case ANON_SHIFT:
		strbuf_addf(sb,
			    "SELECT count(*) INTO press_n FROM %s press_x\n"
			    "  JOIN pg_temp.press_anon_%zu press_m"
			    " ON press_m.id = press_x.ctid\n"
			    " WHERE press_x.%s = press_m.old;\n",
			    t.buf, k, c.buf);
		finding(sb, r, "values other than zero are unchanged");
		strbuf_addf(sb,
			    "SELECT count(*) INTO press_n"
			    " FROM pg_temp.press_anon_%zu press_m\n"
			    " WHERE NOT EXISTS (SELECT 1 FROM %s press_x"
			    " WHERE press_x.ctid = press_m.id);\n",
			    k, t.buf);
		finding(sb, r,
			"rows were changed after the anonymization and "
			"cannot be checked");
		break;
	case ANON_NULL:
		strbuf_addf(sb,
			    "SELECT count(*) INTO press_n FROM %s press_x"
			    " WHERE press_x.%s IS NOT NULL;\n",
			    t.buf, c.buf);
		finding(sb, r, "values are not NULL");
		break;
	}
	strbuf_release(&t);
	strbuf_release(&c);
}

int
anon_sql(struct strbuf *sql, struct strbuf *checks, const struct anon_rules *r,
	 const char *salt_hex, struct err *e)
{
	char ipad[129], opad[129];

	if (pads(salt_hex, ipad, opad, e) < 0)
		return -1;
	for (size_t i = 0, j; i < r->n; i = j) {
		for (j = i + 1;
		     j < r->n && strcmp(r->v[j].table, r->v[i].table) == 0; j++)
			;
		table_sql(sql, &r->v[i], j - i, i + 1, ipad, opad);
	}
	for (size_t i = 0; i < r->n; i++)
		rule_checks(checks, &r->v[i], i + 1);
	memset(ipad, 0, sizeof(ipad));
	memset(opad, 0, sizeof(opad));
	return 0;
}
