/*
 * remote.c - remote git sources: one bare mirror per URL under a cache
 * directory, kept up to date with libgit2, read like any local bare
 * repository by source_load_git.
 *
 * Credentials in a URL (https://user:token@host/x.git) reach libgit2 in
 * memory only: fetches use an in-memory remote, the origin recorded in
 * the mirror's config (for people) has none, the mirror's folder name
 * is derived from the URL without them (a rotated token keeps its
 * mirror), and every message names the URL without them, the library's
 * own message scrubbed too.
 */
#include "watch.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"
#include "../util/hash.h"
#include "../util/strbuf.h"
#include "../util/url.h"

#define KEY_HEX 16
#define MAX_AUTH_ATTEMPTS 2

static const char *const mirror_refspecs[] = {
	"+refs/heads/*:refs/heads/*",
	"+refs/tags/*:refs/tags/*",
};

/* --- telling URLs from paths ---------------------------------------------- */

/* Length of "scheme" when s starts with "scheme://", else 0. */
static size_t
scheme_len(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' ||
	       s[n] == '.')
		n++;
	return strncmp(s + n, "://", 3) == 0 ? n : 0;
}

int
source_is_remote(const char *repo)
{
	const char *colon, *slash;

	if (repo == NULL || *repo == '\0')
		return 0;
	if (scheme_len(repo) > 0)
		return 1;
	/* git's rule (connect.c): scp-like when a ':' comes before any
	 * '/'; "[::1]:repo" keeps its colons inside the brackets. */
	if (repo[0] == '[') {
		const char *end = strchr(repo, ']');

		if (end == NULL)
			return 0;
		colon = strchr(end, ':');
	} else {
		colon = strchr(repo, ':');
	}
	if (colon == NULL || colon == repo)
		return 0;
	slash = strchr(repo, '/');
	return slash == NULL || slash > colon;
}

/* --- credentials out of messages ---------------------------------------- */

static void
add_secret(struct source_url *v, const char *s, size_t n)
{
	if (n == 0 || v->nsecrets + 2 > SOURCE_URL_MAX_SECRETS)
		return;
	v->secrets[v->nsecrets++] = xstrndup(s, n);
	v->secrets[v->nsecrets] = url_unescape(s, n, 0);
	if (strcmp(v->secrets[v->nsecrets], v->secrets[v->nsecrets - 1]) == 0)
		free(v->secrets[v->nsecrets]);
	else
		v->nsecrets++;
}

/*
 * Split url into what may be shown and what must not be. A password is
 * always a secret; so is the user name of an http(s) URL (often a token:
 * https://TOKEN@host/x.git), while an ssh login name (ssh://git@host/)
 * is kept. scp-like "user@host:path" has no password.
 */
void
source_url_init(struct source_url *v, const char *url)
{
	size_t slen = scheme_len(url), alen;
	const char *auth, *at = NULL, *colon;
	int ssh;

	memset(v, 0, sizeof(*v));
	if (slen == 0) {
		v->shown = xstrdup(url);
		return;
	}
	auth = url + slen + 3;
	alen = strcspn(auth, "/?#");
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			at = auth + i; /* the last one: a password may hold @ */
	if (at == NULL) {
		v->shown = xstrdup(url);
		return;
	}
	ssh = (slen == 3 && strncmp(url, "ssh", 3) == 0) ||
	      (slen == 7 && (strncmp(url, "git+ssh", 7) == 0 ||
			     strncmp(url, "ssh+git", 7) == 0));
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon != NULL)
		add_secret(v, colon + 1, (size_t)(at - colon - 1));
	if (ssh) {
		const char *user_end = colon ? colon : at;

		v->shown = xprintf("%.*s%s", (int)(user_end - url), url, at);
	} else {
		add_secret(v, auth, (size_t)((colon ? colon : at) - auth));
		v->shown = xprintf("%.*s%s", (int)(auth - url), url, at + 1);
	}
}

void
source_url_release(struct source_url *v)
{
	free(v->shown);
	for (size_t i = 0; i < v->nsecrets; i++)
		free(v->secrets[i]);
	memset(v, 0, sizeof(*v));
}

/*
 * msg with every secret replaced by "***" (a new string). A short
 * secret is replaced only where it stands alone (not inside a word), so
 * a user "u" does not turn "refused" into "ref***sed"; in a URL it is
 * delimited by ':', '@' or '/', and replaced.
 */
char *
source_url_scrub(const struct source_url *v, const char *msg)
{
	struct strbuf sb;
	const char *p = msg;

	strbuf_init(&sb, 0);
	while (*p) {
		size_t best = 0;

		for (size_t i = 0; i < v->nsecrets; i++) {
			size_t n = strlen(v->secrets[i]);
			int alone;

			if (n <= best || strncmp(p, v->secrets[i], n) != 0)
				continue;
			alone = (p == msg || !isalnum((unsigned char)p[-1])) &&
				!isalnum((unsigned char)p[n]);
			if (n >= 8 || alone)
				best = n;
		}
		if (best > 0) {
			strbuf_addstr(&sb, "***");
			p += best;
		} else {
			strbuf_addch(&sb, *p++);
		}
	}
	return strbuf_detach(&sb, NULL);
}

/* --- the cache directory ----------------------------------------------- */

/* mkdir -p with mode 0700 for what is created. */
static int
make_dirs(const char *dir, struct err *e)
{
	char *p = xstrdup(dir);
	int ret = -1;

	for (char *s = p + 1;; s++) {
		int end = *s == '\0';

		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			err_set(e, "cannot create cache directory '%s': %s", p,
				strerror(errno));
			goto out;
		}
		if (end)
			break;
		*s = '/';
	}
	ret = 0;
out:
	free(p);
	return ret;
}

/* Remove the entries of the directory open at fd (taken over), then
 * recursively; best effort. depth bounds the recursion. */
static void
remove_contents(int fd, int depth)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);

	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		int sub;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), name, 0) == 0 || depth >= 32)
			continue;
		sub = openat(dirfd(d), name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		remove_contents(sub, depth + 1);
		unlinkat(dirfd(d), name, AT_REMOVEDIR);
	}
	closedir(d);
}

/* rm -rf, best effort: a leftover temporary folder is only clutter. */
static void
remove_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		remove_contents(fd, 0);
	rmdir(path);
}

/* --- fetching -------------------------------------------------------------- */

/*
 * Credentials beyond those in the URL (which libgit2 tries first for
 * http): an ssh key from the agent. Gives up after a few attempts, as
 * libgit2 asks again after each refusal.
 */
int
source_git_credentials(git_credential **out, const char *url, const char *user,
		       unsigned int allowed, void *payload)
{
	struct source_cred *ctx = payload;

	(void)url;
	if (++ctx->attempts > MAX_AUTH_ATTEMPTS) {
		ctx->auth_failed = 1;
		return GIT_EAUTH;
	}
	if (user == NULL || *user == '\0')
		user = "git";
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user);
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	ctx->auth_failed = 1;
	return GIT_PASSTHROUGH;
}

/* Worth retrying: the network, a server error, a concurrent fetch. */
int
source_git_transient(int rc, int errnum)
{
	const git_error *ge = git_error_last();
	const char *msg = ge && ge->message ? ge->message : "";

	if (rc == GIT_EAUTH || rc == GIT_ECERTIFICATE)
		return 0;
	if (rc == GIT_ELOCKED)
		return 1;
	if (ge == NULL || strstr(msg, "unsupported URL protocol") != NULL)
		return 0;
	switch (ge->klass) {
	case GIT_ERROR_NET:
	case GIT_ERROR_SSH: return 1;
	case GIT_ERROR_HTTP:
		return strstr(msg, "code: 5") != NULL ||
		       strstr(msg, "code: 429") != NULL;
	case GIT_ERROR_OS:
		return errnum == ECONNREFUSED || errnum == ECONNRESET ||
		       errnum == ETIMEDOUT || errnum == EHOSTUNREACH ||
		       errnum == ENETUNREACH || errnum == EPIPE ||
		       strncmp(msg, "failed to connect", 17) == 0;
	default: return 0;
	}
}

static int
fetch_error(const struct source_url *v, int rc, int errnum,
	    const struct source_cred *ctx, struct err *e)
{
	char *msg;
	int transient = !ctx->auth_failed && source_git_transient(rc, errnum);

	if (ctx->auth_failed)
		msg = xstrdup("authentication failed");
	else
		msg = source_url_scrub(v, source_git_msg());
	if (transient)
		err_transient(e, "cannot fetch '%s': %s", v->shown, msg);
	else
		err_set(e, "cannot fetch '%s': %s%s", v->shown, msg,
			ctx->auth_failed ?
				" (check the credentials in the "
				"URL, or the keys of the ssh agent)" :
				"");
	free(msg);
	return -1;
}

/*
 * Record the origin (URL without credentials) in the mirror's config,
 * for people: `git -C MIRROR fetch` does what source_mirror does. Our
 * own fetches do not read it (see fetch()). Only single-valued keys:
 * libgit2 1.5 leaks in the regex matching of multivar writes.
 */
static int
add_origin(git_repository *r, const struct source_url *v, const char *mirror,
	   struct err *e)
{
	git_config *cfg = NULL;
	int ret = -1;

	if (git_repository_config(&cfg, r) < 0 ||
	    git_config_set_string(cfg, "remote.origin.url", v->shown) < 0 ||
	    git_config_set_string(cfg, "remote.origin.fetch",
				  mirror_refspecs[0]) < 0 ||
	    git_config_set_string(cfg, "remote.origin.tagopt", "--tags") < 0 ||
	    git_config_set_bool(cfg, "remote.origin.prune", 1) < 0) {
		err_set(e, "cannot configure mirror '%s': %s", mirror,
			source_git_msg());
		goto out;
	}
	ret = 0;
out:
	git_config_free(cfg);
	return ret;
}

/* Point the mirror's HEAD at the remote's default branch, as a clone
 * does, when it moved (a rewrite would wake git watchers for nothing). */
static void
follow_remote_head(git_repository *r, git_remote *remote)
{
	git_buf branch = GIT_BUF_INIT;
	git_reference *head = NULL, *target = NULL, *created = NULL;

	if (git_remote_default_branch(&branch, remote) < 0 ||
	    git_reference_lookup(&target, r, branch.ptr) < 0)
		goto out;
	if (git_reference_lookup(&head, r, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    strcmp(git_reference_symbolic_target(head), branch.ptr) == 0)
		goto out;
	git_reference_symbolic_create(&created, r, "HEAD", branch.ptr, 1,
				      "pressctl: follow the remote HEAD");
out:
	git_error_clear(); /* best effort: HEAD stays as it was */
	git_reference_free(created);
	git_reference_free(target);
	git_reference_free(head);
	git_buf_dispose(&branch);
}

/*
 * Fetch url into the bare repository at dir: every branch and tag,
 * forced, pruned. The remote is an in-memory one with our refspecs: the
 * URL with its credentials is never written, and url.<base>.insteadOf
 * is not applied (libgit2 1.5 leaks memory at every config regex match
 * that fails, which watch mode would repeat at every fetch).
 */
static int
fetch(const char *dir, const char *url, const struct source_url *v,
      const char *mirror, struct err *e)
{
	git_remote_create_options copts;
	git_fetch_options opts;
	git_strarray specs = { (char **)mirror_refspecs, 2 };
	git_repository *r = NULL;
	git_remote *remote = NULL;
	struct source_cred ctx = { 0, 0 };
	int rc, ret = -1;

	git_remote_create_options_init(&copts,
				       GIT_REMOTE_CREATE_OPTIONS_VERSION);
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	if (git_repository_open_bare(&r, dir) < 0) {
		err_set(e,
			"cannot open mirror '%s': %s (remove it to clone "
			"again)",
			mirror, source_git_msg());
		goto out;
	}
	copts.repository = r;
	copts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		      GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &copts) < 0) {
		char *msg = source_url_scrub(v, source_git_msg());

		err_set(e, "cannot fetch '%s': %s", v->shown, msg);
		free(msg);
		goto out;
	}

	opts.prune = GIT_FETCH_PRUNE;
	opts.update_fetchhead = 0;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* refspec */
	opts.callbacks.credentials = source_git_credentials;
	opts.callbacks.payload = &ctx;
	opts.proxy_opts.type = GIT_PROXY_AUTO; /* http.proxy, https_proxy */
	errno = 0;
	rc = git_remote_fetch(remote, &specs, &opts, "pressctl: fetch");
	if (rc < 0) {
		fetch_error(v, rc, errno, &ctx, e);
		goto out;
	}
	follow_remote_head(r, remote);
	ret = 0;
out:
	git_remote_free(remote);
	git_repository_free(r);
	return ret;
}

/* First call: a new bare repository in a temporary folder, fetched,
 * then renamed into place. */
static int
clone(const char *cache, const char *key, const char *url,
      const struct source_url *v, const char *mirror, struct err *e)
{
	git_repository_init_options init;
	git_repository *r = NULL;
	char *tmp = xprintf("%s/.%s.git.XXXXXX", cache, key);
	int made = 0, ret = -1;

	if (mkdtemp(tmp) == NULL) {
		err_set(e, "cannot create a folder in cache directory '%s': %s",
			cache, strerror(errno));
		goto out;
	}
	made = 1;
	git_repository_init_options_init(&init,
					 GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT;
	if (git_repository_init_ext(&r, tmp, &init) < 0) {
		err_set(e, "cannot create mirror '%s': %s", mirror,
			source_git_msg());
		goto out;
	}
	if (add_origin(r, v, mirror, e) < 0)
		goto out;
	git_repository_free(r);
	r = NULL;
	if (fetch(tmp, url, v, mirror, e) < 0)
		goto out;
	if (rename(tmp, mirror) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			err_set(e, "cannot create mirror '%s': %s", mirror,
				strerror(errno));
			goto out;
		}
		/* A concurrent first call won the race: use its mirror. */
	} else {
		made = 0;
	}
	ret = 0;
out:
	git_repository_free(r);
	if (made)
		remove_tree(tmp);
	free(tmp);
	return ret;
}

int
source_mirror(char **path, const char *url, const char *cache_dir,
	      struct err *e)
{
	struct source_url v;
	struct stat st;
	char hex[SHA256_HEX_LEN + 1], key[KEY_HEX + 1];
	char *cache = NULL, *mirror = NULL;
	size_t n;
	int inited = -1, ret = -1;

	*path = NULL;
	source_url_init(&v, url);
	if (*url == '\0') {
		err_set(e, "cannot fetch '': empty URL");
		goto out;
	}
	/* libgit2 takes a missing local path for an unknown protocol. */
	if (!source_is_remote(url) && stat(url, &st) < 0) {
		err_set(e, "cannot fetch '%s': %s", url, strerror(errno));
		goto out;
	}
	hash_sha256_hex(hex, v.shown, strlen(v.shown));
	memcpy(key, hex, KEY_HEX);
	key[KEY_HEX] = '\0';

	n = strlen(cache_dir);
	if (n == 0) {
		err_set(e,
			"cannot fetch '%s': the cache directory is an empty "
			"path",
			v.shown);
		goto out;
	}
	while (n > 1 && cache_dir[n - 1] == '/')
		n--;
	cache = xstrndup(cache_dir, n);
	mirror = xprintf("%s/%s.git", strcmp(cache, "/") ? cache : "", key);
	if (make_dirs(cache, e) < 0)
		goto out;

	inited = git_libgit2_init();
	if (inited < 0) {
		err_set(e, "cannot initialize libgit2: %s", source_git_msg());
		goto out;
	}
	if (lstat(mirror, &st) == 0) {
		if (fetch(mirror, url, &v, mirror, e) < 0)
			goto out;
	} else if (errno == ENOENT) {
		if (clone(cache, key, url, &v, mirror, e) < 0)
			goto out;
	} else {
		err_set(e, "cannot read mirror '%s': %s", mirror,
			strerror(errno));
		goto out;
	}
	*path = mirror;
	mirror = NULL;
	ret = 0;
out:
	if (inited >= 0)
		git_libgit2_shutdown();
	free(mirror);
	free(cache);
	source_url_release(&v);
	return ret;
}
