/*
 * webhook.c - deciding a webhook delivery: signature (HMAC-SHA256 in
 * constant time), replay protection by delivery id, event name.
 */
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../util/err.h"
#include "../util/hash.h"

#define SHA256_LEN 32
#define REPLAY_BUCKETS 2048 /* power of two, twice REPLAY_KEEP */

/* --- signature ------------------------------------------------------ */

int
webhook_verify(const char *secret, const char *header, const void *body,
	       size_t len)
{
	static const unsigned char empty[1];
	unsigned char got[SHA256_LEN], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t keylen;
	int ok = 0;

	if (secret == NULL || header == NULL || (body == NULL && len > 0))
		return 0;
	keylen = strlen(secret);
	if (keylen == 0 || keylen > INT_MAX) /* no secret, no proof */
		return 0;
	if (strncmp(header, "sha256=", 7) == 0)
		header += 7;
	/* Exactly 64 hex digits: a short or long value is wrong, not
	 * "compared as far as it goes". The format is public, so leaving
	 * early here leaks nothing; only the comparison is secret. */
	if (strnlen(header, 2 * SHA256_LEN + 1) != 2 * SHA256_LEN ||
	    hash_hex_decode(got, SHA256_LEN, header) < 0)
		return 0;
	if (HMAC(EVP_sha256(), secret, (int)keylen,
		 len ? (const unsigned char *)body : empty, len, md,
		 &mdlen) == NULL ||
	    mdlen != SHA256_LEN)
		goto out;
	ok = CRYPTO_memcmp(md, got, SHA256_LEN) == 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	return ok;
}

/* --- replay memory -------------------------------------------------- */

struct replay_entry {
	char *id; /* NULL: slot unused */
	uint32_t hash;
	int next; /* next entry in the same bucket, or -1 */
};

struct replay {
	pthread_mutex_t mu;
	struct replay_entry ring[REPLAY_KEEP];
	int bucket[REPLAY_BUCKETS]; /* first entry, or -1 */
	size_t head;		    /* next slot to (re)use */
};

/* FNV-1a. Attacker-chosen collisions cost at most REPLAY_KEEP compares,
 * and only deliveries with a valid signature are remembered. */
static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

struct replay *
replay_new(void)
{
	struct replay *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	for (size_t i = 0; i < REPLAY_BUCKETS; i++)
		r->bucket[i] = -1;
	for (size_t i = 0; i < REPLAY_KEEP; i++)
		r->ring[i].next = -1;
	return r;
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < REPLAY_KEEP; i++)
		free(r->ring[i].id);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Unlink ring entry i from its bucket chain. */
static void
forget(struct replay *r, int i)
{
	int *link = &r->bucket[r->ring[i].hash & (REPLAY_BUCKETS - 1)];

	while (*link != -1 && *link != i)
		link = &r->ring[*link].next;
	if (*link == i)
		*link = r->ring[i].next;
	free(r->ring[i].id);
	r->ring[i].id = NULL;
	r->ring[i].next = -1;
}

int
replay_check(struct replay *r, const char *id)
{
	uint32_t h = fnv1a(id);
	int *head, slot, seen = 0;

	pthread_mutex_lock(&r->mu);
	head = &r->bucket[h & (REPLAY_BUCKETS - 1)];
	for (int i = *head; i != -1; i = r->ring[i].next)
		if (r->ring[i].hash == h && strcmp(r->ring[i].id, id) == 0) {
			seen = 1;
			goto out;
		}
	slot = (int)r->head;
	if (r->ring[slot].id)
		forget(r, slot);
	r->ring[slot].id = xstrdup(id);
	r->ring[slot].hash = h;
	r->ring[slot].next = *head;
	*head = slot;
	r->head = (r->head + 1) % REPLAY_KEEP;
out:
	pthread_mutex_unlock(&r->mu);
	return seen;
}

/* --- the decision --------------------------------------------------- */

/* Printable ASCII without spaces, 1..DELIVERY_MAX: safe to log and to
 * pass on. */
static int
delivery_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= DELIVERY_MAX || s[n] <= ' ' || s[n] > '~')
			return 0;
	return n > 0;
}

/* GitHub event names: letters, digits, '_', '.', '-'; 1..EVENT_MAX. */
static int
event_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (n >= EVENT_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return n > 0;
}

static void
verdict(struct webhook_verdict *v, unsigned int status, const char *msg)
{
	v->status = status;
	v->message = msg;
}

void
webhook_decide(struct webhook_verdict *v, const char *secret,
	       struct replay *seen, const struct webhook_request *rq)
{
	const char *sig, *delivery, *event;

	memset(v, 0, sizeof(*v));
	if (secret == NULL || *secret == '\0' || seen == NULL) {
		verdict(v, 404, "not found\n");
		return;
	}
	sig = rq->hub_signature ? rq->hub_signature : rq->signature;
	if (sig == NULL || !webhook_verify(secret, sig, rq->body, rq->len)) {
		verdict(v, 401, "missing or invalid signature\n");
		return;
	}
	delivery = rq->github_delivery ? rq->github_delivery : rq->delivery_id;
	if (delivery == NULL || *delivery == '\0') {
		verdict(v, 400,
			"missing delivery id (X-GitHub-Delivery or "
			"X-Delivery-Id): replay protection needs one\n");
		return;
	}
	if (!delivery_ok(delivery)) {
		verdict(v, 400,
			"invalid delivery id: printable ASCII, "
			"no spaces, at most 128 characters\n");
		return;
	}
	event = rq->github_event ? rq->github_event : "push";
	if (!event_ok(event)) {
		verdict(v, 400, "invalid X-GitHub-Event\n");
		return;
	}
	if (replay_check(seen, delivery)) {
		verdict(v, 200, "duplicate delivery ignored\n");
		return;
	}
	if (strcmp(event, "ping") == 0) {
		verdict(v, 200, "pong\n");
		return;
	}
	verdict(v, 202, "accepted\n");
	v->call_hook = 1;
	v->event = event;
	v->delivery = delivery;
}
