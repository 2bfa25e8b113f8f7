/*
 * test_serve.c - watch mode's HTTP side: webhook signatures, replay
 * memory, the webhook decision, the metrics exposition, and a real
 * server on 127.0.0.1:0 driven with libcurl.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "serve/internal.h"
#include "serve/serve.h"

/* GitHub's documented example ("Validating webhook deliveries"). */
#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY "Hello, World!"
#define GH_SIG                             \
	"757107ea0eb2509fc211221cce984b8a" \
	"37570b6d7586c22c46f4379c8b043e17"

#define SECRET "s3cret-for-tests"
#define MAX_BODY 4096

/* --- helpers --------------------------------------------------------- */

/* "sha256=<hex>" of HMAC-SHA256(key, body) into out (72 bytes). */
static void
sign(char out[72], const char *key, const void *body, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key),
			     (const unsigned char *)(len ? body : ""), len, md,
			     &mdlen));
	assert_int_equal(mdlen, 32);
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 15];
	}
	out[71] = '\0';
}

/* --- webhook_verify -------------------------------------------------- */

static void
verify_accepts_github_header(void **state)
{
	(void)state;
	assert_int_equal(webhook_verify(GH_SECRET, "sha256=" GH_SIG, GH_BODY,
					strlen(GH_BODY)),
			 1);
}

static void
verify_accepts_generic_bare_and_uppercase_hex(void **state)
{
	char upper[] = GH_SIG;

	(void)state;
	assert_int_equal(webhook_verify(GH_SECRET, GH_SIG, GH_BODY,
					strlen(GH_BODY)),
			 1);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(webhook_verify(GH_SECRET, upper, GH_BODY,
					strlen(GH_BODY)),
			 1);
}

static void
verify_rejects_wrong_secret_or_body(void **state)
{
	(void)state;
	assert_int_equal(webhook_verify("It's a Secret to Everybody!",
					"sha256=" GH_SIG, GH_BODY,
					strlen(GH_BODY)),
			 0);
	assert_int_equal(webhook_verify(GH_SECRET, "sha256=" GH_SIG,
					"Hello, World?", 13),
			 0);
	assert_int_equal(webhook_verify(GH_SECRET, "sha256=" GH_SIG, GH_BODY,
					strlen(GH_BODY) - 1),
			 0);
}

static void
verify_rejects_truncated_or_extended(void **state)
{
	char sig[80];

	(void)state;
	snprintf(sig, sizeof(sig), "sha256=%.63s", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
	snprintf(sig, sizeof(sig), "sha256=%.62s", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
	snprintf(sig, sizeof(sig), "sha256=%s0", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
	snprintf(sig, sizeof(sig), "sha256=%s ", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
}

static void
verify_rejects_bad_hex_and_prefixes(void **state)
{
	char sig[80];

	(void)state;
	snprintf(sig, sizeof(sig), "sha256=%.63sg", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
	snprintf(sig, sizeof(sig), "sha256= %.63s", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
	snprintf(sig, sizeof(sig), "sha1=%s", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
	snprintf(sig, sizeof(sig), "SHA256=%s", GH_SIG);
	assert_int_equal(webhook_verify(GH_SECRET, sig, GH_BODY,
					strlen(GH_BODY)),
			 0);
}

static void
verify_rejects_empty_inputs(void **state)
{
	char sig[72];

	(void)state;
	assert_int_equal(webhook_verify(GH_SECRET, "", GH_BODY,
					strlen(GH_BODY)),
			 0);
	assert_int_equal(webhook_verify(GH_SECRET, "sha256=", GH_BODY,
					strlen(GH_BODY)),
			 0);
	assert_int_equal(webhook_verify(GH_SECRET, NULL, GH_BODY,
					strlen(GH_BODY)),
			 0);
	assert_int_equal(webhook_verify(NULL, GH_SIG, GH_BODY, strlen(GH_BODY)),
			 0);
	/* An empty secret proves nothing, even with a matching MAC. */
	sign(sig, "", GH_BODY, strlen(GH_BODY));
	assert_int_equal(webhook_verify("", sig, GH_BODY, strlen(GH_BODY)), 0);
	/* An empty body is a body like any other. */
	sign(sig, SECRET, "", 0);
	assert_int_equal(webhook_verify(SECRET, sig, NULL, 0), 1);
	assert_int_equal(webhook_verify(SECRET, sig, "x", 1), 0);
}

/* --- replay memory --------------------------------------------------- */

static void
replay_remembers_the_last_1024_ids(void **state)
{
	struct replay *r = replay_new();
	char id[32];

	(void)state;
	assert_int_equal(replay_check(r, "a"), 0);
	assert_int_equal(replay_check(r, "a"), 1);
	assert_int_equal(replay_check(r, "b"), 0);
	for (int i = 0; i < REPLAY_KEEP - 2; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		assert_int_equal(replay_check(r, id), 0);
	}
	/* Full: "a" is still remembered (a hit does not re-insert). */
	assert_int_equal(replay_check(r, "a"), 1);
	assert_int_equal(replay_check(r, "c"), 0); /* evicts "a" */
	assert_int_equal(replay_check(r, "b"), 1);
	assert_int_equal(replay_check(r, "a"), 0); /* forgotten, now new */
	assert_int_equal(replay_check(r, "b"), 0); /* evicted by "a" */
	assert_int_equal(replay_check(r, "c"), 1);
	for (int i = 0; i < 4 * REPLAY_KEEP; i++) {
		snprintf(id, sizeof(id), "more-%d", i);
		assert_int_equal(replay_check(r, id), 0);
	}
	for (int i = 3 * REPLAY_KEEP; i < 4 * REPLAY_KEEP; i++) {
		snprintf(id, sizeof(id), "more-%d", i);
		assert_int_equal(replay_check(r, id), 1);
	}
	replay_free(r);
	replay_free(NULL);
}

/* --- webhook_decide -------------------------------------------------- */

static void
decide_checks_signature_first(void **state)
{
	struct replay *r = replay_new();
	struct webhook_request rq = { 0 };
	struct webhook_verdict v;
	char sig[72];

	(void)state;
	rq.body = "{}";
	rq.len = 2;
	rq.github_delivery = "d-1";
	webhook_decide(&v, NULL, NULL, &rq);
	assert_int_equal(v.status, 404);
	webhook_decide(&v, SECRET, r, &rq); /* no signature */
	assert_int_equal(v.status, 401);
	assert_false(v.call_hook);
	sign(sig, "other", "{}", 2);
	rq.hub_signature = sig;
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 401);
	/* A rejected delivery is not remembered: the real one still goes. */
	sign(sig, SECRET, "{}", 2);
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 202);
	assert_true(v.call_hook);
	assert_string_equal(v.event, "push");
	assert_string_equal(v.delivery, "d-1");
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 200);
	assert_string_equal(v.message, "duplicate delivery ignored\n");
	assert_false(v.call_hook);
	replay_free(r);
}

static void
decide_needs_a_valid_delivery_and_event(void **state)
{
	struct replay *r = replay_new();
	struct webhook_request rq = { 0 };
	struct webhook_verdict v;
	char sig[72], longid[DELIVERY_MAX + 2];

	(void)state;
	sign(sig, SECRET, "x", 1);
	rq.body = "x";
	rq.len = 1;
	rq.signature = sig + 7; /* generic header, bare hex */
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 400);
	rq.delivery_id = "";
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 400);
	rq.delivery_id = "has space";
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 400);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	rq.delivery_id = longid;
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 400);
	longid[DELIVERY_MAX] = '\0';
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 202);
	rq.delivery_id = "d-2";
	rq.github_event = "push\nX-Injected: 1";
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 400);
	rq.github_event = "pull_request";
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 202);
	assert_string_equal(v.event, "pull_request");
	rq.delivery_id = "d-3";
	rq.github_event = "ping";
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 200);
	assert_string_equal(v.message, "pong\n");
	assert_false(v.call_hook);
	/* X-GitHub-Delivery wins over X-Delivery-Id. */
	rq.github_event = NULL;
	rq.github_delivery = "d-4";
	rq.delivery_id = "d-2";
	webhook_decide(&v, SECRET, r, &rq);
	assert_int_equal(v.status, 202);
	assert_string_equal(v.delivery, "d-4");
	replay_free(r);
}

/* --- metrics --------------------------------------------------------- */

static void
metrics_render_has_every_family(void **state)
{
	struct metrics *m = metrics_new();
	struct strbuf out;
	static const char *const want[] = {
		"# HELP pressctl_reconcile_duration_seconds ",
		"# TYPE pressctl_reconcile_duration_seconds histogram\n",
		"pressctl_reconcile_duration_seconds_bucket{le=\"0.05\"} 1\n",
		"pressctl_reconcile_duration_seconds_bucket{le=\"0.1\"} 1\n",
		"pressctl_reconcile_duration_seconds_bucket{le=\"1\"} 2\n",
		"pressctl_reconcile_duration_seconds_bucket{le=\"60\"} 2\n",
		"pressctl_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3\n",
		"pressctl_reconcile_duration_seconds_sum 120.99\n",
		"pressctl_reconcile_duration_seconds_count 3\n",
		"# TYPE pressctl_reconciles_total counter\n",
		"pressctl_reconciles_total{result=\"ok\"} 2\n",
		"pressctl_reconciles_total{result=\"failed\"} 1\n",
		"# TYPE pressctl_actions_total counter\n",
		"pressctl_actions_total{action=\"create\",result=\"done\"} 2\n",
		"pressctl_actions_total{action=\"heal\",result=\"failed\"} 1\n",
		("pressctl_actions_total{action=\"a\\\"b\\\\c\\nd\","
		 "result=\"skipped\"} 1\n"),
		"# TYPE pressctl_drift_objects gauge\n",
		"pressctl_drift_objects 7\n",
		"# TYPE pressctl_last_success_timestamp_seconds gauge\n",
		"pressctl_last_success_timestamp_seconds 1700000100\n",
		"# TYPE pressctl_applied_revision_info gauge\n",
		"pressctl_applied_revision_info{revision=\"abc123\"} 1\n",
		"# TYPE pressctl_leader gauge\n",
		"pressctl_leader 1\n",
	};

	(void)state;
	metrics_reconcile(m, 0.01, 1, "old", 1700000000);
	metrics_reconcile(m, 0.98, 0, "never", 1700000050);
	metrics_reconcile(m, 120, 1, "abc123", 1700000100);
	metrics_action(m, "heal", "failed");
	metrics_action(m, "create", "done");
	metrics_action(m, "a\"b\\c\nd", "skipped");
	metrics_action(m, "create", "done");
	metrics_drift(m, 7);
	metrics_leader(m, 1);
	strbuf_init(&out, 0);
	metrics_render(m, &out);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out.buf, want[i]))
			fail_msg("missing '%s' in:\n%s", want[i], out.buf);
	/* Sorted label pairs, and no revision but the last good one. */
	assert_true(strstr(out.buf, "action=\"a") <
		    strstr(out.buf, "action=\"create\""));
	assert_null(strstr(out.buf, "never"));
	assert_null(strstr(out.buf, "\"old\""));
	assert_int_equal(out.buf[out.len - 1], '\n');
	strbuf_release(&out);
	metrics_free(m);
	metrics_free(NULL);
}

static void
metrics_render_fresh_registry(void **state)
{
	struct metrics *m = metrics_new();
	struct strbuf out;

	(void)state;
	strbuf_init(&out, 0);
	metrics_render(m, &out);
	assert_non_null(strstr(out.buf, "_bucket{le=\"+Inf\"} 0\n"));
	assert_non_null(strstr(out.buf, "pressctl_leader 0\n"));
	assert_non_null(
		strstr(out.buf, "pressctl_last_success_timestamp_seconds 0\n"));
	assert_null(strstr(out.buf, "pressctl_actions_total{"));
	assert_null(strstr(out.buf, "pressctl_applied_revision_info{"));
	/* Every family has its HELP and TYPE: 7 of each. */
	{
		int help = 0, type = 0;

		for (const char *p = out.buf; (p = strstr(p, "# HELP ")); p++)
			help++;
		for (const char *p = out.buf; (p = strstr(p, "# TYPE ")); p++)
			type++;
		assert_int_equal(help, 7);
		assert_int_equal(type, 7);
	}
	strbuf_release(&out);
	metrics_free(m);
}

static void
metrics_render_pass_phases(void **state)
{
	struct metrics *m = metrics_new();
	struct timings t;
	struct strbuf out;
	static const char *const want[] = {
		"# TYPE pressctl_pass_seconds gauge\n",
		"pressctl_pass_seconds 1.000000\n",
		"# TYPE pressctl_pass_phase_seconds gauge\n",
		"pressctl_pass_phase_seconds{phase=\"state read\"} 0.250000\n",
		"pressctl_pass_phase_seconds{phase=\"observe\"} 0.500000\n",
		"pressctl_pass_phase_seconds{phase=\"other\"} 0.250000\n",
		"pressctl_pass_part_seconds{phase=\"observe\",part=\"docker\"} "
		"0.400000\n",
		"pressctl_pass_part_count{phase=\"apply\",part=\"create "
		"container\"} 2\n",
		"pressctl_pass_part_max_seconds{phase=\"apply\",part=\"create "
		"container\"} 3.000000\n",
	};

	(void)state;
	memset(&t, 0, sizeof(t));
	timings_part(&t, "state read", NULL, 0.25);
	timings_part(&t, "observe", NULL, 0.5);
	timings_part(&t, "observe", "docker", 0.4);
	timings_part(&t, "apply", "create container", 1);
	timings_part(&t, "apply", "create container", 3);
	metrics_pass_timings(m, &t, 1.0);
	timings_release(&t); /* copied */
	strbuf_init(&out, 0);
	metrics_render(m, &out);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out.buf, want[i]))
			fail_msg("missing '%s' in:\n%s", want[i], out.buf);
	strbuf_release(&out);
	metrics_free(m);
}

/* The official client's parser must read it (scripts/deps.sh installs
 * python3-prometheus-client; without it the test fails, never skips). */
static void
metrics_parse_with_prometheus_client(void **state)
{
	static const char py[] =
		"import sys\n"
		"from prometheus_client.parser import "
		"text_string_to_metric_families as parse\n"
		"fams = {f.name: f for f in parse(sys.stdin.read())}\n"
		"assert fams['pressctl_reconcile_duration_seconds'].type == "
		"'histogram'\n"
		"acts = [s for s in fams['pressctl_actions'].samples]\n"
		"assert any(s.labels['action'] == 'a\"b\\\\c\\nd' for s in "
		"acts), acts\n"
		"assert fams['pressctl_applied_revision_info'].samples[0]"
		".labels == {'revision': 'r1'}\n"
		"print(len(fams))\n";
	char script[] = "/tmp/test_serve_py.XXXXXX";
	char cmd[256];
	struct metrics *m = metrics_new();
	struct strbuf out;
	FILE *f, *p;
	int fd;

	(void)state;
	if (system("/usr/bin/python3 -c 'import prometheus_client' "
		   ">/dev/null 2>&1") != 0) {
		metrics_free(m);
		fail_msg(
			"python3-prometheus-client is missing: run scripts/deps.sh");
	}
	metrics_reconcile(m, 0.3, 1, "r1", 1700000000);
	metrics_action(m, "a\"b\\c\nd", "done");
	metrics_action(m, "create", "skipped");
	{ /* the pass gauges, with a label value to escape */
		struct timings t;

		memset(&t, 0, sizeof(t));
		timings_part(&t, "observe", NULL, 0.2);
		timings_part(&t, "observe", "do\"cker", 0.1);
		metrics_pass_timings(m, &t, 0.3);
		timings_release(&t);
	}
	strbuf_init(&out, 0);
	metrics_render(m, &out);
	fd = mkstemp(script);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(py, f);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s", script);
	p = popen(cmd, "w");
	assert_non_null(p);
	fputs(out.buf, p);
	assert_int_equal(pclose(p), 0);
	unlink(script);
	strbuf_release(&out);
	metrics_free(m);
}

/* --- the server ------------------------------------------------------ */

static struct serve *srv; /* with a webhook secret */
static int port;
static struct metrics *reg;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int is_ready;
static int hooks;
static char last_event[64], last_delivery[160];

static int
ready_cb(void *arg, char *why, size_t n)
{
	int r;

	(void)arg;
	pthread_mutex_lock(&mu);
	r = is_ready;
	pthread_mutex_unlock(&mu);
	if (!r)
		snprintf(why, n, "postgres unreachable:\nconnection refused");
	return r;
}

static void
hook_cb(void *arg, const char *event, const char *delivery)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	hooks++;
	snprintf(last_event, sizeof(last_event), "%s", event);
	snprintf(last_delivery, sizeof(last_delivery), "%s", delivery);
	pthread_mutex_unlock(&mu);
}

static int
hook_count(void)
{
	int n;

	pthread_mutex_lock(&mu);
	n = hooks;
	pthread_mutex_unlock(&mu);
	return n;
}

static int
server_up(void **state)
{
	struct serve_config c = { 0 };
	struct err e;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	reg = metrics_new();
	c.listen = "127.0.0.1:0";
	c.webhook_secret = SECRET;
	c.max_body = MAX_BODY;
	c.metrics = reg;
	c.ready = ready_cb;
	c.hook = hook_cb;
	if (serve_start(&srv, &c, &e) < 0) {
		fprintf(stderr, "serve_start: %s\n", e.msg);
		return -1;
	}
	port = serve_port(srv);
	return port > 0 ? 0 : -1;
}

static int
server_down(void **state)
{
	(void)state;
	serve_stop(srv);
	metrics_free(reg);
	curl_global_cleanup();
	return 0;
}

struct resp {
	long status;
	CURLcode rc;
	struct strbuf body;
	char ctype[128];
	char allow[64];
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	strbuf_add(&r->body, p, size * n);
	return size * n;
}

/* A streamed (chunked) request body of `left` bytes of 'x'. */
static size_t
on_read(char *p, size_t size, size_t n, void *arg)
{
	size_t *left = arg, k = size * n < *left ? size * n : *left;

	memset(p, 'x', k);
	*left -= k;
	return k;
}

static void
resp_release(struct resp *r)
{
	strbuf_release(&r->body);
}

/*
 * One request to the test server. headers: NULL-terminated; body NULL
 * for none; stream > 0 sends that many bytes chunked instead.
 */
static void
request(struct resp *r, int to_port, const char *method, const char *path,
	const char *const *headers, const char *body, size_t stream)
{
	struct curl_slist *h = NULL;
	char url[256];
	const char *ct = NULL;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", to_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	for (; headers && *headers; headers++)
		h = curl_slist_append(h, *headers);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (stream) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &stream);
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	{
		struct curl_header *a = NULL;

		if (curl_easy_header(c, "Allow", 0, CURLH_HEADER, -1, &a) ==
		    CURLHE_OK)
			snprintf(r->allow, sizeof(r->allow), "%s", a->value);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void
expect(const struct resp *r, long status, const char *body)
{
	if (r->rc != CURLE_OK)
		fail_msg("curl: %s", curl_easy_strerror(r->rc));
	if (r->status != status || (body && strcmp(r->body.buf, body) != 0))
		fail_msg("want %ld '%s', got %ld '%s'", status,
			 body ? body : "*", r->status, r->body.buf);
}

/* POST /hooks/git with a signature and delivery id. */
static void
post_hook(struct resp *r, const char *body, const char *sigkey,
	  const char *delivery, const char *event)
{
	char sig[72], sighdr[128], dhdr[256], ehdr[128];
	const char *h[4];
	int n = 0;

	if (sigkey) {
		sign(sig, sigkey, body, strlen(body));
		snprintf(sighdr, sizeof(sighdr), "X-Hub-Signature-256: %s",
			 sig);
		h[n++] = sighdr;
	}
	if (delivery) {
		snprintf(dhdr, sizeof(dhdr), "X-GitHub-Delivery: %s", delivery);
		h[n++] = dhdr;
	}
	if (event) {
		snprintf(ehdr, sizeof(ehdr), "X-GitHub-Event: %s", event);
		h[n++] = ehdr;
	}
	h[n] = NULL;
	request(r, port, "POST", "/hooks/git", h, body, 0);
}

static void
server_healthz(void **state)
{
	struct resp r;

	(void)state;
	request(&r, port, "GET", "/healthz", NULL, NULL, 0);
	expect(&r, 200, "ok\n");
	assert_string_equal(r.ctype, "text/plain; charset=utf-8");
	resp_release(&r);
	request(&r, port, "HEAD", "/healthz", NULL, NULL, 0);
	expect(&r, 200, "");
	resp_release(&r);
	request(&r, port, "GET", "/healthz?verbose=1", NULL, NULL, 0);
	expect(&r, 200, "ok\n");
	resp_release(&r);
}

static void
server_readyz_both_ways(void **state)
{
	struct resp r;

	(void)state;
	pthread_mutex_lock(&mu);
	is_ready = 0;
	pthread_mutex_unlock(&mu);
	request(&r, port, "GET", "/readyz", NULL, NULL, 0);
	expect(&r, 503, "postgres unreachable: connection refused\n");
	resp_release(&r);
	pthread_mutex_lock(&mu);
	is_ready = 1;
	pthread_mutex_unlock(&mu);
	request(&r, port, "GET", "/readyz", NULL, NULL, 0);
	expect(&r, 200, "ready\n");
	resp_release(&r);
}

static void
server_metrics(void **state)
{
	struct resp r;

	(void)state;
	metrics_leader(reg, 1);
	request(&r, port, "GET", "/metrics", NULL, NULL, 0);
	expect(&r, 200, NULL);
	assert_string_equal(r.ctype,
			    "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body.buf, "\npressctl_leader 1\n"));
	assert_non_null(strstr(r.body.buf, "# TYPE pressctl_reconcile_"
					   "duration_seconds histogram\n"));
	resp_release(&r);
}

static void
server_unknown_path_and_wrong_method(void **state)
{
	struct resp r;

	(void)state;
	request(&r, port, "GET", "/", NULL, NULL, 0);
	expect(&r, 404, NULL);
	resp_release(&r);
	request(&r, port, "GET", "/healthz/", NULL, NULL, 0);
	expect(&r, 404, NULL);
	resp_release(&r);
	request(&r, port, "POST", "/healthz", NULL, "x", 0);
	expect(&r, 405, NULL);
	assert_string_equal(r.allow, "GET, HEAD");
	resp_release(&r);
	request(&r, port, "DELETE", "/metrics", NULL, NULL, 0);
	expect(&r, 405, NULL);
	resp_release(&r);
	request(&r, port, "GET", "/hooks/git", NULL, NULL, 0);
	expect(&r, 405, NULL);
	assert_string_equal(r.allow, "POST");
	resp_release(&r);
}

static void
server_webhook_valid_calls_hook_once(void **state)
{
	struct resp r;
	int before = hook_count();

	(void)state;
	post_hook(&r, "{\"ref\":\"refs/heads/main\"}", SECRET, "del-valid",
		  "push");
	expect(&r, 202, "accepted\n");
	resp_release(&r);
	assert_int_equal(hook_count(), before + 1);
	pthread_mutex_lock(&mu);
	assert_string_equal(last_event, "push");
	assert_string_equal(last_delivery, "del-valid");
	pthread_mutex_unlock(&mu);
	/* The generic form: X-Signature bare hex, X-Delivery-Id, no
	 * event (push). */
	{
		char sig[72], sighdr[128];
		const char *h[3];

		sign(sig, SECRET, "generic", 7);
		snprintf(sighdr, sizeof(sighdr), "X-Signature: %s", sig + 7);
		h[0] = sighdr;
		h[1] = "X-Delivery-Id: gen-1";
		h[2] = NULL;
		request(&r, port, "POST", "/hooks/git", h, "generic", 0);
		expect(&r, 202, "accepted\n");
		resp_release(&r);
	}
	assert_int_equal(hook_count(), before + 2);
}

static void
server_webhook_wrong_signature_401(void **state)
{
	struct resp r;
	int before = hook_count();

	(void)state;
	post_hook(&r, "{}", "not-the-secret", "del-bad", "push");
	expect(&r, 401, NULL);
	resp_release(&r);
	post_hook(&r, "{}", NULL, "del-bad", "push");
	expect(&r, 401, NULL);
	resp_release(&r);
	assert_int_equal(hook_count(), before);
	/* Nothing was remembered: the genuine delivery still counts. */
	post_hook(&r, "{}", SECRET, "del-bad", "push");
	expect(&r, 202, "accepted\n");
	resp_release(&r);
	assert_int_equal(hook_count(), before + 1);
}

static void
server_webhook_replay_ignored(void **state)
{
	struct resp r;
	int before = hook_count();

	(void)state;
	post_hook(&r, "{\"n\":1}", SECRET, "del-replay", "push");
	expect(&r, 202, "accepted\n");
	resp_release(&r);
	post_hook(&r, "{\"n\":1}", SECRET, "del-replay", "push");
	expect(&r, 200, "duplicate delivery ignored\n");
	resp_release(&r);
	assert_int_equal(hook_count(), before + 1);
}

static void
server_webhook_oversized_413(void **state)
{
	struct resp r;
	char *big = xmalloc(MAX_BODY + 2);
	int before = hook_count();

	(void)state;
	memset(big, 'x', MAX_BODY + 1);
	big[MAX_BODY + 1] = '\0';
	post_hook(&r, big, SECRET, "del-big", "push"); /* Content-Length */
	expect(&r, 413, NULL);
	resp_release(&r);
	big[MAX_BODY] = '\0'; /* exactly the cap */
	post_hook(&r, big, SECRET, "del-cap", "push");
	expect(&r, 202, "accepted\n");
	resp_release(&r);
	free(big);
	/* Chunked, no Content-Length: found while streaming. */
	request(&r, port, "POST", "/hooks/git", NULL, NULL, MAX_BODY + 100);
	expect(&r, 413, NULL);
	resp_release(&r);
	/* Far past the cap: the connection is closed, no answer. */
	request(&r, port, "POST", "/hooks/git", NULL, NULL, 64 * MAX_BODY);
	assert_int_not_equal(r.rc, CURLE_OK);
	resp_release(&r);
	assert_int_equal(hook_count(), before + 1);
}

static void
server_webhook_missing_delivery_400(void **state)
{
	struct resp r;
	int before = hook_count();

	(void)state;
	post_hook(&r, "{}", SECRET, NULL, "push");
	expect(&r, 400, NULL);
	resp_release(&r);
	assert_int_equal(hook_count(), before);
}

static void
server_webhook_ping(void **state)
{
	struct resp r;
	int before = hook_count();

	(void)state;
	post_hook(&r, "{\"zen\":\"x\"}", SECRET, "del-ping", "ping");
	expect(&r, 200, "pong\n");
	resp_release(&r);
	assert_int_equal(hook_count(), before);
}

static void
server_without_secret_has_no_hook(void **state)
{
	struct serve_config c = { 0 };
	struct serve *s = NULL;
	struct err e;
	struct resp r;

	(void)state;
	c.listen = "127.0.0.1:0";
	assert_int_equal(serve_start(&s, &c, &e), 0);
	request(&r, serve_port(s), "POST", "/hooks/git", NULL, "{}", 0);
	expect(&r, 404, NULL);
	resp_release(&r);
	request(&r, serve_port(s), "GET", "/metrics", NULL, NULL, 0);
	expect(&r, 404, NULL); /* no registry given */
	resp_release(&r);
	request(&r, serve_port(s), "GET", "/readyz", NULL, NULL, 0);
	expect(&r, 200, "ready\n"); /* no callback: ready */
	resp_release(&r);
	serve_stop(s);
	serve_stop(NULL);
}

static void
server_listen_errors_name_the_address(void **state)
{
	static const char *const bad[] = {
		"",	      "48560",		 ":48560",
		"127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:x1",
		"::1:48560",  "[::1]48560",	 "[]:1",
	};
	struct serve_config c = { 0 };
	struct serve *s = NULL;
	struct err e;
	char addr[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.listen = bad[i];
		assert_int_equal(serve_start(&s, &c, &e), -1);
		assert_null(s);
		if (*bad[i] && !strstr(e.msg, bad[i]))
			fail_msg("'%s': message '%s' lacks it", bad[i], e.msg);
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	c.listen = addr;
	assert_int_equal(serve_start(&s, &c, &e), -1);
	{
		char want[128];

		snprintf(want, sizeof(want),
			 "cannot listen on '%s': Address already in use", addr);
		if (strncmp(e.msg, want, strlen(want)) != 0)
			fail_msg("got '%s'", e.msg);
	}
	c.listen = "[::1]:0";
	if (serve_start(&s, &c, &e) == 0) { /* where IPv6 exists */
		struct resp r;
		char url[64];
		CURL *cu = curl_easy_init();

		assert_true(serve_port(s) > 0);
		snprintf(url, sizeof(url), "http://[::1]:%d/healthz",
			 serve_port(s));
		memset(&r, 0, sizeof(r));
		strbuf_init(&r.body, 0);
		curl_easy_setopt(cu, CURLOPT_URL, url);
		curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(cu, CURLOPT_WRITEDATA, &r);
		r.rc = curl_easy_perform(cu);
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_cleanup(cu);
		expect(&r, 200, "ok\n");
		resp_release(&r);
		serve_stop(s);
	}
}

/* --- the dashboard --------------------------------------------------- */

static struct serve *
dash_server(const char *listen, const char *token)
{
	struct serve_config c = { 0 };
	struct serve *s = NULL;
	struct err e;

	c.listen = listen;
	c.dashboard = 1;
	c.api_token = token;
	if (serve_start(&s, &c, &e) < 0)
		fail_msg("serve_start: %s", e.msg);
	return s;
}

static void
publish_sample(struct serve *s, int n)
{
	json_t *snap =
		json_pack("{s:{s:i}, s:{s:[]}, s:{s:[], s:[]}, s:{s:[]}}",
			  "environments", "n", n, "runs", "runs", "journal",
			  "entries", "errors", "drift", "drift");

	serve_publish(s, snap);
	json_decref(snap);
}

static void
dashboard_documents_on_loopback(void **state)
{
	struct serve *s = dash_server("127.0.0.1:0", NULL);
	struct resp r;

	(void)state;
	assert_int_equal(serve_needs_token(s), 0);
	request(&r, serve_port(s), "GET", "/", NULL, NULL, 0);
	expect(&r, 200, NULL);
	assert_string_equal(r.ctype, "text/html; charset=utf-8");
	assert_non_null(strstr(r.body.buf, "/assets/app.js"));
	resp_release(&r);
	request(&r, serve_port(s), "GET", "/api/v1/environments", NULL, NULL,
		0);
	expect(&r, 503, NULL);
	resp_release(&r);
	publish_sample(s, 7);
	request(&r, serve_port(s), "GET", "/api/v1/environments", NULL, NULL,
		0);
	expect(&r, 200, "{\n  \"n\": 7\n}");
	assert_string_equal(r.ctype, "application/json; charset=utf-8");
	resp_release(&r);
	request(&r, serve_port(s), "GET", "/api/v1/nothing", NULL, NULL, 0);
	expect(&r, 404, "{\"error\":\"not found\"}");
	resp_release(&r);
	request(&r, serve_port(s), "POST", "/api/v1/runs", NULL, "x", 0);
	expect(&r, 405, NULL);
	resp_release(&r);
	serve_stop(s);
}

static void
dashboard_token(void **state)
{
	static const char *const good[] = {
		"Authorization: Bearer 0123456789abcdef-token", NULL
	};
	static const char *const bad[] = {
		"Authorization: Bearer 0123456789abcdef-tokeN", NULL
	};
	struct serve *s = dash_server("127.0.0.1:0", "0123456789abcdef-token");
	struct resp r;

	(void)state;
	assert_int_equal(serve_needs_token(s), 1);
	publish_sample(s, 1);
	for (int i = 0; i < 2; i++) {
		const char *path = i ? "/api/v1/runs" : "/";

		request(&r, serve_port(s), "GET", path, NULL, NULL, 0);
		expect(&r, 401, NULL);
		resp_release(&r);
		request(&r, serve_port(s), "GET", path, bad, NULL, 0);
		expect(&r, 401, NULL);
		assert_null(strstr(r.body.buf, "0123456789abcdef"));
		resp_release(&r);
		request(&r, serve_port(s), "GET", path, good, NULL, 0);
		expect(&r, 200, NULL);
		resp_release(&r);
	}
	request(&r, serve_port(s), "GET", "/assets/app.css", NULL, NULL, 0);
	expect(&r, 200, NULL);
	resp_release(&r);
	request(&r, serve_port(s), "GET", "/healthz", NULL, NULL, 0);
	expect(&r, 200, "ok\n");
	resp_release(&r);
	serve_stop(s);
	/* Every address: not loopback; without a token, off. */
	s = dash_server("0.0.0.0:0", NULL);
	assert_int_equal(serve_needs_token(s), 1);
	request(&r, serve_port(s), "GET", "/", good, NULL, 0);
	expect(&r, 401, NULL);
	resp_release(&r);
	serve_stop(s);
}

struct stream {
	int port;
	struct resp r;
	pthread_mutex_t mu;
};

static size_t
on_stream(char *p, size_t size, size_t n, void *arg)
{
	struct stream *st = arg;

	pthread_mutex_lock(&st->mu);
	strbuf_add(&st->r.body, p, size * n);
	pthread_mutex_unlock(&st->mu);
	return size * n;
}

static void *
stream_main(void *arg)
{
	struct stream *st = arg;
	char url[128];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/events",
		 st->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, st);
	st->r.rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st->r.status);
	curl_easy_cleanup(c);
	return NULL;
}

/* Wait until the stream's body holds want (5 s at most). */
static int
stream_has(struct stream *st, const char *want)
{
	for (int i = 0; i < 500; i++) {
		int found;

		pthread_mutex_lock(&st->mu);
		found = strstr(st->r.body.buf, want) != NULL;
		pthread_mutex_unlock(&st->mu);
		if (found)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void
dashboard_events_stream_and_stop(void **state)
{
	struct serve *s = dash_server("127.0.0.1:0", NULL);
	struct stream st;
	pthread_t t;

	(void)state;
	memset(&st, 0, sizeof(st));
	strbuf_init(&st.r.body, 0);
	pthread_mutex_init(&st.mu, NULL);
	st.port = serve_port(s);
	publish_sample(s, 1);
	assert_int_equal(pthread_create(&t, NULL, stream_main, &st), 0);
	/* The newest snapshot first, then each new one as it comes. */
	if (!stream_has(&st, "id: 1\nevent: snapshot\ndata: {\"environments\""
			     ":{\"n\":1}"))
		fail_msg("no first event: '%s'", st.r.body.buf);
	publish_sample(s, 2);
	publish_sample(s, 3);
	if (!stream_has(&st, "id: 3\nevent: snapshot\ndata: ") ||
	    !strstr(st.r.body.buf, "id: 2\n"))
		fail_msg("events 2 and 3 missing: '%s'", st.r.body.buf);
	/* Stopping with a suspended stream ends it (no abort). */
	serve_stop(s);
	pthread_join(t, NULL);
	assert_int_equal(st.r.status, 200);
	assert_non_null(strstr(st.r.body.buf, "retry: 2000\n"));
	pthread_mutex_destroy(&st.mu);
	resp_release(&st.r);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(verify_accepts_github_header),
		cmocka_unit_test(verify_accepts_generic_bare_and_uppercase_hex),
		cmocka_unit_test(verify_rejects_wrong_secret_or_body),
		cmocka_unit_test(verify_rejects_truncated_or_extended),
		cmocka_unit_test(verify_rejects_bad_hex_and_prefixes),
		cmocka_unit_test(verify_rejects_empty_inputs),
		cmocka_unit_test(replay_remembers_the_last_1024_ids),
		cmocka_unit_test(decide_checks_signature_first),
		cmocka_unit_test(decide_needs_a_valid_delivery_and_event),
		cmocka_unit_test(metrics_render_has_every_family),
		cmocka_unit_test(metrics_render_fresh_registry),
		cmocka_unit_test(metrics_render_pass_phases),
		cmocka_unit_test(metrics_parse_with_prometheus_client),
	};
	const struct CMUnitTest server[] = {
		cmocka_unit_test(server_healthz),
		cmocka_unit_test(server_readyz_both_ways),
		cmocka_unit_test(server_metrics),
		cmocka_unit_test(server_unknown_path_and_wrong_method),
		cmocka_unit_test(server_webhook_valid_calls_hook_once),
		cmocka_unit_test(server_webhook_wrong_signature_401),
		cmocka_unit_test(server_webhook_replay_ignored),
		cmocka_unit_test(server_webhook_oversized_413),
		cmocka_unit_test(server_webhook_missing_delivery_400),
		cmocka_unit_test(server_webhook_ping),
		cmocka_unit_test(server_without_secret_has_no_hook),
		cmocka_unit_test(server_listen_errors_name_the_address),
		cmocka_unit_test(dashboard_documents_on_loopback),
		cmocka_unit_test(dashboard_token),
		cmocka_unit_test(dashboard_events_stream_and_stop),
	};
	int failed;

	failed = cmocka_run_group_tests_name("serve", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("serve server", server, server_up,
					      server_down);
	return failed != 0;
}
