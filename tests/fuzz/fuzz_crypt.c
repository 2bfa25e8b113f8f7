/*
 * libFuzzer target: the backup decryption stream (backup/crypt.h), whose
 * input is whatever the backups bucket hands back.
 *
 * Input layout: byte 0 selects the mode, the rest is the data.
 *   mode even   the data is fed to a reader as ciphertext, cut into
 *               pieces whose sizes come from the data itself; it must be
 *               refused (no crash, no leak), and whatever the sink got
 *               before the refusal must be authenticated plaintext, which
 *               arbitrary data never yields past the header
 *   mode odd    the data is plaintext: encrypted, then decrypted in
 *               pieces, it must come back byte for byte; the same stream
 *               with one byte flipped (position from the mode byte and
 *               the length), or cut short by one byte, must be refused
 *               with nothing but authenticated chunks delivered.
 *
 * Nothing may crash or leak, and no unauthenticated byte may reach a sink.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/crypt.h"
#include "util/strbuf.h"
#include "fuzz.h"

static int
collect(void *arg, const void *data, size_t len, struct err *e)
{
	(void)e;
	check(strbuf_add(arg, data, len) == 0);
	return 0;
}

/* Decrypt len bytes of c in pieces sized by step (1 to 64 KiB + 41); 0
 * when the stream was accepted whole. */
static int
decrypt(const struct crypt_key *k, const unsigned char *c, size_t len,
	unsigned step, struct strbuf *out)
{
	struct crypt_reader *r = NULL;
	struct err e;
	int rc = -1;

	check(crypt_reader_new(&r, k, collect, out, &e) == 0);
	for (size_t off = 0; off < len;) {
		size_t n = 1 + (step * 2654435761u + off) % (CRYPT_CHUNK_LEN + 41);

		if (n > len - off)
			n = len - off;
		if (crypt_reader_write(r, c + off, n, &e) < 0)
			goto out;
		off += n;
	}
	rc = crypt_reader_finish(r, &e);
out:
	crypt_reader_free(r);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct crypt_key key;
	static int ready;
	struct strbuf plain, cipher;
	struct crypt_writer *w = NULL;
	struct err e;
	unsigned mode;

	if (!ready) {
		check(crypt_key_derive(&key, "fuzz-backup-key", 15, &e) == 0);
		ready = 1;
	}
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	strbuf_init(&plain, 0);
	strbuf_init(&cipher, 0);
	if (!(mode & 1)) {
		/* Random bytes are never a stream of this key past its header. */
		check(decrypt(&key, data, size, mode, &plain) < 0);
		check(plain.len == 0);
		goto out;
	}
	check(crypt_writer_new(&w, &key, collect, &cipher, &e) == 0);
	check(crypt_writer_write(w, data, size, &e) == 0);
	check(crypt_writer_finish(w, &e) == 0);
	crypt_writer_free(w);
	check(cipher.len >= CRYPT_HEADER_LEN + CRYPT_TAG_LEN + size);
	check(decrypt(&key, (unsigned char *)cipher.buf, cipher.len, mode,
		      &plain) == 0);
	check(plain.len == size && (!size || !memcmp(plain.buf, data, size)));

	/* One flipped byte anywhere, or one missing at the end: refused,
	 * and what came out before is a prefix of the plaintext. */
	{
		size_t at = (mode * 131u + size) % cipher.len;

		cipher.buf[at] ^= (char)(1 + (mode >> 1) % 255);
		strbuf_reset(&plain);
		check(decrypt(&key, (unsigned char *)cipher.buf, cipher.len,
			      mode >> 1, &plain) < 0);
		check(plain.len <= size && !memcmp(plain.buf, data, plain.len));
		cipher.buf[at] ^= (char)(1 + (mode >> 1) % 255);
		strbuf_reset(&plain);
		check(decrypt(&key, (unsigned char *)cipher.buf, cipher.len - 1,
			      mode, &plain) < 0);
		check(plain.len <= size && !memcmp(plain.buf, data, plain.len));
	}
out:
	strbuf_release(&plain);
	strbuf_release(&cipher);
	return 0;
}
