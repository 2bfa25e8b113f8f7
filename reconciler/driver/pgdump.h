/*
 * pgdump.h - an environment's schema as data: dumped for a backup,
 * restored from one, described for verification. The PostgreSQL
 * driver's second face (pgdump.c); the core reaches PostgreSQL only
 * through the drivers.
 *
 * Dumps are pg_dump's custom format (-Fc) of one schema, streamed: no
 * temporary file, memory bounded. The client tools (pg_dump, pg_restore,
 * psql) are found on PATH, or in PRESS_PG_BINDIR when set; they must be
 * the server's major version or newer. They get the DSN's settings as
 * PG* environment variables, never on their command line.
 *
 * A table's checksum is the sum of hashtextextended(row::text, 0) over
 * its rows, as a decimal string: independent of row order and of the
 * dump format, cheap (no sort), and the same after a restore.
 */
#ifndef PRESS_PGDUMP_H
#define PRESS_PGDUMP_H

#include <jansson.h>

#include "blob.h"
#include "../util/err.h"

struct pgdump;

/*
 * Open a consistent view of schema for a backup: one connection in a
 * REPEATABLE READ, READ ONLY transaction whose snapshot is exported, so
 * that what describe counts and what stream dumps are the same data.
 * dsn is borrowed (never printed). A missing schema is an error.
 */
int pgdump_open(struct pgdump **out, const char *dsn, const char *schema,
		struct err *e);
void pgdump_close(struct pgdump *d); /* accepts NULL */

/*
 * In the snapshot: *tables, a new array of {"name", "rows", "checksum"}
 * sorted by name (ordinary tables and materialized views); fingerprint,
 * the SHA-256 of the schema's structure (tables, columns, types,
 * defaults, constraints, indexes), which *structure holds one fact per
 * line ("col t.c integer not null", "con t t_pkey PRIMARY KEY (id)",
 * "idx ...", "rel t r"; a new string); *version, the server's version (a
 * new string).
 */
int pgdump_describe(struct pgdump *d, json_t **tables, char fingerprint[65],
		    char **structure, char **version, struct err *e);

/*
 * The same as describe, on a thread of its own while pgdump_stream runs
 * (pg_dump on its connection, describe on the snapshot's: two readers of
 * one snapshot, at once). begin starts it; end waits for it and gives
 * what describe gives, or its error. Between the two, d serves only
 * pgdump_stream. pgdump_close cancels a describe never ended and waits
 * for it.
 */
int pgdump_describe_begin(struct pgdump *d, struct err *e);
int pgdump_describe_end(struct pgdump *d, json_t **tables, char fingerprint[65],
			char **structure, char **version, struct err *e);

/* pg_dump -Fc of the schema in the snapshot, to sink as it comes. */
int pgdump_stream(struct pgdump *d, blob_sink sink, void *arg, struct err *e);

/* Whether schema exists: *exists 1 or 0. */
int pgdump_exists(const char *dsn, const char *schema, int *exists,
		  struct err *e);

/* Rows and checksum of those of names that exist in schema now: *out a
 * new array of {"name", "rows", "checksum"} (a missing table is left
 * out). */
int pgdump_table_sums(const char *dsn, const char *schema,
		      const char *const *names, size_t n, json_t **out,
		      struct err *e);

/* The fingerprint of a live schema (outside any backup) and, structure
 * not NULL, its structure; as above. */
int pgdump_structure(const char *dsn, const char *schema,
		     char fingerprint[65], char **structure, struct err *e);

/* The fingerprints of n live schemas on one connection: fingerprints[i]
 * of schemas[i] ("" for one that does not exist). -1 when the connection
 * or a query fails (e names the schema). */
int pgdump_fingerprints(const char *dsn, const char *const *schemas, size_t n,
			char (*fingerprints)[65], struct err *e);

struct pgrestore_opts {
	const char *dsn;	   /* borrowed, never printed */
	const char *source_schema; /* the schema the dump holds */
	const char *target_schema; /* where it goes */
	const char *owner;	   /* the target's role: owns everything */
	const char *keep_as;	   /* the target's current copy is renamed
				    * to this (it must exist), or NULL when
				    * the target does not exist */
	const char *mark;	   /* the ownership mark comment */
	json_t *tables;		   /* expected, as pgdump_describe gives */
	/* A clone's: SQL run on the restored schema (search_path set to
	 * it) once it verified and before any grant, and a query giving
	 * one text that must be empty or NULL afterwards (else the
	 * transaction fails with it); NULL each when none. */
	const char *neutralize, *neutralize_check;
};

/*
 * Restore a dump into o->target_schema, in ONE transaction: the current
 * target (if any) is renamed to keep_as, the dump is restored under its
 * own name (a live schema of that name is moved aside for the
 * transaction and back), renamed to the target, verified against
 * o->tables (row counts and checksums), neutralized and checked (a
 * clone), handed to the owner with the grants pressctl gives an
 * environment's schema, and marked; only then does the transaction
 * commit. Any failure, a kill, or a verification
 * mismatch rolls all of it back: readers see the old schema or the
 * restored one, never a missing or half one. feed writes the dump's
 * bytes to the sink it is given.
 */
int pgrestore_run(const struct pgrestore_opts *o,
		  int (*feed)(void *arg, blob_sink sink, void *sink_arg,
			      struct err *e),
		  void *arg, struct err *e);

/*
 * Restore a dump into a scratch schema, compare it with tables, and drop
 * it: the restore drill (backup verify --restore-test). Nothing live is
 * touched; the scratch schema never commits.
 */
int pgrestore_test(const char *dsn, const char *source_schema, json_t *tables,
		   int (*feed)(void *arg, blob_sink sink, void *sink_arg,
			       struct err *e),
		   void *arg, struct err *e);

#endif
