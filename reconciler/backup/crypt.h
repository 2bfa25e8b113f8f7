/*
 * crypt.h - backup encryption: AES-256-GCM in authenticated chunks.
 *
 * A backup (a database dump of any size, a bucket's files) is encrypted
 * as a stream in bounded memory (a writer holds one 64 KiB chunk, a
 * reader one of ciphertext and one of plaintext): the writer takes
 * plaintext in pieces of any size and hands ciphertext to a sink; the
 * reader takes ciphertext in pieces of any size and hands the sink only
 * plaintext that has been authenticated. A changed byte, reordered or
 * missing chunks, a stream cut short or data appended after its end are
 * all detected; a wrong key is said as such before anything is
 * decrypted. The format is described at the top of crypt.c and in
 * docs/backup.md ("Encryption").
 *
 * Errors are permanent (nothing here is worth retrying), except those a
 * sink returns, which are passed on as the sink set them. After an
 * error, a writer or a reader only accepts crypt_*_free.
 */
#ifndef PRESS_CRYPT_H
#define PRESS_CRYPT_H

#include <stddef.h>

#include "../util/err.h"

#define CRYPT_KEY_LEN 32

/* magic "PRESSENC" (8) + version (1) + key id (8) + nonce prefix (8) */
#define CRYPT_HEADER_LEN 25

/* Plaintext bytes per chunk; each chunk carries a CRYPT_TAG_LEN tag. */
#define CRYPT_CHUNK_LEN 65536
#define CRYPT_TAG_LEN 16

struct crypt_key {
	unsigned char k[CRYPT_KEY_LEN];
	char id[17]; /* 16 lowercase hex: the key's public id */
};

/*
 * Derive the backup key from the value of a secret reference (len bytes
 * of anything; borrowed, not kept): HKDF-SHA256 with the salt "pressctl
 * backup v1" and the info "aes-256-gcm". The id, which is not secret and
 * is written in every encrypted stream, is the first 8 bytes of
 * HMAC-SHA256(key, "pressctl key id") in hex. Fails for an empty secret.
 * The caller wipes *out with crypt_key_wipe when done.
 */
int crypt_key_derive(struct crypt_key *out, const void *secret, size_t len,
		     struct err *e);

/* Overwrite the key and its id with zeros. */
void crypt_key_wipe(struct crypt_key *k);

/*
 * Where a writer or a reader delivers its output: len bytes at data,
 * borrowed for the call only. Returns 0, or -1 with e set; the error
 * stops the stream and is returned as the sink set it.
 */
typedef int (*crypt_sink)(void *arg, const void *data, size_t len,
			  struct err *e);

/*
 * Streaming encryption. crypt_writer_new keeps its own copy of the key
 * schedule (k is borrowed) and draws a random nonce prefix; sink and arg are borrowed for the
 * writer's life. crypt_writer_write takes plaintext in pieces of any size
 * (borrowed); the header and each full chunk go to the sink as they are
 * ready. crypt_writer_finish writes the final chunk (the stream is not
 * valid without it); no write may follow. The writer holds at most one
 * chunk of plaintext, which crypt_writer_free (accepts NULL) wipes.
 */
struct crypt_writer;
int crypt_writer_new(struct crypt_writer **out, const struct crypt_key *k,
		     crypt_sink sink, void *arg, struct err *e);
int crypt_writer_write(struct crypt_writer *w, const void *data, size_t len,
		       struct err *e);
int crypt_writer_finish(struct crypt_writer *w, struct err *e);
void crypt_writer_free(struct crypt_writer *w);

/*
 * Streaming decryption. crypt_reader_new keeps its own copy of the key
 * schedule and id (k is borrowed); sink and arg are borrowed for the reader's life.
 * crypt_reader_write takes ciphertext in pieces of any size (borrowed)
 * and hands each chunk's plaintext to the sink once the chunk is
 * authenticated: nothing unauthenticated ever reaches the sink, but the
 * chunks before a failing one have reached it, so a caller that must not
 * keep part of a backup discards what it got when an error comes.
 * crypt_reader_finish says the stream has ended: it opens the last
 * chunk and fails when the final chunk is missing (a truncated stream).
 * The errors say what is wrong: not an encrypted backup, an unsupported
 * format version, a different key ("the backup was encrypted with key
 * <id>, not with the given key <id>"), a chunk that fails authentication
 * (changed, reordered or truncated data), a truncated stream, data after
 * the final chunk. crypt_reader_free (accepts NULL) wipes the buffers.
 */
struct crypt_reader;
int crypt_reader_new(struct crypt_reader **out, const struct crypt_key *k,
		     crypt_sink sink, void *arg, struct err *e);
int crypt_reader_write(struct crypt_reader *r, const void *data, size_t len,
		       struct err *e);
int crypt_reader_finish(struct crypt_reader *r, struct err *e);
void crypt_reader_free(struct crypt_reader *r);

/*
 * The key id (16 lowercase hex digits and a NUL, into id) of an encrypted
 * stream whose first len bytes are at header: 0, or -1 when those bytes
 * are fewer than CRYPT_HEADER_LEN or not the header of a stream this
 * version reads. Lets a caller say "encrypted with key X, you gave key Y"
 * before decrypting anything.
 */
int crypt_header_key_id(const void *header, size_t len, char id[17]);

#endif
