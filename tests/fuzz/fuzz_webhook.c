/*
 * libFuzzer target: webhook verification and the delivery decision
 * (serve/internal.h) on one untrusted request.
 *
 * Input layout (the seeds in tests/fixtures/webhooks/ follow it):
 *   byte 0      flags: bit 0 replaces X-Hub-Signature-256 with the right
 *               signature of the body, bit 1 does so for X-Signature
 *               (bare hex), so the paths past the signature are reached
 *   5 lines     X-Hub-Signature-256, X-Signature, X-GitHub-Delivery,
 *               X-Delivery-Id, X-GitHub-Event, each ending in '\n'; an
 *               empty line is an absent header
 *   the rest    the body
 *
 * Nothing may crash or leak; the verdict must be one of the documented
 * answers; a valid verdict must hand on a clean event and delivery id;
 * the same delivery decided twice must be a duplicate the second time.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "serve/internal.h"
#include "fuzz.h"

#define SECRET "fuzz-webhook-secret"
#define NFIELDS 5

/* "sha256=<hex>" of the body under SECRET. */
static void
sign(char out[72], const void *body, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	     (const unsigned char *)(len ? body : ""), len, md, &mdlen);
	check(mdlen == 32);
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 15];
	}
	out[71] = '\0';
}

static int
clean(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

static void
check_verdict(const struct webhook_verdict *v)
{
	size_t n;

	check(v->message != NULL);
	n = strlen(v->message);
	check(n > 0 && v->message[n - 1] == '\n');
	switch (v->status) {
	case 200:
	case 400:
	case 401:
	case 404: check(!v->call_hook); break;
	case 202:
		check(v->call_hook);
		check(clean(v->event, EVENT_MAX));
		check(clean(v->delivery, DELIVERY_MAX));
		check(strcmp(v->event, "ping") != 0);
		break;
	default: check(0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *p, *end, *field[NFIELDS] = { 0 };
	char good[72];
	struct webhook_request rq;
	struct webhook_verdict v, again;
	struct replay *seen;
	unsigned flags;

	if (size == 0)
		return 0;
	flags = data[0];
	/* A NUL-terminated copy, so the header fields are C strings. */
	copy = malloc(size);
	check(copy != NULL);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	p = copy;
	end = copy + size - 1;
	for (int i = 0; i < NFIELDS && p < end; i++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			break;
		*nl = '\0';
		field[i] = *p ? p : NULL;
		p = nl + 1;
	}

	memset(&rq, 0, sizeof(rq));
	rq.hub_signature = field[0];
	rq.signature = field[1];
	rq.github_delivery = field[2];
	rq.delivery_id = field[3];
	rq.github_event = field[4];
	rq.body = p;
	rq.len = (size_t)(end - p);

	/* The raw verifier, both headers, and with the right signature. */
	sign(good, rq.body, rq.len);
	for (int i = 0; i < 2; i++)
		if (field[i]) {
			int ok = webhook_verify(SECRET, field[i], rq.body,
						rq.len);

			check(ok == 0 || ok == 1);
			if (strcmp(field[i], good) == 0 ||
			    strcmp(field[i], good + 7) == 0)
				check(ok == 1);
		}
	check(webhook_verify(SECRET, good, rq.body, rq.len) == 1);
	check(webhook_verify(SECRET, good + 7, rq.body, rq.len) == 1);
	check(webhook_verify("", good, rq.body, rq.len) == 0);

	if (flags & 1)
		rq.hub_signature = good;
	if (flags & 2)
		rq.signature = good + 7;

	webhook_decide(&v, NULL, NULL, &rq);
	check(v.status == 404 && !v.call_hook);

	seen = replay_new();
	webhook_decide(&v, SECRET, seen, &rq);
	check_verdict(&v);
	webhook_decide(&again, SECRET, seen, &rq);
	check_verdict(&again);
	if (v.status == 202 ||
	    (v.status == 200 && !strcmp(v.message, "pong\n")))
		check(again.status == 200 && !again.call_hook &&
		      strcmp(again.message, "duplicate delivery ignored\n") ==
			      0);
	else
		check(again.status == v.status);
	replay_free(seen);
	free(copy);
	return 0;
}
