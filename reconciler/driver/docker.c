/*
 * docker.c - site containers through the Docker Engine API (LIVE_CONTAINER).
 *
 * Plain HTTP over the engine's unix socket with libcurl, API version
 * pinned to 1.41 (Docker Engine 20.10, Debian's), JSON bodies with jansson.
 * One CURL easy handle per open() handle, so one per worker thread; the
 * handle keeps its connection to the socket alive between requests.
 *
 * Ownership is decided by labels, never by name alone: pressctl touches a
 * container only when it carries press.managed=true and the platform's
 * press.platform; a foreign container in the way is an error, not a
 * casualty.
 *
 * Updates are blue/green: the new container starts as "<name>-next" on
 * the other of the environment's two host-port slots, is probed, and only
 * when healthy replaces the old one (stop, remove, rename). A spec with a
 * pinned hostPort has a single port, so there the old container is stopped
 * first (a short outage; see docs/drivers.md).
 *
 * Events (watch mode): GET /events, filtered by the ownership labels,
 * followed by a thread of its own that turns each relevant event into
 * one byte on a pipe the watch loop polls; see docker_events.c.
 */
#include "docker_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "../manifest/manifest.h"
#include "../util/num.h"
#include "../util/secret.h"
#include "../util/strbuf.h"
#include "../util/timings.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define STOP_SECONDS 10
/* A pull may take minutes on a real registry, but one that makes no
 * progress for PULL_STALL_S is abandoned; an unreachable registry fails
 * within seconds (DNS) or PULL_STALL_S (connect). */
#define PULL_TIMEOUT_MS (10L * 60 * 1000)
#define PULL_STALL_S 30L
/* A listing of 10,000 containers is about 20 MiB. */
#define MAX_ANSWER ((size_t)128 << 20)
#define NEXT_SUFFIX "-next"
/* Starts tried while a network twin (see ensure_network) goes away. */
#define AMBIGUOUS_TRIES 5
/* Seconds a leftover "-next" has to prove it is still healthy. */
#define ADOPT_PROBE_S 3

struct docker {
	CURL *curl;
	const char *socket;   /* borrowed from the platform */
	const char *platform; /* platform name, for the ownership labels */
	const char *network;  /* default network */
	const char *subnet;   /* its subnet when pressctl creates it, or NULL */
	long timeout_ms;
	struct curl_slist *headers;
	struct strbuf answer; /* body of the last answer */
	char errbuf[CURL_ERROR_SIZE];
};

/* Serializes network creation between the workers of this process: the
 * engine's duplicate check is not atomic (other processes: see
 * ensure_network). */
static pthread_mutex_t network_lock = PTHREAD_MUTEX_INITIALIZER;

/* --- HTTP over the socket ---------------------------------------------- */

const char *
docker_socket(const struct platform *p)
{
	return p && p->runtime_socket ? p->runtime_socket : DOCKER_SOCKET;
}

int
docker_unreachable(CURL *c, const char *path, const char *errbuf, struct err *e)
{
	long oserr = 0;

	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	return err_transient(e,
			     "cannot reach Docker at '%s': %s; is dockerd "
			     "running?",
			     path,
			     oserr ? strerror((int)oserr) :
				     http_message(errbuf,
						  CURLE_COULDNT_CONNECT));
}

/* A transfer that got no answer: transient as http_transient() says. */
static int
transport_error(struct docker *d, CURLcode rc, struct err *e)
{
	const char *m = http_message(d->errbuf, rc);

	if (!http_transient(rc))
		return err_set(e, "cannot talk to Docker at '%s': %s",
			       d->socket, m);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return docker_unreachable(d->curl, d->socket, d->errbuf, e);
	case CURLE_OPERATION_TIMEDOUT:
		return err_transient(e,
				     "the Docker engine at '%s' did not "
				     "answer in time: %s",
				     d->socket, m);
	default:
		return err_transient(e,
				     "connection to Docker at '%s' broke: "
				     "%s",
				     d->socket, m);
	}
}

/*
 * One request: method, path below /v1.41, an optional JSON body
 * (borrowed). The answer's body lands in d->answer and its status in
 * *status. Fails only when no HTTP answer arrived (or it was too large):
 * the caller judges the status. stall_s > 0 aborts a transfer that moves
 * no byte for that long.
 */
static int
perform(struct docker *d, const char *method, const char *path,
	const json_t *body, long timeout_ms, long stall_s, long *status,
	struct err *e)
{
	struct http_opts o = { .errbuf = d->errbuf,
			       .connect_ms = DOCKER_CONNECT_TIMEOUT_MS,
			       .timeout_ms = timeout_ms,
			       .user_agent = "pressctl",
			       .no_proxy = 1 };
	char *url = xprintf("%s%s", DOCKER_API, path), *data = NULL;
	CURLcode rc;
	int ret = -1;

	*status = 0;
	strbuf_release(&d->answer);
	strbuf_init(&d->answer, MAX_ANSWER);
	d->errbuf[0] = '\0';
	curl_easy_reset(d->curl); /* keeps the live connection */
	http_setup(d->curl, &o);
	curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &d->answer);
	curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, d->headers);
	if (stall_s > 0) {
		curl_easy_setopt(d->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(d->curl, CURLOPT_LOW_SPEED_TIME, stall_s);
	}
	if (strcmp(method, "POST") == 0) {
		data = body ? json_dumps(body, JSON_COMPACT) : xstrdup("");
		if (!data) {
			err_set(e, "cannot encode the request %s %s", method,
				path);
			goto out;
		}
		curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(data));
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(d->curl);
	if (rc == CURLE_WRITE_ERROR && d->answer.overflow) {
		err_set(e,
			"the answer of Docker at '%s' to %s %s is larger "
			"than %zu MiB",
			d->socket, method, path, MAX_ANSWER >> 20);
		goto out;
	}
	if (rc != CURLE_OK) {
		transport_error(d, rc, e);
		goto out;
	}
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, status);
	ret = 0;
out:
	secret_free(data); /* holds the container's variables */
	free(url);
	return ret;
}

static int
request(struct docker *d, const char *method, const char *path,
	const json_t *body, long *status, struct err *e)
{
	return perform(d, method, path, body, d->timeout_ms, 0, status, e);
}

/* The last answer as JSON (new reference), or NULL. */
static json_t *
answer_json(const struct docker *d)
{
	return json_loadb(d->answer.buf, d->answer.len, JSON_DECODE_ANY, NULL);
}

/* The engine's own words for the last answer: {"message": ...}. */
static void
answer_message(const struct docker *d, char *out, size_t n)
{
	json_t *j = answer_json(d);
	const char *m = json_string_value(json_object_get(j, "message"));
	size_t len;

	if (m)
		snprintf(out, n, "%s", m);
	else if (d->answer.len)
		snprintf(out, n, "%.200s", d->answer.buf);
	else
		snprintf(out, n, "no message");
	json_decref(j);
	len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == '\r' ||
		       out[len - 1] == ' '))
		out[--len] = '\0';
}

static int
contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;

		while (i < n && hay[i] && (hay[i] | 0x20) == (needle[i] | 0x20))
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

/*
 * Whether an HTTP error is worth retrying: 429 and 5xx, except answers
 * that no retry can change. Docker 20.10 still answers some bad requests
 * with 500 (an unknown executable, a malformed reference), and a passing
 * state with 400 (a network name made ambiguous by a twin). A host port
 * held by someone else (500 "port is already allocated" / "address
 * already in use") is not retried here: start_new reports the port in
 * args->busy_port and the core allocates another. A 409 "removal ...
 * already in progress" is transient.
 */
static int
is_transient(long status, const char *msg)
{
	static const char *const permanent[] = {
		"invalid reference format",
		"executable file not found",
		"no such file or directory",
		"permission denied",
		"invalid argument",
		"not supported",
		"invalid ",
	};

	/* Two networks of one name exist for a moment when two processes
	 * create it at once; ensure_network removes the twin on retry. */
	if (status == 429 || contains(msg, "is ambiguous"))
		return 1;
	/* Someone else (docker rm -f) is removing it: gone in a moment. An
	 * engine shutting down fails to write its store ("failed to update
	 * store ... no such file or directory"): it comes back. */
	if ((status == 409 && contains(msg, "already in progress")) ||
	    contains(msg, "failed to update store"))
		return 1;
	if (status < 500 || status == 501)
		return 0;
	for (size_t i = 0; i < sizeof(permanent) / sizeof(*permanent); i++)
		if (contains(msg, permanent[i]))
			return 0;
	return 1;
}

/* "<what>: <engine message> (HTTP n)", transient or not by status. */
static int api_error(const struct docker *d, long status, struct err *e,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
api_error(const struct docker *d, long status, struct err *e, const char *fmt,
	  ...)
{
	char what[512], msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	answer_message(d, msg, sizeof(msg));
	if (is_transient(status, msg))
		return err_transient(e, "%s: %s (HTTP %ld)", what, msg, status);
	return err_set(e, "%s: %s (HTTP %ld)", what, msg, status);
}

/* A path segment or query value, URL-escaped; free() it. */
static char *
escape(struct docker *d, const char *s)
{
	char *c = curl_easy_escape(d->curl, s, 0), *r;

	r = xstrdup(c ? c : "");
	curl_free(c);
	return r;
}

/* --- open, close ------------------------------------------------------- */

static void
docker_close(void *h)
{
	struct docker *d = h;

	if (!d)
		return;
	curl_easy_cleanup(d->curl);
	curl_slist_free_all(d->headers);
	strbuf_release(&d->answer);
	free(d);
}

static int
docker_open(void **h, const struct driver_env *env, struct err *e)
{
	const struct platform *p = env->platform;
	struct docker *d = xcalloc(1, sizeof(*d));
	struct curl_slist *l;
	long status;
	char msg[600];
	int ret = -1;

	*h = NULL;
	d->socket = docker_socket(p);
	d->platform = p && p->name ? p->name : "";
	d->network = p ? p->runtime_network : NULL;
	d->subnet = p ? p->runtime_subnet : NULL;
	d->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms :
					      DEFAULT_TIMEOUT_MS;
	strbuf_init(&d->answer, MAX_ANSWER);
	if (!(d->curl = curl_easy_init())) {
		err_set(e,
			"cannot reach Docker at '%s': cannot initialize "
			"libcurl",
			d->socket);
		goto out;
	}
	l = curl_slist_append(NULL, "Content-Type: application/json");
	d->headers = l ? curl_slist_append(l, "Expect:") : NULL;
	if (!d->headers) {
		curl_slist_free_all(l);
		err_set(e, "cannot reach Docker at '%s': out of memory",
			d->socket);
		goto out;
	}
	if (request(d, "GET", "/_ping", NULL, &status, e) < 0)
		goto out;
	if (status >= 500 || status == 429) {
		answer_message(d, msg, sizeof(msg));
		err_transient(e,
			      "the Docker engine at '%s' is not ready: %s "
			      "(HTTP %ld)",
			      d->socket, msg, status);
		goto out;
	}
	if (status != 200) {
		answer_message(d, msg, sizeof(msg));
		err_set(e,
			"the Docker engine at '%s' does not speak API 1.41: %s "
			"(HTTP %ld); pressctl needs Docker Engine 20.10 or newer",
			d->socket, msg, status);
		goto out;
	}
	*h = d;
	d = NULL;
	ret = 0;
out:
	docker_close(d);
	return ret;
}

/* --- observe ----------------------------------------------------------- */

static const char *
label(json_t *labels, const char *key)
{
	return json_string_value(json_object_get(labels, key));
}

/* The container's name: the first of Names without a link path. */
static const char *
container_name(json_t *c)
{
	json_t *names = json_object_get(c, "Names"), *v;
	size_t i;

	json_array_foreach(names, i, v) {
		const char *s = json_string_value(v);

		if (s && s[0] == '/' && !strchr(s + 1, '/') && s[1])
			return s + 1;
	}
	return NULL;
}

/* The host port published for a TCP port of the container, 0 if none. */
static int
published_port(json_t *c)
{
	json_t *ports = json_object_get(c, "Ports"), *p;
	size_t i;

	json_array_foreach(ports, i, p) {
		json_int_t pub = json_integer_value(
			json_object_get(p, "PublicPort"));
		const char *type = json_string_value(
			json_object_get(p, "Type"));

		if (pub > 0 && pub <= 65535 && (!type || !strcmp(type, "tcp")))
			return (int)pub;
	}
	return 0;
}

/*
 * A container's IPv4 address on network net (by name; NULL: its first
 * network), from NetworkSettings.Networks of a listing or an inspect;
 * NULL when it has none (stopped, or not on that network).
 */
static const char *
network_addr(json_t *c, const char *net)
{
	json_t *nets = json_object_get(json_object_get(c, "NetworkSettings"),
				       "Networks"),
	       *n;
	const char *k, *ip;

	if (net) {
		ip = json_string_value(
			json_object_get(json_object_get(nets, net),
					"IPAddress"));
		return ip && ip[0] ? ip : NULL;
	}
	json_object_foreach(nets, k, n) {
		ip = json_string_value(json_object_get(n, "IPAddress"));
		if (ip && ip[0])
			return ip;
	}
	return NULL;
}

/* Every host port a listed container publishes, into busy. */
static void
note_ports(struct live *out, json_t *c)
{
	json_t *ports = json_object_get(c, "Ports"), *p;
	size_t i;

	json_array_foreach(ports, i, p)
		live_busy_add(out, (int)json_integer_value(
					   json_object_get(p, "PublicPort")));
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The platform a container's labels name as its owner, or NULL. */
static const char *
owner_of(json_t *labels)
{
	const char *m = label(labels, "press.managed");

	return m && strcmp(m, "true") == 0 ? label(labels, "press.platform") :
					     NULL;
}

/* --- parsing the engine's answers (docker_internal.h) ------------------ */

int
docker_parse_list(struct live *out, const char *body, size_t len,
		  const char *platform, const char *network,
		  const char *const *names, size_t nnames, const char *socket,
		  long long *oldest, struct err *e)
{
	json_t *list, *c;
	long long created;
	size_t i;

	list = json_loadb(body, len, 0, NULL);
	if (!json_is_array(list)) {
		err_set(e,
			"cannot list containers at '%s': the answer is not "
			"a JSON array",
			socket);
		json_decref(list);
		return -1;
	}
	json_array_foreach(list, i, c) {
		json_t *labels = json_object_get(c, "Labels"), *press, *v;
		const char *name = container_name(c), *k, *s;
		const char *owner = owner_of(labels), *id, *image, *detail;
		int ours = owner && strcmp(owner, platform) == 0;
		struct live_item *it;

		note_ports(out, c);
		if (!name ||
		    (!ours && (!nnames || !bsearch(&name, names, nnames,
						   sizeof(*names), cmp_name))))
			continue;
		it = live_add(out, LIVE_CONTAINER, name);
		it->mark_seen = 1;
		it->mark = owner ? xstrdup(owner) : NULL;
		if (ours && (s = label(labels, "press.env")))
			it->env_id = xstrdup(s);
		if (ours && (s = label(labels, "press.spec")))
			it->spec_hash = xstrdup(s);
		s = json_string_value(json_object_get(c, "State"));
		it->running = s && strcmp(s, "running") == 0;
		it->host_port = published_port(c);
		if (it->running && (s = network_addr(c, network)))
			it->addr = xstrdup(s);
		s = label(c, "State");
		id = label(c, "Id");
		image = label(c, "Image");
		detail = label(c, "Status");
		press = json_object();
		json_object_foreach(labels, k, v)
			if (strncmp(k, "press.", 6) == 0 && json_is_string(v))
				json_object_set(press, k, v);
		created = json_integer_value(json_object_get(c, "Created"));
		if (oldest && ours && created > 0 &&
		    (!*oldest || created < *oldest))
			*oldest = created;
		it->state = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i}", "id",
				      id ? id : "", "image", image ? image : "",
				      "status", s ? s : "unknown", "detail",
				      detail ? detail : "", "labels", press,
				      "hostPort", it->host_port);
		if (it->addr)
			json_object_set_new(it->state, "address",
					    json_string(it->addr));
	}
	json_decref(list);
	return 0;
}

/* --- limits ------------------------------------------------------------ */

/* HostConfig.Memory and HostConfig.NanoCpus (0: no limit). */
static void
limits_of(json_t *host_config, long long *memory, long long *nano_cpus)
{
	*memory = json_integer_value(json_object_get(host_config, "Memory"));
	*nano_cpus = json_integer_value(
		json_object_get(host_config, "NanoCpus"));
}

/* The limits a desired spec asks for (resources.memory, resources.cpus;
 * 0: none, or one that does not parse: create refuses it anyway). */
static void
wanted_limits(const struct live_object *want, long long *memory,
	      long long *nano_cpus)
{
	json_t *res = json_object_get(want->spec, "resources");

	*memory = *nano_cpus = 0;
	if (num_parse_bytes(json_string_value(json_object_get(res, "memory")),
			    memory) < 0)
		*memory = 0;
	if (num_parse_cpus(json_string_value(json_object_get(res, "cpus")),
			   nano_cpus) < 0)
		*nano_cpus = 0;
}

/*
 * The limits a container was created with, in its label press.limits
 * ("memory=BYTES,nanoCpus=N", 0: none), so that a plan need not inspect
 * every container (docs/drivers.md, "Limits"). 0 when the label is
 * there and reads, -1 otherwise.
 */
#define LIMITS_LABEL "press.limits"

static void
limits_label(char *buf, size_t n, long long memory, long long nano_cpus)
{
	snprintf(buf, n, "memory=%lld,nanoCpus=%lld", memory, nano_cpus);
}

static int
label_limits(const char *s, long long *memory, long long *nano_cpus)
{
	char mem[32], cpu[32];
	size_t m;

	if (!s || strncmp(s, "memory=", 7) != 0)
		return -1;
	s += 7;
	m = strcspn(s, ",");
	if (m == 0 || m >= sizeof(mem) || strncmp(s + m, ",nanoCpus=", 10))
		return -1;
	memcpy(mem, s, m);
	mem[m] = '\0';
	if (snprintf(cpu, sizeof(cpu), "%s", s + m + 10) >= (int)sizeof(cpu))
		return -1;
	return num_parse(mem, 0, INT64_MAX, memory) < 0 ||
			       num_parse(cpu, 0, INT64_MAX, nano_cpus) < 0 ?
		       -1 :
		       0;
}

/* A limit as the engine reports it (0: none) against the one wanted. */
static int
limit_matches(long long have, long long want)
{
	return have == want || have == 0;
}

#define LIMIT_WORKERS 4

struct limit_job {
	char id[72];
	size_t item; /* index into the struct live */
	int gone;    /* removed since the listing */
	long long memory, nano_cpus;
};

struct limits {
	const struct docker *conf;
	struct limit_job *jobs;
	size_t n, next;
	pthread_mutex_t mu;
	int failed;
	struct err err;
};

/* One container's limits by inspecting it; 0 ok (a container that went
 * meanwhile is marked gone), -1 error. The answer holds the container's
 * variables: only the limits are kept. */
static int
limit_job_run(struct docker *d, struct limit_job *j, struct err *e)
{
	char *path = xprintf("/containers/%s/json", j->id);
	json_t *info = NULL;
	long status;
	int ret = -1;

	if (request(d, "GET", path, NULL, &status, e) < 0) {
		err_wrap(e, "cannot inspect container %.12s", j->id);
		goto out;
	}
	if (status == 404) {
		j->gone = 1;
		ret = 0;
		goto out;
	}
	if (status != 200) {
		api_error(d, status, e, "cannot inspect container %.12s",
			  j->id);
		goto out;
	}
	info = answer_json(d);
	limits_of(json_object_get(info, "HostConfig"), &j->memory,
		  &j->nano_cpus);
	ret = 0;
out:
	json_decref(info);
	strbuf_release(&d->answer); /* the variables, secrets included */
	strbuf_init(&d->answer, MAX_ANSWER);
	free(path);
	return ret;
}

static void
limits_fail(struct limits *m, const struct err *e)
{
	pthread_mutex_lock(&m->mu);
	if (!m->failed) {
		m->failed = 1;
		m->err = *e;
	}
	pthread_mutex_unlock(&m->mu);
}

/* Take jobs until none are left (or one failed), on connection d. */
static void
limits_loop(struct limits *m, struct docker *d)
{
	struct err e;

	for (;;) {
		struct limit_job *j;

		pthread_mutex_lock(&m->mu);
		if (m->failed || m->next >= m->n) {
			pthread_mutex_unlock(&m->mu);
			return;
		}
		j = &m->jobs[m->next++];
		pthread_mutex_unlock(&m->mu);
		if (limit_job_run(d, j, &e) < 0) {
			limits_fail(m, &e);
			return;
		}
	}
}

/* A worker thread: its own handle (and connection) on the settings of
 * the caller's. */
static void *
limits_thread(void *arg)
{
	struct limits *m = arg;
	struct docker w;
	struct curl_slist *l;
	struct err e;

	memset(&w, 0, sizeof(w));
	w.socket = m->conf->socket;
	w.platform = m->conf->platform;
	w.network = m->conf->network;
	w.timeout_ms = m->conf->timeout_ms;
	strbuf_init(&w.answer, MAX_ANSWER);
	l = curl_slist_append(NULL, "Content-Type: application/json");
	w.headers = l ? curl_slist_append(l, "Expect:") : NULL;
	if (!w.headers)
		curl_slist_free_all(l);
	if (!w.headers || !(w.curl = curl_easy_init())) {
		err_set(&e, "cannot inspect containers at '%s': out of memory",
			w.socket);
		limits_fail(m, &e);
	} else {
		limits_loop(m, &w);
	}
	curl_easy_cleanup(w.curl);
	curl_slist_free_all(w.headers);
	strbuf_release(&w.answer);
	return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The ids of the platform's containers that the engine reports as
 * updated in place (`docker update`: an "update" event) since the Unix
 * time since, among the events it still holds (the engine keeps its
 * last 256 in memory, docs/drivers.md "Limits"): one round trip. *ids is
 * a new sorted array of new strings (free each and the array).
 */
static int
updated_since(struct docker *d, const char *platform, long long since,
	      char ***ids, size_t *n, struct err *e)
{
	char *plabel = xprintf("press.platform=%s", platform);
	json_t *f = json_pack("{s:[s], s:[s], s:[s]}", "type", "container",
			      "event", "update", "label", plabel);
	char *fs = json_dumps(f, JSON_COMPACT), *esc = escape(d, fs), *path;
	size_t off = 0, alloc = 0;
	struct timespec now;
	long status;
	int ret = -1;

	*ids = NULL;
	*n = 0;
	/* Until now to the nanosecond: a whole second would leave out an
	 * update made earlier in this same second. */
	clock_gettime(CLOCK_REALTIME, &now);
	path = xprintf("/events?since=%lld&until=%lld.%09ld&filters=%s", since,
		       (long long)now.tv_sec, (long)now.tv_nsec, esc);
	if (request(d, "GET", path, NULL, &status, e) < 0) {
		err_wrap(e, "cannot read the events of containers");
		goto out;
	}
	if (status != 200) {
		api_error(d, status, e, "cannot read the events at '%s'",
			  d->socket);
		goto out;
	}
	/* One JSON object per event, one after the other. */
	while (off < d->answer.len) {
		json_error_t je;
		json_t *ev = json_loadb(d->answer.buf + off,
					d->answer.len - off,
					JSON_DISABLE_EOF_CHECK, &je);
		const char *id;

		if (!ev) {
			if (strspn(d->answer.buf + off, " \r\n\t") ==
			    d->answer.len - off)
				break;
			err_set(e,
				"cannot read the events at '%s': %s at byte "
				"%zu",
				d->socket, je.text, off + (size_t)je.position);
			goto out;
		}
		off += (size_t)je.position;
		id = json_string_value(json_object_get(ev, "id"));
		if (id && id[0]) {
			xgrow(ids, &alloc, *n + 1, sizeof(**ids));
			(*ids)[(*n)++] = xstrdup(id);
		}
		json_decref(ev);
	}
	if (*n > 1)
		qsort(*ids, *n, sizeof(**ids), cmp_str);
	ret = 0;
out:
	if (ret < 0) {
		for (size_t i = 0; i < *n; i++)
			free((*ids)[i]);
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	free(path);
	free(esc);
	free(fs);
	json_decref(f);
	free(plabel);
	return ret;
}

/*
 * The limits of platform's running containers (items first.. of out),
 * which the listing does not carry. A container created with the label
 * press.limits and that no "update" event since the oldest of them
 * (Unix time oldest) names has the limits of its label; the others
 * (created before the label, or updated in place) are inspected, up to
 * LIMIT_WORKERS at a time. Their state gains "memory" and "nanoCpus"
 * (0: no limit); a container that went meanwhile gets neither.
 */
static int
observe_limits(struct docker *d, struct live *out, size_t first,
	       const char *platform, long long oldest, struct err *e)
{
	struct limits m;
	pthread_t tid[LIMIT_WORKERS - 1];
	size_t nthreads = 0, nupd = 0;
	char **upd = NULL;
	int labelled = 0;

	for (size_t i = first; i < out->n; i++)
		labelled |= out->v[i].running &&
			    label(json_object_get(out->v[i].state, "labels"),
				  LIMITS_LABEL) != NULL;
	if (labelled && updated_since(d, platform, oldest > 0 ? oldest - 1 : 0,
				      &upd, &nupd, e) < 0)
		return -1;
	memset(&m, 0, sizeof(m));
	m.conf = d;
	m.jobs = xcalloc(out->n - first + 1, sizeof(*m.jobs));
	for (size_t i = first; i < out->n; i++) {
		struct live_item *it = &out->v[i];
		const char *id = json_string_value(
			json_object_get(it->state, "id"));
		long long mem, cpus;

		if (!it->running || !it->mark || strcmp(it->mark, platform) ||
		    !id || !id[0])
			continue;
		if (label_limits(label(json_object_get(it->state, "labels"),
				       LIMITS_LABEL),
				 &mem, &cpus) == 0 &&
		    !(nupd && bsearch(&id, upd, nupd, sizeof(*upd), cmp_str))) {
			json_object_set_new(it->state, "memory",
					    json_integer(mem));
			json_object_set_new(it->state, "nanoCpus",
					    json_integer(cpus));
			continue;
		}
		snprintf(m.jobs[m.n].id, sizeof(m.jobs[m.n].id), "%s", id);
		m.jobs[m.n++].item = i;
	}
	for (size_t i = 0; i < nupd; i++)
		free(upd[i]);
	free(upd);
	pthread_mutex_init(&m.mu, NULL);
	/* The caller's thread is one of the workers. */
	for (size_t i = 1; i < m.n && i < LIMIT_WORKERS; i++) {
		if (pthread_create(&tid[nthreads], NULL, limits_thread, &m))
			break; /* fewer workers will do */
		nthreads++;
	}
	limits_loop(&m, d);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&m.mu);
	for (size_t i = 0; !m.failed && i < m.n; i++) {
		struct live_item *it = &out->v[m.jobs[i].item];

		if (m.jobs[i].gone)
			continue;
		json_object_set_new(it->state, "memory",
				    json_integer(m.jobs[i].memory));
		json_object_set_new(it->state, "nanoCpus",
				    json_integer(m.jobs[i].nano_cpus));
	}
	free(m.jobs);
	if (m.failed) {
		if (e)
			*e = m.err;
		return -1;
	}
	return 0;
}

/*
 * One listing of every container of the engine. The platform's own
 * (press.managed=true and its press.platform) become items; a container
 * of another owner whose name is in q->names becomes an item too, with
 * its mark (another platform, or NULL: not pressctl's), so that the plan
 * sees the conflict. Every published host port goes to out's busy ports.
 * state = {id, image, status (running, exited, ...), detail ("Up 3
 * minutes"), labels (press.*), hostPort}.
 */
static int
docker_observe(void *h, const struct observe_req *q, struct live *out,
	       struct err *e)
{
	struct docker *d = h;
	const char *platform = q->platform ? q->platform : d->platform;
	size_t nnames = q->nnames[LIVE_CONTAINER], first = out->n;
	const char **names = xcalloc(nnames + 1, sizeof(*names));
	long long oldest = 0;
	long status;
	size_t i;
	int ret = -1;

	for (i = 0; i < nnames; i++)
		names[i] = q->names[LIVE_CONTAINER][i];
	if (nnames > 1)
		qsort(names, nnames, sizeof(*names), cmp_name);
	if (request(d, "GET", "/containers/json?all=1", NULL, &status, e) < 0) {
		err_wrap(e, "cannot list containers");
		goto out;
	}
	if (status != 200) {
		api_error(d, status, e, "cannot list containers at '%s'",
			  d->socket);
		goto out;
	}
	if (docker_parse_list(out, d->answer.buf, d->answer.len, platform,
			      d->network, names, nnames, d->socket, &oldest,
			      e) < 0)
		goto out;
	ret = observe_limits(d, out, first, platform, oldest, e);
out:
	free(names);
	return ret;
}

/* --- conforms ---------------------------------------------------------- */

/*
 * The limits observed (when they were: a running container of the
 * platform) against the spec's: changed by hand (docker update) is
 * drift. None live where the spec asks for one is not: an engine
 * without the cgroup controller drops limits when it creates the
 * container (with a warning), and no rollout would change that.
 */
static int
limits_conform(const struct live_item *have, const struct live_object *want,
	       char *why, size_t n)
{
	json_t *mem = json_object_get(have->state, "memory");
	json_t *cpu = json_object_get(have->state, "nanoCpus");
	long long wm, wc, hm, hc;
	char a[32], b[32];

	if (!json_is_integer(mem) || !json_is_integer(cpu))
		return 1;
	wanted_limits(want, &wm, &wc);
	hm = json_integer_value(mem);
	hc = json_integer_value(cpu);
	if (!limit_matches(hm, wm)) {
		num_format_bytes(a, sizeof(a), hm);
		num_format_bytes(b, sizeof(b), wm);
		snprintf(why, n, "memory limit %s, want %s", a,
			 wm ? b : "none");
		return 0;
	}
	if (!limit_matches(hc, wc)) {
		num_format_cpus(a, sizeof(a), hc);
		num_format_cpus(b, sizeof(b), wc);
		snprintf(why, n, "cpus %s, want %s", a, wc ? b : "none");
		return 0;
	}
	return 1;
}

static int
docker_conforms(const struct live_item *have, const struct live_object *want,
		char *why, size_t n)
{
	const char *status = json_string_value(
		json_object_get(have->state, "status"));

	if (!have->running) {
		snprintf(why, n, "not running (%s)",
			 status ? status : "unknown");
		return 0;
	}
	if (!have->spec_hash || strcmp(have->spec_hash, want->hash) != 0) {
		snprintf(why, n, "spec %.12s differs from %.12s",
			 have->spec_hash ? have->spec_hash : "(none)",
			 want->hash);
		return 0;
	}
	return limits_conform(have, want, why, n);
}

/* --- container primitives ---------------------------------------------- */

/* NetworkSettings.Ports {"8080/tcp": [{"HostIp", "HostPort"}]}. */
static int
inspected_port(json_t *ports)
{
	const char *k;
	json_t *v, *b;
	size_t i;

	json_object_foreach(ports, k, v) {
		if (!strstr(k, "/tcp"))
			continue;
		json_array_foreach(v, i, b) {
			const char *s = json_string_value(
				json_object_get(b, "HostPort"));
			long long p;

			if (num_parse(s, 1, 65535, &p) == 0)
				return (int)p;
		}
	}
	return 0;
}

void
docker_parse_inspect(struct cinfo *ci, json_t *j, const char *platform,
		     const char *name)
{
	json_t *labels, *st;
	const char *s;

	memset(ci, 0, sizeof(*ci));
	labels = json_object_get(json_object_get(j, "Config"), "Labels");
	st = json_object_get(j, "State");
	ci->exists = 1;
	s = label(labels, "press.managed");
	ci->managed = s && strcmp(s, "true") == 0 &&
		      (s = label(labels, "press.platform")) &&
		      strcmp(s, platform) == 0;
	snprintf(ci->id, sizeof(ci->id), "%s",
		 json_string_value(json_object_get(j, "Id")) ?
			 json_string_value(json_object_get(j, "Id")) :
			 name);
	snprintf(ci->env, sizeof(ci->env), "%s",
		 label(labels, "press.env") ? label(labels, "press.env") : "");
	snprintf(ci->spec, sizeof(ci->spec), "%s",
		 label(labels, "press.spec") ? label(labels, "press.spec") :
					       "");
	ci->running = json_is_true(json_object_get(st, "Running"));
	snprintf(ci->state, sizeof(ci->state), "%s",
		 json_string_value(json_object_get(st, "Status")) ?
			 json_string_value(json_object_get(st, "Status")) :
			 "unknown");
	ci->exit_code = json_integer_value(json_object_get(st, "ExitCode"));
	ci->restarts = json_integer_value(json_object_get(j, "RestartCount"));
	ci->host_port = inspected_port(
		json_object_get(json_object_get(j, "NetworkSettings"),
				"Ports"));
	s = network_addr(j, NULL);
	snprintf(ci->addr, sizeof(ci->addr), "%s", s ? s : "");
	limits_of(json_object_get(j, "HostConfig"), &ci->memory,
		  &ci->nano_cpus);
}

void
docker_pull_error(char *msg, size_t n, const char *body)
{
	const char *line = body, *end;

	msg[0] = '\0';
	for (; *line; line = *end ? end + 1 : end) {
		json_t *j;
		const char *s;

		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		j = json_loadb(line, (size_t)(end - line), 0, NULL);
		s = json_string_value(json_object_get(j, "error"));
		if (s && !msg[0])
			snprintf(msg, n, "%s", s);
		json_decref(j);
	}
}

/* Look a container up by name or id; a missing one is not an error. */
static int
inspect(struct docker *d, const char *name, struct cinfo *ci, struct err *e)
{
	char *esc = escape(d, name),
	     *path = xprintf("/containers/%s/json", esc);
	json_t *j = NULL;
	long status;
	int ret = -1;

	memset(ci, 0, sizeof(*ci));
	if (request(d, "GET", path, NULL, &status, e) < 0) {
		err_wrap(e, "cannot inspect container '%s'", name);
		goto out;
	}
	if (status == 404) {
		ret = 0;
		goto out;
	}
	if (status != 200) {
		api_error(d, status, e, "cannot inspect container '%s'", name);
		goto out;
	}
	j = answer_json(d);
	docker_parse_inspect(ci, j, d->platform, name);
	ret = 0;
out:
	json_decref(j);
	free(esc);
	free(path);
	return ret;
}

static int
foreign(const struct docker *d, const char *name, struct err *e)
{
	return err_set(e,
		       "container '%s' exists but is not managed by "
		       "pressctl for platform '%s' (it lacks the labels "
		       "press.managed=true and press.platform=%s); remove or "
		       "rename it",
		       name, d->platform, d->platform);
}

/* Stop (gracefully, when graceful) and remove a container; gone = done. */
static int
remove_container(struct docker *d, const char *name, const char *id,
		 int graceful, struct err *e)
{
	char *esc = escape(d, id), *path = NULL;
	long status;
	int ret = -1;

	if (graceful) {
		path = xprintf("/containers/%s/stop?t=%d", esc, STOP_SECONDS);
		if (perform(d, "POST", path, NULL,
			    d->timeout_ms + STOP_SECONDS * 1000L, 0, &status,
			    e) < 0) {
			err_wrap(e, "cannot stop container '%s'", name);
			goto out;
		}
		if (status != 204 && status != 304 && status != 404) {
			api_error(d, status, e, "cannot stop container '%s'",
				  name);
			goto out;
		}
		free(path);
	}
	/* v=1: anonymous volumes die with the container (site data lives
	 * in Postgres and S3); named volumes are never touched. */
	path = xprintf("/containers/%s?force=1&v=1", esc);
	if (request(d, "DELETE", path, NULL, &status, e) < 0) {
		err_wrap(e, "cannot remove container '%s'", name);
		goto out;
	}
	if (status != 204 && status != 404) {
		api_error(d, status, e, "cannot remove container '%s'", name);
		goto out;
	}
	ret = 0;
out:
	free(esc);
	free(path);
	return ret;
}

/* Remove a container of ours by name if it exists (not ours: error). */
static int
remove_if_ours(struct docker *d, const char *name, int graceful, struct err *e)
{
	struct cinfo ci;

	if (inspect(d, name, &ci, e) < 0)
		return -1;
	if (!ci.exists)
		return 0;
	if (!ci.managed)
		return foreign(d, name, e);
	return remove_container(d, name, ci.id, graceful, e);
}

/*
 * The rollout candidate "<name>-next" of environment env_id (NULL:
 * unknown): whether ci is one. A container of that name labelled for
 * another environment is that environment's own container ("acme/prod"
 * and "acme/prod-next" collide), never a leftover of ours.
 */
static int
is_candidate(const struct cinfo *ci, const char *env_id)
{
	return ci->exists && ci->managed &&
	       (!env_id || !ci->env[0] || !strcmp(ci->env, env_id));
}

/* Remove a leftover candidate; one of another environment is an error. */
static int
clear_candidate(struct docker *d, const char *next, const char *env_id,
		struct err *e)
{
	struct cinfo ci;

	if (inspect(d, next, &ci, e) < 0)
		return -1;
	if (!ci.exists)
		return 0;
	if (!ci.managed)
		return foreign(d, next, e);
	if (!is_candidate(&ci, env_id))
		return err_set(e,
			       "cannot roll out environment '%s': its "
			       "rollout name '%s' is taken by environment "
			       "'%s'; rename one of them",
			       env_id, next, ci.env);
	return remove_container(d, next, ci.id, 0, e);
}

static int
rename_container(struct docker *d, const char *from, const char *id,
		 const char *to, struct err *e)
{
	char *esc = escape(d, id), *to_esc = escape(d, to);
	char *path = xprintf("/containers/%s/rename?name=%s", esc, to_esc);
	long status;
	int ret = -1;

	if (request(d, "POST", path, NULL, &status, e) < 0) {
		err_wrap(e, "cannot rename container '%s' to '%s'", from, to);
		goto out;
	}
	if (status != 204) {
		api_error(d, status, e, "cannot rename container '%s' to '%s'",
			  from, to);
		goto out;
	}
	ret = 0;
out:
	free(esc);
	free(to_esc);
	free(path);
	return ret;
}

/* Nanoseconds of an RFC 3339 time's fraction ("...:05.12Z" -> 120000000). */
static long
fraction_ns(const char *t)
{
	long ns = 0;
	int digits = 0;

	if (strlen(t) <= 19 || t[19] != '.')
		return 0;
	for (t += 20; *t >= '0' && *t <= '9' && digits < 9; t++, digits++)
		ns = ns * 10 + (*t - '0');
	for (; digits < 9; digits++)
		ns *= 10;
	return ns;
}

/*
 * Whether network a was created before b (ties: the smaller id). The
 * engine writes every Created in one time zone, so the seconds compare
 * as text; the fraction has its trailing zeros cut, so it is parsed.
 */
static int
older(json_t *a, json_t *b)
{
	const char *ta = json_string_value(json_object_get(a, "Created"));
	const char *tb = json_string_value(json_object_get(b, "Created"));
	int c = strncmp(ta ? ta : "", tb ? tb : "", 19);
	long fa, fb;

	if (c)
		return c < 0;
	fa = fraction_ns(ta ? ta : "");
	fb = fraction_ns(tb ? tb : "");
	if (fa != fb)
		return fa < fb;
	return strcmp(json_string_value(json_object_get(a, "Id")),
		      json_string_value(json_object_get(b, "Id"))) < 0;
}

/*
 * Find the network named net (exactly): its id in id, "" if none. When
 * several share the name, the oldest is the one: a twin made later can
 * never win over one that every caller could already see, so racing
 * callers agree. The others, when pressctl made them, are removed (best
 * effort: one with containers stays).
 */
static int
find_network(struct docker *d, const char *net, char *id, size_t idlen,
	     struct err *e)
{
	json_t *filters = json_pack("{s:{s:b}}", "name", net, 1), *list = NULL;
	json_t *n, *best = NULL;
	char *fs = json_dumps(filters, JSON_COMPACT), *fesc, *path;
	struct err ignored;
	long status;
	size_t i;
	int ret = -1;

	fesc = escape(d, fs ? fs : "{}");
	path = xprintf("/networks?filters=%s", fesc);
	id[0] = '\0';
	if (request(d, "GET", path, NULL, &status, e) < 0) {
		err_wrap(e, "cannot list networks");
		goto out;
	}
	if (status != 200) {
		api_error(d, status, e, "cannot list networks at '%s'",
			  d->socket);
		goto out;
	}
	list = answer_json(d);
	json_array_foreach(list, i, n) {
		const char *name = json_string_value(
			json_object_get(n, "Name"));
		const char *nid = json_string_value(json_object_get(n, "Id"));

		if (name && nid && !strcmp(name, net) &&
		    (!best || older(n, best)))
			best = n;
	}
	if (!best) {
		ret = 0;
		goto out;
	}
	snprintf(id, idlen, "%s",
		 json_string_value(json_object_get(best, "Id")));
	json_array_foreach(list, i, n) {
		const char *name = json_string_value(
			json_object_get(n, "Name"));
		const char *nid = json_string_value(json_object_get(n, "Id"));
		const char *mine = label(json_object_get(n, "Labels"),
					 "press.managed");
		char *npath;

		if (!name || !nid || strcmp(name, net) || !strcmp(nid, id) ||
		    !mine || strcmp(mine, "true"))
			continue;
		npath = xprintf("/networks/%s", nid);
		request(d, "DELETE", npath, NULL, &status, &ignored);
		free(npath);
	}
	ret = 0;
out:
	json_decref(list);
	json_decref(filters);
	free(fs);
	free(fesc);
	free(path);
	return ret;
}

/*
 * The id of the bridge network the containers share, created when
 * missing; containers attach by id. Idempotent. The workers of this
 * process take turns (network_lock). Two processes racing (the apply
 * lock normally prevents it) can make the engine create two networks of
 * one name, as its duplicate check is not atomic; every caller then
 * settles on the same one (find_network), so a duplicate never turns
 * into "network is ambiguous" errors. 409 from the create: it exists.
 */
static int
ensure_network(struct docker *d, const char *net, char *id, size_t idlen,
	       struct err *e)
{
	json_t *body = NULL;
	long status;
	int ret = -1;

	pthread_mutex_lock(&network_lock);
	if (find_network(d, net, id, idlen, e) < 0)
		goto out;
	if (id[0]) {
		ret = 0;
		goto out;
	}
	body = json_pack("{s:s, s:s, s:b, s:{s:s, s:s}}", "Name", net, "Driver",
			 "bridge", "CheckDuplicate", 1, "Labels",
			 "press.managed", "true", "press.platform",
			 d->platform);
	if (d->subnet)
		json_object_set_new(body, "IPAM",
				    json_pack("{s:[{s:s}]}", "Config", "Subnet",
					      d->subnet));
	if (request(d, "POST", "/networks/create", body, &status, e) < 0) {
		err_wrap(e, "cannot create network '%s'", net);
		goto out;
	}
	if (status != 201 && status != 200 && status != 409) {
		api_error(d, status, e, "cannot create network '%s'", net);
		goto out;
	}
	/* Look again rather than trust the answer: a racing process may
	 * have made a twin, and both must settle on the same one. */
	if (find_network(d, net, id, idlen, e) < 0)
		goto out;
	if (!id[0]) {
		err_transient(e,
			      "cannot create network '%s': it vanished "
			      "right after its creation",
			      net);
		goto out;
	}
	ret = 0;
out:
	pthread_mutex_unlock(&network_lock);
	json_decref(body);
	return ret;
}

/* --- building a container ---------------------------------------------- */

/*
 * The body of POST /containers/create (new reference) for the desired
 * spec, published on 127.0.0.1:host_port (unless the spec publishes no
 * host port). Variable values come from
 * args->env (resolved, secrets included), never from the spec, which
 * holds only references. net: the network's id, or NULL; alias: join it
 * under the spec's name too.
 */
static json_t *
create_body(const struct driver_action *a, const char *net, int host_port,
	    int alias, struct err *e)
{
	const json_t *spec = a->want->spec;
	const struct apply_args *args = a->args;
	const char *image = json_string_value(json_object_get(spec, "image"));
	json_int_t port = json_integer_value(json_object_get(spec, "port"));
	json_t *res = json_object_get(spec, "resources");
	json_t *cmd = json_object_get(spec, "command");
	json_t *body = json_object(), *hc = json_object(), *envs = json_array();
	json_t *v;
	const char *k, *s;
	char pkey[32], hp[16], *kv;
	long long n;
	int rc;

	if (!image || port <= 0 || port > 65535) {
		err_set(e,
			"cannot create container '%s': the spec has no "
			"image or container port",
			a->want->name);
		goto fail;
	}
	snprintf(pkey, sizeof(pkey), "%d/tcp", (int)port);
	snprintf(hp, sizeof(hp), "%d", host_port);
	json_object_foreach(args->env, k, v) {
		if (!json_is_string(v)) {
			err_set(e,
				"cannot create container '%s': variable "
				"'%s' is not a string",
				a->want->name, k);
			goto fail;
		}
		kv = xprintf("%s=%s", k, json_string_value(v));
		rc = json_array_append_new(envs, json_string(kv));
		secret_free(kv); /* may hold a secret */
		if (rc < 0) {
			err_set(e,
				"cannot create container '%s': variable "
				"'%s' is not valid UTF-8",
				a->want->name, k);
			goto fail;
		}
	}
	json_object_set_new(body, "Image", json_string(image));
	json_object_set_new(body, "Env", envs);
	envs = NULL;
	json_object_set_new(body, "Labels",
			    args->labels ? json_deep_copy(args->labels) :
					   json_object());
	{ /* the limits asked for, for the observation (label_limits) */
		long long mem, cpus;
		char lim[64];

		wanted_limits(a->want, &mem, &cpus);
		limits_label(lim, sizeof(lim), mem, cpus);
		json_object_set_new(json_object_get(body, "Labels"),
				    LIMITS_LABEL, json_string(lim));
	}
	if (json_is_array(cmd))
		json_object_set_new(body, "Cmd", json_deep_copy(cmd));
	json_object_set_new(body, "ExposedPorts", json_pack("{s:{}}", pkey));

	/* Without a host port the ingress reaches it on the network. */
	if (container_publishes(spec))
		json_object_set_new(hc, "PortBindings",
				    json_pack("{s:[{s:s, s:s}]}", pkey,
					      "HostIp", "127.0.0.1", "HostPort",
					      hp));
	json_object_set_new(hc, "RestartPolicy",
			    json_pack("{s:s}", "Name", "unless-stopped"));
	/* The engine's init as PID 1: it forwards SIGTERM (an app server as
	 * PID 1 ignores it, and every stop would wait STOP_SECONDS for the
	 * SIGKILL) and reaps the zombies of worker processes. */
	json_object_set_new(hc, "Init", json_true());
	if (net)
		json_object_set_new(hc, "NetworkMode", json_string(net));
	if ((s = json_string_value(json_object_get(res, "memory")))) {
		if (num_parse_bytes(s, &n) < 0) {
			err_set(e,
				"cannot create container '%s': memory "
				"'%s' is not a size like 512Mi",
				a->want->name, s);
			goto fail;
		}
		json_object_set_new(hc, "Memory", json_integer(n));
	}
	if ((s = json_string_value(json_object_get(res, "cpus")))) {
		if (num_parse_cpus(s, &n) < 0) {
			err_set(e,
				"cannot create container '%s': cpus '%s' "
				"is not a number like 0.5",
				a->want->name, s);
			goto fail;
		}
		json_object_set_new(hc, "NanoCpus", json_integer(n));
	}
	json_object_set_new(body, "HostConfig", hc);
	hc = NULL;
	if (net && alias)
		json_object_set_new(body, "NetworkingConfig",
				    json_pack("{s:{s:{s:[s]}}}",
					      "EndpointsConfig", net, "Aliases",
					      a->want->name));
	return body;
fail:
	json_decref(envs);
	json_decref(hc);
	json_decref(body);
	return NULL;
}

/* Split "repo[:tag]" or "repo@digest" for POST /images/create. */
static void
split_image(const char *image, char **repo, char **tag)
{
	const char *slash = strrchr(image, '/'), *colon;

	if (strchr(image, '@')) {
		*repo = xstrdup(image);
		*tag = NULL;
		return;
	}
	colon = strrchr(slash ? slash : image, ':');
	if (colon) {
		*repo = xstrndup(image, (size_t)(colon - image));
		*tag = xstrdup(colon + 1);
	} else {
		*repo = xstrdup(image);
		*tag = xstrdup("latest");
	}
}

/*
 * Try to pull the image once. The answer is a stream of JSON progress
 * lines; a failure mid-stream arrives as {"error": ...} with HTTP 200.
 */
static int
pull_image(struct docker *d, const char *image, struct err *e)
{
	char *repo, *tag, *rq, *tq = NULL, *path;
	char msg[sizeof(((struct err *)0)->msg)] = "";
	struct err pe;
	long status;
	int ret = -1;

	split_image(image, &repo, &tag);
	rq = escape(d, repo);
	if (tag) {
		tq = escape(d, tag);
		path = xprintf("/images/create?fromImage=%s&tag=%s", rq, tq);
	} else {
		path = xprintf("/images/create?fromImage=%s", rq);
	}
	if (perform(d, "POST", path, NULL, PULL_TIMEOUT_MS, PULL_STALL_S,
		    &status, &pe) < 0) {
		snprintf(msg, sizeof(msg), "%s", pe.msg);
	} else if (status != 200) {
		answer_message(d, msg, sizeof(msg));
	} else {
		docker_pull_error(msg, sizeof(msg), d->answer.buf);
		if (!msg[0])
			ret = 0;
	}
	if (ret < 0)
		err_set(e,
			"image '%s' is not available on this Docker engine "
			"and could not be pulled: %s; load it (docker load / "
			"docker import) or fix spec.image",
			image, msg);
	free(repo);
	free(tag);
	free(rq);
	free(tq);
	free(path);
	return ret;
}

/*
 * Wait for the health check; on failure say what the probe saw and, when
 * the container crashed, how.
 */
/* The container port of a desired spec, 0 if none. */
static int
container_port(const struct live_object *want)
{
	json_int_t p = json_integer_value(json_object_get(want->spec, "port"));

	return p > 0 && p <= 65535 ? (int)p : 0;
}

/* Probe on 127.0.0.1:host_port, or, without a host port, on the
 * container's address addr at its own port (the host routes to the
 * engine's bridge networks). */
static int
wait_healthy(struct docker *d, const char *name, const char *id, int host_port,
	     const char *addr, const char *hint, const struct live_object *want,
	     struct err *e)
{
	json_t *health = json_object_get(want->spec, "health");
	const char *hpath = json_string_value(json_object_get(health, "path"));
	json_int_t timeout = json_integer_value(
		json_object_get(health, "timeoutSeconds"));
	struct err pe, ie;
	struct cinfo ci;
	char crash[160] = "";

	if (timeout <= 0)
		timeout = 60;
	if ((host_port > 0 ? http_probe(host_port, hpath ? hpath : "/",
					(int)timeout, &pe) :
			     http_probe_at(addr, container_port(want),
					   hpath ? hpath : "/", (int)timeout,
					   &pe)) == 0)
		return 0;
	if (inspect(d, id, &ci, &ie) < 0 || !ci.exists)
		; /* nothing to add */
	else if (!ci.running)
		snprintf(crash, sizeof(crash),
			 " (the container is %s after "
			 "%lld restarts, last exit code %lld)",
			 ci.state, ci.restarts, ci.exit_code);
	else if (ci.restarts > 0)
		snprintf(crash, sizeof(crash),
			 " (the container has restarted "
			 "%lld times)",
			 ci.restarts);
	return err_set(e,
		       "container '%s' did not become healthy within %d s: "
		       "%s%s%s",
		       name, (int)timeout, pe.msg, crash, hint);
}

/*
 * Create, start and health-check container cname on host_port (0: a
 * spec that publishes none; its address goes to args->addr). A name
 * taken by a container of ours with a different spec (or stopped) is
 * freed and taken over; a missing image is pulled once. On any failure
 * after the create, the new container is removed again.
 */
static int
start_new(struct docker *d, const struct driver_action *a, const char *cname,
	  int host_port, const char *net, int alias, const char *hint,
	  struct err *e)
{
	json_t *body = create_body(a, net, host_port, alias, e), *j = NULL;
	char *cesc = escape(d, cname), *path = NULL, *id = NULL;
	const char *image = json_string_value(
		json_object_get(a->want->spec, "image"));
	int pulled = 0, replaced = 0, ret = -1, rc;
	struct err re;
	struct cinfo ci;
	char msg[600];
	double waited;
	long status;

	if (!body)
		goto out;
	path = xprintf("/containers/create?name=%s", cesc);
	for (;;) {
		if (request(d, "POST", path, body, &status, e) < 0) {
			err_wrap(e, "cannot create container '%s'", cname);
			goto out;
		}
		if (status == 201)
			break;
		answer_message(d, msg, sizeof(msg));
		if (status == 404 && contains(msg, "no such image") &&
		    !pulled) {
			pulled = 1;
			if (pull_image(d, image, e) < 0)
				goto out;
			continue;
		}
		if (status == 409 && !replaced) {
			replaced = 1;
			if (inspect(d, cname, &ci, e) < 0)
				goto out;
			if (ci.exists && !ci.managed) {
				foreign(d, cname, e);
				goto out;
			}
			if (ci.exists && ci.running &&
			    !strcmp(ci.spec, a->want->hash)) {
				ret = 0; /* already there: idempotent */
				goto out;
			}
			if (ci.exists &&
			    remove_container(d, cname, ci.id, 1, e) < 0)
				goto out;
			continue;
		}
		api_error(d, status, e, "cannot create container '%s'", cname);
		goto out;
	}
	j = answer_json(d);
	id = xstrdup(json_string_value(json_object_get(j, "Id")) ?
			     json_string_value(json_object_get(j, "Id")) :
			     cname);
	free(path);
	free(cesc);
	cesc = escape(d, id);
	path = xprintf("/containers/%s/start", cesc);
	for (int tries = 1;; tries++) {
		if (request(d, "POST", path, NULL, &status, e) < 0) {
			err_wrap(e, "cannot start container '%s'", cname);
			goto drop;
		}
		if (status == 204 || status == 304)
			break;
		answer_message(d, msg, sizeof(msg));
		if (tries < AMBIGUOUS_TRIES && contains(msg, "is ambiguous")) {
			/* A racing process is about to remove its twin. */
			nanosleep(&(struct timespec){ .tv_nsec = 200000000 },
				  NULL);
			continue;
		}
		if (contains(msg, "address already in use") ||
		    contains(msg, "port is already allocated")) {
			/* Something outside the plan holds the port (a
			 * listening socket, a client's ephemeral port):
			 * the core sets it aside and picks another. */
			a->args->busy_port = host_port;
			err_set(e,
				"cannot start container '%s': host port %d "
				"is in use by something else",
				cname, host_port);
			goto drop;
		}
		api_error(d, status, e, "cannot start container '%s'", cname);
		goto drop;
	}
	if (!container_publishes(a->want->spec)) {
		if (inspect(d, id, &ci, e) < 0)
			goto drop;
		if (!ci.addr[0]) {
			err_set(e,
				"container '%s' has no address on its network "
				"'%s' (%s); the ingress cannot reach it",
				cname, net ? net : "(none)", ci.state);
			goto drop;
		}
		snprintf(a->args->addr, sizeof(a->args->addr), "%s", ci.addr);
		host_port = 0;
	}
	waited = timings_now();
	rc = wait_healthy(d, cname, id, host_port, a->args->addr, hint, a->want,
			  e);
	a->args->health_seconds += timings_now() - waited;
	if (rc < 0)
		goto drop;
	ret = 0;
	goto out;
drop:
	/* Best effort: the error that matters is already in e. */
	remove_container(d, cname, id, 0, &re);
out:
	json_decref(body);
	json_decref(j);
	free(cesc);
	free(path);
	free(id);
	return ret;
}

/* --- actions ----------------------------------------------------------- */

static int
pinned_port(const struct live_object *want)
{
	json_int_t p = json_integer_value(
		json_object_get(want->spec, "hostPort"));

	return p > 0 && p <= 65535 ? (int)p : 0;
}

/* A quick health check of a container that was healthy before: on its
 * host port, or on its address when the spec publishes none. */
static int
answers(const struct live_object *want, const struct cinfo *ci)
{
	const char *path = json_string_value(
		json_object_get(json_object_get(want->spec, "health"), "path"));
	struct err pe;

	if (!container_publishes(want->spec))
		return ci->addr[0] &&
		       http_probe_at(ci->addr, container_port(want),
				     path ? path : "/", ADOPT_PROBE_S,
				     &pe) == 0;
	return ci->host_port > 0 && http_probe(ci->host_port, path ? path : "/",
					       ADOPT_PROBE_S, &pe) == 0;
}

/* The environment ("site/env") a desired container belongs to. */
static const char *
want_env(const struct driver_action *a)
{
	return a->want && a->want->env ? a->want->env->id : NULL;
}

/*
 * CREATE, and UPDATE of a container that is missing or stopped. A
 * healthy "<name>-next" of the wanted spec (an update interrupted between
 * removing the old container and the rename) is adopted; any other
 * leftover candidate is removed first, since it may hold a port slot.
 */
static int
create_op(struct docker *d, const struct driver_action *a, struct err *e)
{
	const char *name = a->want->name, *env_id = want_env(a);
	const char *net = a->args->network ? a->args->network : d->network;
	char *next = xprintf("%s" NEXT_SUFFIX, name), netid[80];
	int port = pinned_port(a->want);
	struct cinfo ci;
	int ret = -1;

	if (!port)
		port = a->args->host_ports[0];
	if (!container_publishes(a->want->spec))
		port = 0; /* the ingress reaches it on the network */
	else if (port <= 0 || port > 65535) {
		err_set(e,
			"cannot create container '%s': no host port "
			"allocated",
			name);
		goto out;
	}
	if (net && ensure_network(d, net, netid, sizeof(netid), e) < 0) {
		err_wrap(e, "cannot %s container '%s'", driver_op_name(a->op),
			 name);
		goto out;
	}
	if (inspect(d, next, &ci, e) < 0)
		goto out;
	if (is_candidate(&ci, env_id) && ci.running &&
	    !strcmp(ci.spec, a->want->hash) && answers(a->want, &ci)) {
		struct cinfo cur;

		if (inspect(d, name, &cur, e) < 0)
			goto out;
		if (cur.exists && !cur.managed) {
			foreign(d, name, e);
			goto out;
		}
		if (cur.exists && remove_container(d, name, cur.id, 1, e) < 0)
			goto out;
		snprintf(a->args->addr, sizeof(a->args->addr), "%s", ci.addr);
		ret = rename_container(d, next, ci.id, name, e);
		goto out;
	}
	if (is_candidate(&ci, env_id) &&
	    remove_container(d, next, ci.id, 0, e) < 0)
		goto out;
	ret = start_new(d, a, name, port, net ? netid : NULL, 1, "", e);
out:
	free(next);
	return ret;
}

static int
update_op(struct docker *d, const struct driver_action *a, struct err *e)
{
	const struct live_item *have = a->have;
	const char *name = a->want->name;
	const char *net = a->args->network ? a->args->network : d->network;
	const int *slots = a->args->host_ports;
	char *next = NULL, netid[80];
	struct cinfo ci;
	int port, ret = -1;

	if (!have || !have->running)
		return create_op(d, a, e);
	if (have->spec_hash && !strcmp(have->spec_hash, a->want->hash)) {
		/* Already rolled out (a re-run after a crash): nothing to
		 * do if the engine agrees, its limits too (a heal of limits
		 * changed by hand is a rollout like any other). */
		long long mem, cpus;

		if (inspect(d, name, &ci, e) < 0)
			return -1;
		wanted_limits(a->want, &mem, &cpus);
		if (ci.exists && ci.managed && ci.running &&
		    !strcmp(ci.spec, a->want->hash) &&
		    limit_matches(ci.memory, mem) &&
		    limit_matches(ci.nano_cpus, cpus))
			return 0;
	}
	if (pinned_port(a->want)) {
		/* One port, no second slot: stop the old one first. */
		if (remove_if_ours(d, name, 1, e) < 0)
			return -1;
		return create_op(d, a, e);
	}
	port = have->host_port == slots[0] ? slots[1] : slots[0];
	if (!container_publishes(a->want->spec))
		port = 0; /* no slot: the candidate has an address of its own */
	else if (port <= 0 || port > 65535 || port == have->host_port) {
		return err_set(e,
			       "cannot update container '%s': no free host "
			       "port slot (slots %d and %d, in use %d)",
			       name, slots[0], slots[1], have->host_port);
	}
	next = xprintf("%s" NEXT_SUFFIX, name);
	if (net && ensure_network(d, net, netid, sizeof(netid), e) < 0) {
		err_wrap(e, "cannot %s container '%s'", driver_op_name(a->op),
			 name);
		goto out;
	}
	if (clear_candidate(d, next, want_env(a), e) < 0)
		goto out;
	/* No alias for the candidate: it must not get traffic by name
	 * before it is healthy. After the rename, the engine's DNS
	 * answers for it under the container name. */
	if (start_new(d, a, next, port, net ? netid : NULL, 0,
		      "; the "
		      "running container was kept",
		      e) < 0)
		goto out;
	/* Routes that follow addresses reach the candidate before the old
	 * container stops (its address goes with it). */
	if (a->args->switch_to && a->args->addr[0] &&
	    a->args->switch_to(a->args->switch_arg, a->args->addr, e) < 0) {
		struct err re;

		err_wrap(e,
			 "cannot update container '%s': the ingress was not "
			 "pointed at the new container; the running "
			 "container was kept",
			 name);
		remove_if_ours(d, next, 0, &re);
		goto out;
	}
	if (inspect(d, name, &ci, e) < 0)
		goto out;
	if (ci.exists && !ci.managed) {
		foreign(d, name, e);
		goto out;
	}
	if (ci.exists && remove_container(d, name, ci.id, 1, e) < 0)
		goto out;
	ret = rename_container(d, next, next, name, e);
out:
	free(next);
	return ret;
}

/*
 * Stop and remove; a leftover rollout candidate "<name>-next" of the
 * same environment goes too (one of another environment stays).
 */
static int
remove_op(struct docker *d, const struct driver_action *a, struct err *e)
{
	char *next = xprintf("%s" NEXT_SUFFIX, a->name), env_id[160] = "";
	struct cinfo ci;
	int ret = -1;

	if (a->have && a->have->env_id)
		snprintf(env_id, sizeof(env_id), "%s", a->have->env_id);
	if (inspect(d, a->name, &ci, e) < 0)
		goto out;
	if (ci.exists && !ci.managed) {
		foreign(d, a->name, e);
		goto out;
	}
	if (!env_id[0])
		snprintf(env_id, sizeof(env_id), "%s", ci.env);
	if (ci.exists && remove_container(d, a->name, ci.id, 1, e) < 0)
		goto out;
	if (inspect(d, next, &ci, e) < 0)
		goto out;
	if (env_id[0] && ci.env[0] && is_candidate(&ci, env_id) &&
	    remove_container(d, next, ci.id, 0, e) < 0)
		goto out;
	ret = 0;
out:
	free(next);
	return ret;
}

/* Restart a container of ours (a missing one is fine: nothing runs on
 * the old data). */
static int
restart_op(struct docker *d, const struct driver_action *a, struct err *e)
{
	char *esc = NULL, *path = NULL;
	struct cinfo ci;
	long status;
	int ret = -1;

	if (inspect(d, a->name, &ci, e) < 0)
		return -1;
	if (!ci.exists)
		return 0;
	if (!ci.managed)
		return foreign(d, a->name, e);
	esc = escape(d, ci.id);
	path = xprintf("/containers/%s/restart?t=%d", esc, STOP_SECONDS);
	if (perform(d, "POST", path, NULL, d->timeout_ms + STOP_SECONDS * 1000L,
		    0, &status, e) < 0) {
		err_wrap(e, "cannot restart container '%s'", a->name);
		goto out;
	}
	if (status != 204 && status != 404) {
		api_error(d, status, e, "cannot restart container '%s'",
			  a->name);
		goto out;
	}
	ret = 0;
out:
	free(esc);
	free(path);
	return ret;
}

static int
docker_apply(void *h, const struct driver_action *a, struct err *e)
{
	struct docker *d = h;

	if (a->kind != LIVE_CONTAINER)
		return err_set(e, "the docker driver cannot %s %s '%s'",
			       driver_op_name(a->op), live_kind_name(a->kind),
			       a->name);
	switch (a->op) {
	case OP_CREATE:
	case OP_UPDATE:
		if (!a->want || !a->args)
			return err_set(e,
				       "cannot %s container '%s': no "
				       "desired spec",
				       driver_op_name(a->op), a->name);
		return a->op == OP_CREATE ? create_op(d, a, e) :
					    update_op(d, a, e);
	case OP_REMOVE: return remove_op(d, a, e);
	case OP_RESTART: return restart_op(d, a, e);
	case OP_PURGE: break;
	}
	return err_set(e,
		       "cannot purge container '%s': containers hold no "
		       "data; remove it instead",
		       a->name);
}

const struct driver driver_docker = {
	.name = "docker",
	.kinds = 1u << LIVE_CONTAINER,
	.open = docker_open,
	.close = docker_close,
	.observe = docker_observe,
	.conforms = docker_conforms,
	.apply = docker_apply,
	.events_open = docker_events_open,
	.events_fd = docker_events_fd,
	.events_read = docker_events_read,
	.events_close = docker_events_close,
};
