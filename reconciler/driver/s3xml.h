/*
 * s3xml.h - the S3 response parsers (driver/s3xml.c), used by
 * driver/s3.c; internal to driver/ (and tests/fuzz/fuzz_s3xml.c).
 *
 * Every parser takes untrusted bytes (a server, or a fuzzer) and either
 * fills its result or fails with a message in e; it never crashes, never
 * recurses on nesting and keeps memory bounded: nesting deeper than
 * S3XML_MAX_DEPTH, a text node longer than S3XML_MAX_TEXT, more than
 * S3XML_MAX_ITEMS entries, a DOCTYPE (no entity tricks) or malformed XML
 * are errors. Element names match by local name (any "prefix:" ignored).
 *
 * Results are owned by the caller: release them with the matching
 * *_release(), also after a failed parse (which leaves them valid).
 */
#ifndef PRESS_S3XML_H
#define PRESS_S3XML_H

#include <stddef.h>

#include "../util/err.h"

#define S3XML_MAX_DEPTH 16
#define S3XML_MAX_TEXT 16384
#define S3XML_MAX_ITEMS 200000

/* ListBuckets: <ListAllMyBucketsResult><Buckets><Bucket>... */
struct s3xml_bucket {
	char *name;
	char *created; /* CreationDate as sent, or NULL */
};

struct s3xml_buckets {
	struct s3xml_bucket *v;
	size_t n, alloc;
	char *next_token; /* ContinuationToken (paginated), or NULL */
};

/* ListObjectsV2: <ListBucketResult><Contents>... */
struct s3xml_object {
	char *key;
	char *etag; /* as sent, quotes kept; NULL if none */
	long long size;
};

struct s3xml_objects {
	struct s3xml_object *v;
	size_t n, alloc;
	int truncated;	  /* IsTruncated is true */
	char *next_token; /* NextContinuationToken, or NULL */
};

/* ListMultipartUploads: <ListMultipartUploadsResult><Upload>... */
struct s3xml_upload {
	char *key, *upload_id;
};

struct s3xml_uploads {
	struct s3xml_upload *v;
	size_t n, alloc;
	int truncated;
	char *next_key_marker, *next_upload_id_marker;
};

/* An error document (<Error><Code>, <Message>); fields truncated. */
struct s3xml_error {
	char code[64];
	char message[512];
};

/* DeleteObjects: <DeleteResult><Error><Key>, <Code>, <Message>... */
struct s3xml_delete_error {
	char *key;
	char *code, *message; /* may be NULL */
};

struct s3xml_delete {
	struct s3xml_delete_error *v;
	size_t n, alloc;
	size_t deleted; /* <Deleted> entries (not in quiet mode) */
};

void s3xml_buckets_init(struct s3xml_buckets *b);
void s3xml_buckets_release(struct s3xml_buckets *b);
void s3xml_objects_init(struct s3xml_objects *o);
void s3xml_objects_release(struct s3xml_objects *o);
void s3xml_uploads_init(struct s3xml_uploads *u);
void s3xml_uploads_release(struct s3xml_uploads *u);
void s3xml_delete_init(struct s3xml_delete *d);
void s3xml_delete_release(struct s3xml_delete *d);

/* Each appends what xml (len bytes, not NUL-terminated) holds to out,
 * which must have been initialized. 0 ok, -1 on a malformed document or
 * one with another root element. */
int s3xml_parse_list_buckets(struct s3xml_buckets *out, const char *xml,
			     size_t len, struct err *e);
int s3xml_parse_list_objects(struct s3xml_objects *out, const char *xml,
			     size_t len, struct err *e);
int s3xml_parse_list_uploads(struct s3xml_uploads *out, const char *xml,
			     size_t len, struct err *e);
int s3xml_parse_delete_result(struct s3xml_delete *out, const char *xml,
			      size_t len, struct err *e);

/* InitiateMultipartUpload: the <UploadId> (a new string, free() it).
 * 0, or -1 when the document has none. */
int s3xml_parse_initiate(char **upload_id, const char *xml, size_t len,
			 struct err *e);

/* Parse an <Error> document into out (always cleared first). 0 when
 * it was one, -1 otherwise (an empty body, HTML from a proxy, ...). */
int s3xml_parse_error(struct s3xml_error *out, const char *xml, size_t len);

/* Copy len bytes of src into dst (n bytes, always NUL-terminated when
 * n > 0, truncated to fit), each byte outside printable ASCII replaced
 * by '?': text from a server goes into error messages, which must stay
 * one clean line. */
void s3xml_clean(char *dst, size_t n, const char *src, size_t len);

#endif
