/*
 * hooks.c - the git hooks of a config repository: settings in the
 * repository's config, installing the hook scripts, the hooks' input.
 *
 * The hooks need nothing but git's hook environment: install keeps the
 * settings in the repository's own config, and a hook opens the
 * repository git runs it for (source_open_repo from GIT_DIR).
 */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "repo.h"
#include "../util/strbuf.h"

/* The line that marks a hook as ours (install may rewrite it). */
#define MARKER "# pressctl-hook: written by 'pressctl hook install'"
/* A hook larger than this is not one of ours. */
#define MAX_HOOK_BYTES ((size_t)64 << 10)

const char *const hook_names[HOOK_COUNT] = { "pre-receive", "post-receive" };

/* --- settings ----------------------------------------------------------- */

void
hook_conf_release(struct hook_conf *c)
{
	free(c->gitdir);
	free(c->branch);
	free(c->ref);
	free(c->path);
	free(c->notify);
	memset(c, 0, sizeof(*c));
}

/* "main" -> "refs/heads/main"; a full ref name stays. New string. */
static char *
branch_ref(const char *branch)
{
	if (strncmp(branch, "refs/", 5) == 0)
		return xstrdup(branch);
	return xprintf("refs/heads/%s", branch);
}

int
hook_branch_ref(char **ref, const char *branch)
{
	char *r = branch_ref(branch);
	int valid = 0, inited;

	*ref = NULL;
	/* libgit2 keeps its error state per thread from init on. */
	inited = git_libgit2_init();
	if (inited < 0 || git_reference_name_is_valid(&valid, r) < 0)
		valid = 0;
	if (inited >= 0)
		git_libgit2_shutdown();
	if (!valid || strncmp(r, "refs/heads/", 11) != 0) {
		free(r);
		return -1;
	}
	*ref = r;
	return 0;
}

/* A string setting, or NULL when unset or empty (new string). */
static char *
conf_string(git_config *cfg, const char *name)
{
	git_buf b = { 0 };
	char *s = NULL;

	if (git_config_get_string_buf(&b, cfg, name) == 0 && b.ptr && b.ptr[0])
		s = xstrdup(b.ptr);
	git_buf_dispose(&b);
	git_error_clear();
	return s;
}

/* The hook settings of r, with their defaults. */
static int
conf_read(struct hook_conf *c, git_repository *r, struct err *e)
{
	git_config *cfg = NULL;
	int v = 0, rc;

	memset(c, 0, sizeof(*c));
	if (git_repository_config_snapshot(&cfg, r) < 0)
		return err_set(e,
			       "cannot read the config of repository '%s': "
			       "%s",
			       git_repository_path(r), source_git_msg());
	c->gitdir = source_trim_slashes(git_repository_path(r));
	c->branch = conf_string(cfg, "pressctl.branch");
	if (!c->branch)
		c->branch = xstrdup(HOOK_DEFAULT_BRANCH);
	c->ref = branch_ref(c->branch);
	c->path = conf_string(cfg, "pressctl.path");
	c->notify = conf_string(cfg, "pressctl.notify");
	if (c->notify && c->notify[0] != '/') {
		char *abs = xprintf("%s/%s", c->gitdir, c->notify);

		free(c->notify);
		c->notify = abs;
	}
	if (!c->notify)
		c->notify = xprintf("%s/" HOOK_SOCKET_NAME, c->gitdir);
	rc = git_config_get_bool(&v, cfg, "pressctl.apply");
	if (rc < 0 && rc != GIT_ENOTFOUND) {
		err_set(e,
			"bad pressctl.apply in repository '%s': %s (set it "
			"to true or false)",
			c->gitdir, source_git_msg());
		git_config_free(cfg);
		hook_conf_release(c);
		return -1;
	}
	git_error_clear();
	c->apply = rc == 0 && v;
	git_config_free(cfg);
	return 0;
}

int
hook_conf_read(struct hook_conf *c, struct err *e)
{
	git_repository *r = NULL;
	int inited, ret = -1;

	memset(c, 0, sizeof(*c));
	inited = git_libgit2_init();
	if (inited < 0) {
		err_set(e, "cannot initialize libgit2: %s", source_git_msg());
		goto out;
	}
	if (source_open_repo(&r, NULL, 0, e) < 0)
		goto out;
	ret = conf_read(c, r, e);
out:
	git_repository_free(r);
	if (inited >= 0)
		git_libgit2_shutdown();
	return ret;
}

/* --- install ------------------------------------------------------------ */

/* s quoted for sh: 'it'\''s'. */
static void
sh_quote(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(sb, "'\\''");
		else
			strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '\'');
}

/*
 * The hooks directory: core.hooksPath when set (a relative one is taken
 * from where git runs hooks: the work tree, or the git dir of a bare
 * repository), else <git dir>/hooks. New string.
 */
static char *
hooks_dir(git_repository *r, const char *gitdir)
{
	git_config *cfg = NULL;
	char *hp = NULL, *dir;

	if (git_repository_config_snapshot(&cfg, r) == 0)
		hp = conf_string(cfg, "core.hooksPath");
	git_config_free(cfg);
	git_error_clear();
	if (!hp)
		return xprintf("%s/hooks", gitdir);
	if (hp[0] == '/')
		return hp;
	if (git_repository_workdir(r)) {
		const char *wd = git_repository_workdir(r);
		size_t n = strlen(wd);

		while (n > 1 && wd[n - 1] == '/')
			n--;
		dir = xprintf("%.*s/%s", (int)n, wd, hp);
	} else {
		dir = xprintf("%s/%s", gitdir, hp);
	}
	free(hp);
	return dir;
}

/* Read up to MAX_HOOK_BYTES of an existing file; 0 ok, 1 missing. */
static int
read_small(const char *path, struct strbuf *sb, struct err *e)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -1;

	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return err_set(e, "cannot read hook '%s': %s", path,
			       strerror(errno));
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(e, "cannot read hook '%s': %s", path,
				strerror(errno));
			goto out;
		}
		if (sb->len + (size_t)n > MAX_HOOK_BYTES)
			break; /* too big to be ours: compared as different */
		strbuf_add(sb, buf, (size_t)n);
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* Write path atomically (a temporary file renamed over it), mode 0755. */
static int
write_file(const char *path, const char *data, size_t len, struct err *e)
{
	char *tmp = xprintf("%s.pressctl-tmp.%ld", path, (long)getpid());
	size_t off = 0;
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0) {
		err_set(e, "cannot write hook '%s': %s", path, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(e, "cannot write hook '%s': %s", path,
				strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	/* The umask may have taken bits away: git runs only executable
	 * hooks. */
	if (fchmod(fd, 0755) < 0 || fsync(fd) < 0) {
		err_set(e, "cannot write hook '%s': %s", path, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_set(e, "cannot write hook '%s': %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err_set(e, "cannot write hook '%s': %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

/*
 * Write <dir>/<name> running `<exe> hook <name>`. *what receives
 * "installed", "updated", "replaced" or "unchanged". A hook without our
 * marker is refused unless force, which keeps it as
 * <name>.before-pressctl.
 */
static int
write_hook(const char *dir, const char *name, const char *exe, int force,
	   const char **what, struct err *e)
{
	char *path = xprintf("%s/%s", dir, name), *backup = NULL;
	struct strbuf want, have;
	struct stat st;
	int rc, ret = -1;

	strbuf_init(&want, 0);
	strbuf_init(&have, 0);
	strbuf_addstr(&want,
		      "#!/bin/sh\n" MARKER "; settings: git config "
		      "pressctl.*\n# (pressctl hook install --help)\nexec ");
	sh_quote(&want, exe);
	strbuf_addf(&want, " hook %s\n", name);

	if ((rc = read_small(path, &have, e)) < 0)
		goto out;
	if (rc == 0 && have.len == want.len &&
	    memcmp(have.buf, want.buf, want.len) == 0 && stat(path, &st) == 0 &&
	    (st.st_mode & 0111) == 0111) {
		*what = "unchanged";
		ret = 0;
		goto out;
	}
	if (rc == 0 && !strstr(have.buf, "\n" MARKER)) {
		if (!force) {
			err_set(e,
				"hook '%s' exists and was not written by "
				"pressctl: merge it by hand, or run 'pressctl "
				"hook install --force' to replace it (it is "
				"kept as %s.before-pressctl)",
				path, name);
			goto out;
		}
		backup = xprintf("%s.before-pressctl", path);
		if (rename(path, backup) < 0) {
			err_set(e, "cannot keep hook '%s' as '%s': %s", path,
				backup, strerror(errno));
			goto out;
		}
	}
	if (write_file(path, want.buf, want.len, e) < 0)
		goto out;
	*what = rc == 1 ? "installed" : backup ? "replaced" : "updated";
	ret = 0;
out:
	strbuf_release(&want);
	strbuf_release(&have);
	free(backup);
	free(path);
	return ret;
}

/* Set name to value in the repository's own config, or delete it. */
static int
conf_set(git_config *local, const char *name, const char *value, struct err *e)
{
	int rc;

	if (value)
		rc = git_config_set_string(local, name, value);
	else if ((rc = git_config_delete_entry(local, name)) == GIT_ENOTFOUND)
		rc = 0;
	if (rc < 0)
		return err_set(e, "cannot set %s: %s", name, source_git_msg());
	return 0;
}

static int
store_settings(git_repository *r, const struct hook_settings *s, struct err *e)
{
	git_config *cfg = NULL, *local = NULL;
	int ret = -1;

	if (git_repository_config(&cfg, r) < 0 ||
	    git_config_open_level(&local, cfg, GIT_CONFIG_LEVEL_LOCAL) < 0) {
		err_set(e, "cannot open the config of repository '%s': %s",
			git_repository_path(r), source_git_msg());
		goto out;
	}
	if (conf_set(local, "pressctl.branch", s->branch, e) < 0 ||
	    conf_set(local, "pressctl.path", s->path, e) < 0 ||
	    conf_set(local, "pressctl.notify", s->notify, e) < 0)
		goto out;
	if (git_config_set_bool(local, "pressctl.apply", s->apply) < 0) {
		err_set(e, "cannot set pressctl.apply: %s", source_git_msg());
		goto out;
	}
	ret = 0;
out:
	git_config_free(local);
	git_config_free(cfg);
	return ret;
}

void
hook_installed_release(struct hook_installed *h)
{
	free(h->gitdir);
	free(h->dir);
	free(h->notify);
	memset(h, 0, sizeof(*h));
}

int
hook_install(struct hook_installed *out, const char *repo, const char *exe,
	     const struct hook_settings *s, int force, struct err *e)
{
	struct hook_installed h;
	git_repository *r = NULL;
	struct sockaddr_un sa;
	struct err oe;
	int inited, ret = -1;

	memset(out, 0, sizeof(*out));
	memset(&h, 0, sizeof(h));
	inited = git_libgit2_init();
	if (inited < 0) {
		err_set(e, "cannot initialize libgit2: %s", source_git_msg());
		goto out;
	}
	if (source_open_repo(&r, repo, SOURCE_REPO_EXACT, &oe) < 0) {
		err_set(e, "%s (give a bare repository or a work tree)",
			oe.msg);
		goto out;
	}
	h.gitdir = source_trim_slashes(git_repository_path(r));
	h.notify = s->notify ? xstrdup(s->notify) :
			       xprintf("%s/" HOOK_SOCKET_NAME, h.gitdir);
	if (strlen(h.notify) >= sizeof(sa.sun_path)) {
		err_set(e,
			"notify socket path '%s' is too long for a unix "
			"socket (%zu bytes at most): choose a shorter one with "
			"--notify",
			h.notify, sizeof(sa.sun_path) - 1);
		goto out;
	}
	h.dir = hooks_dir(r, h.gitdir);
	if (mkdir(h.dir, 0755) < 0 && errno != EEXIST) {
		err_set(e, "cannot create the hooks directory '%s': %s", h.dir,
			strerror(errno));
		goto out;
	}
	for (int i = 0; i < HOOK_COUNT; i++) {
		if (write_hook(h.dir, hook_names[i], exe, force, &h.what[i],
			       e) < 0)
			goto out;
	}
	if (store_settings(r, s, e) < 0)
		goto out;
	*out = h;
	memset(&h, 0, sizeof(h));
	ret = 0;
out:
	hook_installed_release(&h);
	git_repository_free(r);
	if (inited >= 0)
		git_libgit2_shutdown();
	return ret;
}

/* --- the hooks' input --------------------------------------------------- */

static int
is_hex_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return s[n] == '\0' && (n == 40 || n == 64);
}

int
hook_id_is_null(const char *id)
{
	return id[strspn(id, "0")] == '\0';
}

int
hook_update_parse(struct hook_update *u, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2;
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (!sp1 || !(sp2 = strchr(sp1 + 1, ' ')))
		return -1;
	*sp1 = *sp2 = '\0';
	if ((size_t)(sp1 - line) >= sizeof(u->old) ||
	    (size_t)(sp2 - sp1 - 1) >= sizeof(u->new) || !sp2[1])
		return -1;
	snprintf(u->old, sizeof(u->old), "%s", line);
	snprintf(u->new, sizeof(u->new), "%s", sp1 + 1);
	u->ref = sp2 + 1;
	return is_hex_id(u->old) && is_hex_id(u->new) ? 0 : -1;
}
