/*
 * http.c - the easy-handle setup and the failure classes that the
 * driver's HTTP clients share (http.h).
 */
#include "http.h"

#include "../util/strbuf.h"

void
http_setup(CURL *h, const struct http_opts *o)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, o->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if (o->user_agent)
		curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
	if (o->no_proxy)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
}

CURL *
http_handle(const struct http_opts *o)
{
	CURL *h = curl_easy_init();

	if (h)
		http_setup(h, o);
	return h;
}

size_t
http_collect(char *data, size_t size, size_t n, void *sb)
{
	if (strbuf_add(sb, data, size * n) < 0)
		return 0; /* curl fails with CURLE_WRITE_ERROR */
	return size * n;
}

int
http_transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE: return 1;
	default: return 0;
	}
}

const char *
http_message(const char *errbuf, CURLcode rc)
{
	return errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
}
