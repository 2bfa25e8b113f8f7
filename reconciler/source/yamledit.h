/*
 * yamledit.h - change one value in one document of a YAML file and keep
 * every other byte: comments, blank lines, key order, quoting, the
 * other documents. promote and rollback write their commits with it.
 *
 * How: the file is parsed with libyaml, whose events carry the position
 * of every node; an edit splices the bytes of one scalar (set), adds one
 * line, or one "key: value" in a flow mapping (insert), or cuts one
 * entry (remove). Nothing is re-emitted.
 *
 * Every edit is checked before it is returned: the result is parsed
 * again, and its node tree (kinds, scalar values, quoting styles, tags,
 * key order) must equal the original's with exactly that one change,
 * every other document unchanged. Comparing nodes rather than JSON is
 * the stronger check: an untouched scalar keeps its bytes and style, so
 * it keeps its type under any YAML schema (the loader's YAML 1.2 core
 * schema, or a YAML 1.1 tool's). A result that fails the check is an
 * error, never returned.
 *
 * Values are written so that they read back as the JSON value given,
 * in pressctl's loader and in YAML 1.1 tools alike: a string stays
 * plain only when no reader could take it for anything else (it starts
 * with a letter, '/' or '_' and holds only letters, digits and
 * "_./@+-", plus ':' outside flow collections; never yes/no/on/off/y/n/
 * null/true/false in any case); otherwise it is quoted, in single
 * quotes, or in double quotes when it holds control or line-breaking
 * characters. A replaced scalar that was quoted keeps its quote style
 * when the new value allows it. Numbers, booleans and null are plain.
 *
 * Refused with an error: anchors, aliases and merge keys ("<<") on the
 * path, duplicate keys on the path, a path through a sequence item that
 * does not exist, a value that is a mapping or sequence (only scalars
 * are set), a null intermediate value ("env:" with nothing: write
 * "env: {}" first), files that are not UTF-8, and files over
 * SOURCE_MAX_FILE_BYTES or nested deeper than YAMLEDIT_MAX_DEPTH.
 *
 * Ownership: inputs are borrowed; *out is a new NUL-terminated buffer
 * the caller frees (NULL on error). Nothing here prints.
 */
#ifndef PRESS_SOURCE_YAMLEDIT_H
#define PRESS_SOURCE_YAMLEDIT_H

#include <stddef.h>

#include <jansson.h>

#include "../util/err.h"

#define YAMLEDIT_MAX_DEPTH 64

/*
 * Which document of the file to edit. Every criterion given must hold
 * and exactly one document must match; none or several is an error
 * that names the criteria. promote passes all of them: the index the
 * loader recorded (struct doc's index) and the identity it expects
 * there, so a file rewritten in between is not edited blindly.
 */
struct yamledit_doc {
	int index;	  /* 0-based, counting empty documents as the
			   * loader does; -1: any */
	const char *kind; /* the document's kind, or NULL: any */
	const char *name; /* its metadata.name, or NULL: any */
	const char *site; /* its spec.site, or NULL: any */
};

/*
 * Set the value at pointer (a JSON pointer into the document, e.g.
 * "/spec/image", "/spec/env/FEATURE_X", "/spec/command/0"; '~1' and
 * '~0' escape '/' and '~') to value, a JSON scalar (string, integer,
 * real, true, false, null; borrowed).
 *
 * An existing scalar is replaced in place: only its bytes change (a
 * trailing comment on its line stays). A missing key is added, with the
 * missing mappings on the way ("/spec/env/X" without env adds "env:"
 * and "X" under it): in a block mapping as new lines after the last
 * line of its last entry (so before any comment that precedes the next
 * key of the parent), at the indentation of its keys, a nested level
 * indented as the file indents (2 when it cannot tell), with the line
 * ending the file uses (CRLF files stay CRLF); in a flow mapping as
 * ", key: value" after its last entry ("{site: a}" becomes "{site: a,
 * image: x}"). Sequence items are replaced, never added.
 *
 * *out and *outlen receive the new file (equal to the input when the
 * value was already written that way). file names the file in messages,
 * located where a node is to blame ("envs/acme.yaml:4:3: cannot set
 * '/spec/image': '/spec' is a sequence, not a mapping"), else "cannot
 * set '/spec/image' in 'envs/acme.yaml': no document matches kind
 * 'Environment', name 'production', site 'acme' (...)".
 */
int yamledit_set(char **out, size_t *outlen, const char *file, const char *data,
		 size_t len, const struct yamledit_doc *doc,
		 const char *pointer, const json_t *value, struct err *e);

/*
 * Remove the key at pointer with its value (any kind) from its mapping:
 * in a block mapping, the lines from the key's to the end of its value
 * (the key must begin its line: not "- key: v"); in a flow mapping, the
 * entry and one separating comma. Comment lines above the key stay.
 * Refused when the key is the only one of its mapping (the mapping
 * would become null, not empty). A missing key is an error.
 */
int yamledit_remove(char **out, size_t *outlen, const char *file,
		    const char *data, size_t len,
		    const struct yamledit_doc *doc, const char *pointer,
		    struct err *e);

#endif
