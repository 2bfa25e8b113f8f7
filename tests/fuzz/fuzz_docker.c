/*
 * libFuzzer target: the Docker Engine API answers pressctl reads
 * (driver/docker_internal.h) on one untrusted body: the container
 * listing, an inspect, an image pull's progress stream and an /events
 * line. Every parser sees every input. Nothing may crash, leak or run
 * away; what the listing keeps must be ours or a name we asked about,
 * with its state filled in.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver/docker_internal.h"
#include "fuzz.h"

#define PLATFORM "fuzz"

static int
asked(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Sorted, as docker_observe hands them over. */
	static const char *const names[] = { "fcs-press-acme-prod",
					     "fcs-press-acme-staging" };
	const size_t nnames = sizeof(names) / sizeof(*names);
	const char *body = (const char *)data;
	char msg[256], *text;
	struct live l;
	struct cinfo ci;
	struct err e;
	json_t *j;
	long long oldest = 0;

	live_init(&l);
	if (docker_parse_list(&l, body, size, PLATFORM, "fcs-press", names,
			      nnames, "/fuzz.sock", &oldest, &e) == 0) {
		for (size_t i = 0; i < l.n; i++) {
			const struct live_item *it = &l.v[i];

			check(it->kind == LIVE_CONTAINER && it->name);
			check(it->name[0] != '\0' && json_is_object(it->state));
			check((it->mark && !strcmp(it->mark, PLATFORM)) ||
			      asked(it->name, names, nnames));
			check(it->host_port >= 0 && it->host_port <= 65535);
			check(!it->addr || it->running);
		}
		for (size_t i = 0; i < l.nbusy; i++)
			check(l.busy_ports[i] > 0 && l.busy_ports[i] <= 65535);
	} else {
		check(memchr(e.msg, '\0', sizeof(e.msg)) != NULL);
	}
	live_release(&l);

	j = json_loadb(body, size, JSON_DECODE_ANY, NULL);
	docker_parse_inspect(&ci, j, PLATFORM, "fcs-press-acme-prod");
	check(ci.exists == 1 && memchr(ci.id, '\0', sizeof(ci.id)));
	check(memchr(ci.env, '\0', sizeof(ci.env)) != NULL);
	check(memchr(ci.spec, '\0', sizeof(ci.spec)) != NULL);
	check(memchr(ci.state, '\0', sizeof(ci.state)) != NULL);
	check(memchr(ci.addr, '\0', sizeof(ci.addr)) != NULL);
	check(ci.host_port >= 0 && ci.host_port <= 65535);
	json_decref(j);

	/* The progress stream is read as a C string. */
	text = malloc(size + 1);
	check(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	docker_pull_error(msg, sizeof(msg), text);
	check(memchr(msg, '\0', sizeof(msg)) != NULL);
	free(text);

	check(docker_event_relevant(PLATFORM, body, size) <= 1);
	return 0;
}
