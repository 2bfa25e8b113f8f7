/*
 * pressctl hook install REPO [--branch BRANCH] [--path SUBDIR]
 *                            [--notify SOCKET] [--apply] [--force]
 * pressctl hook pre-receive      (run by git)
 * pressctl hook post-receive     (run by git)
 *
 * The git hooks of a config repository (DESIGN §1, use 1). install writes
 * two small shell hooks that exec this binary, and keeps the settings in
 * the repository's own config (pressctl.branch, .path, .notify, .apply),
 * so git's hook environment is all the hooks need.
 *
 * pre-receive validates the tree pushed to the configured branch from the
 * push's quarantine (source_load_git with the repository opened from the
 * environment) and refuses an invalid push, or the deletion of the
 * branch. post-receive tells the local watcher (pressctl watch) with one
 * datagram on its notify socket; with nobody listening it applies the
 * commit itself when pressctl.apply is set, or says that the next resync
 * will.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>

#include "cmd.h"
#include "../manifest/manifest.h"
#include "../util/strbuf.h"

static const char usage_text[] =
	"usage: pressctl hook install REPO [--branch BRANCH] [--path SUBDIR]\n"
	"                                  [--notify SOCKET] [--apply] [--force]\n"
	"       pressctl hook pre-receive\n"
	"       pressctl hook post-receive\n"
	"\n"
	"install writes the pre-receive and post-receive hooks of the git\n"
	"repository REPO (bare, or a work tree) and keeps the settings in its\n"
	"config (pressctl.*). The hooks run this binary: pre-receive refuses a\n"
	"push whose manifests on BRANCH (default main) are invalid, or that\n"
	"deletes BRANCH; post-receive wakes the watcher listening on SOCKET\n"
	"(default <git dir>/pressctl-watch.sock), or with --apply applies the\n"
	"commit itself when none listens. --force replaces hooks that pressctl\n"
	"did not write (the old one is kept as <hook>.before-pressctl).\n";

/* The line that marks a hook as ours (install may rewrite it). */
#define MARKER "# pressctl-hook: written by 'pressctl hook install'"
#define DEFAULT_BRANCH "main"
#define SOCKET_NAME "pressctl-watch.sock"
/* A hook larger than this is not one of ours. */
#define MAX_HOOK_BYTES ((size_t)64 << 10)

/* The settings of a repository's hooks. */
struct hook_conf {
	char *gitdir;		/* absolute, no trailing slash */
	char *branch;		/* as configured: "main" */
	char *ref;		/* "refs/heads/main" */
	char *path;		/* subdirectory, or NULL for the root */
	char *notify;		/* absolute socket path */
	int apply;
};

static void
hook_conf_release(struct hook_conf *c)
{
	free(c->gitdir);
	free(c->branch);
	free(c->ref);
	free(c->path);
	free(c->notify);
	memset(c, 0, sizeof(*c));
}

static const char *
git_msg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown error";
}

/* "main" -> "refs/heads/main"; a full ref name stays. New string. */
static char *
branch_ref(const char *branch)
{
	if (strncmp(branch, "refs/", 5) == 0)
		return xstrdup(branch);
	return xprintf("refs/heads/%s", branch);
}

/* The git dir of r: absolute, without the trailing slash. New string. */
static char *
git_dir(git_repository *r)
{
	const char *p = git_repository_path(r);
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	return xstrndup(p, n);
}

/* A string setting, or NULL when unset or empty (new string). */
static char *
conf_string(git_config *cfg, const char *name)
{
	git_buf b = { 0 };
	char *s = NULL;

	if (git_config_get_string_buf(&b, cfg, name) == 0 && b.ptr &&
	    b.ptr[0])
		s = xstrdup(b.ptr);
	git_buf_dispose(&b);
	git_error_clear();
	return s;
}

/* The hook settings of r, with their defaults. */
static int
hook_conf_read(struct hook_conf *c, git_repository *r, struct err *e)
{
	git_config *cfg = NULL;
	int v = 0, rc;

	memset(c, 0, sizeof(*c));
	if (git_repository_config_snapshot(&cfg, r) < 0)
		return err_set(e, "cannot read the config of repository '%s': "
			       "%s", git_repository_path(r), git_msg());
	c->gitdir = git_dir(r);
	c->branch = conf_string(cfg, "pressctl.branch");
	if (!c->branch)
		c->branch = xstrdup(DEFAULT_BRANCH);
	c->ref = branch_ref(c->branch);
	c->path = conf_string(cfg, "pressctl.path");
	c->notify = conf_string(cfg, "pressctl.notify");
	if (c->notify && c->notify[0] != '/') {
		char *abs = xprintf("%s/%s", c->gitdir, c->notify);

		free(c->notify);
		c->notify = abs;
	}
	if (!c->notify)
		c->notify = xprintf("%s/" SOCKET_NAME, c->gitdir);
	rc = git_config_get_bool(&v, cfg, "pressctl.apply");
	if (rc < 0 && rc != GIT_ENOTFOUND) {
		err_set(e, "bad pressctl.apply in repository '%s': %s (set it "
			"to true or false)", c->gitdir, git_msg());
		git_config_free(cfg);
		hook_conf_release(c);
		return -1;
	}
	git_error_clear();
	c->apply = rc == 0 && v;
	git_config_free(cfg);
	return 0;
}

/* The absolute path of the running binary (free() it), or NULL. */
static char *
self_exe(void)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0 || (size_t)n >= sizeof(buf) - 1)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

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

/* --- install ----------------------------------------------------------- */

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
			break;	/* too big to be ours: compared as different */
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
 * Write hooks/<name> running `<exe> hook <name>`. *what receives
 * "installed", "updated" or "unchanged". A hook without our marker is
 * refused unless force, which keeps it as <name>.before-pressctl.
 */
static int
install_hook(const char *dir, const char *name, const char *exe, int force,
	     const char **what, struct err *e)
{
	char *path = xprintf("%s/%s", dir, name), *backup = NULL;
	struct strbuf want, have;
	struct stat st;
	int rc, ret = -1;

	strbuf_init(&want, 0);
	strbuf_init(&have, 0);
	strbuf_addstr(&want, "#!/bin/sh\n" MARKER "; settings: git config "
		      "pressctl.*\n# (pressctl hook install --help)\nexec ");
	sh_quote(&want, exe);
	strbuf_addf(&want, " hook %s\n", name);

	if ((rc = read_small(path, &have, e)) < 0)
		goto out;
	if (rc == 0 && have.len == want.len &&
	    memcmp(have.buf, want.buf, want.len) == 0 &&
	    stat(path, &st) == 0 && (st.st_mode & 0111) == 0111) {
		*what = "unchanged";
		ret = 0;
		goto out;
	}
	if (rc == 0 && !strstr(have.buf, "\n" MARKER)) {
		if (!force) {
			err_set(e, "hook '%s' exists and was not written by "
				"pressctl: merge it by hand, or run 'pressctl "
				"hook install --force' to replace it (it is "
				"kept as %s.before-pressctl)", path, name);
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
conf_set(git_config *local, const char *name, const char *value,
	 struct err *e)
{
	int rc;

	if (value)
		rc = git_config_set_string(local, name, value);
	else if ((rc = git_config_delete_entry(local, name)) == GIT_ENOTFOUND)
		rc = 0;
	if (rc < 0)
		return err_set(e, "cannot set %s: %s", name, git_msg());
	return 0;
}

static int
store_settings(git_repository *r, const char *branch, const char *path,
	       const char *notify, int apply, struct err *e)
{
	git_config *cfg = NULL, *local = NULL;
	int ret = -1;

	if (git_repository_config(&cfg, r) < 0 ||
	    git_config_open_level(&local, cfg, GIT_CONFIG_LEVEL_LOCAL) < 0) {
		err_set(e, "cannot open the config of repository '%s': %s",
			git_repository_path(r), git_msg());
		goto out;
	}
	if (conf_set(local, "pressctl.branch", branch, e) < 0 ||
	    conf_set(local, "pressctl.path", path, e) < 0 ||
	    conf_set(local, "pressctl.notify", notify, e) < 0)
		goto out;
	if (git_config_set_bool(local, "pressctl.apply", apply) < 0) {
		err_set(e, "cannot set pressctl.apply: %s", git_msg());
		goto out;
	}
	ret = 0;
out:
	git_config_free(local);
	git_config_free(cfg);
	return ret;
}

static int
hook_install(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "branch", required_argument, NULL, 'b' },
		{ "path", required_argument, NULL, 'p' },
		{ "notify", required_argument, NULL, 'n' },
		{ "apply", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo, *branch = DEFAULT_BRANCH, *path = NULL;
	const char *notify = NULL, *what[2] = { "", "" };
	static const char *const names[2] = { "pre-receive", "post-receive" };
	char *exe = NULL, *gitdir = NULL, *dir = NULL, *ref = NULL;
	char *notify_abs = NULL, *sock = NULL, cwd[4096];
	git_repository *r = NULL;
	struct sockaddr_un sa;
	int c, apply = 0, force = 0, valid = 0, rc = EXIT_ERROR;
	struct err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': branch = optarg; break;
		case 'p': path = optarg; break;
		case 'n': notify = optarg; break;
		case 'a': apply = 1; break;
		case 'f': force = 1; break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		default: fputs(usage_text, stderr); return EXIT_ERROR;
		}
	}
	if (optind != argc - 1) {
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	repo = argv[optind];
	ref = branch_ref(branch);
	if (git_reference_name_is_valid(&valid, ref) < 0 || !valid ||
	    strncmp(ref, "refs/heads/", 11) != 0) {
		rc = cmd_fail("--branch '%s' is not a valid branch name", branch);
		goto out;
	}
	if (path && !path[0])
		path = NULL;
	if (notify && notify[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd))) {
			rc = cmd_fail("cannot resolve --notify '%s': %s", notify,
				      strerror(errno));
			goto out;
		}
		notify = notify_abs = xprintf("%s/%s", cwd, notify);
	}
	if (!(exe = self_exe())) {
		rc = cmd_fail("cannot find the path of the pressctl binary "
			      "(/proc/self/exe): %s", strerror(errno));
		goto out;
	}
	if (strstr(exe, " (deleted)")) {
		rc = cmd_fail("the pressctl binary '%s' was deleted while "
			      "running; run the installed one", exe);
		goto out;
	}
	if (git_repository_open_ext(&r, repo, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
		rc = cmd_fail("cannot open repository '%s': %s (give a bare "
			      "repository or a work tree)", repo, git_msg());
		goto out;
	}
	gitdir = git_dir(r);
	sock = notify ? xstrdup(notify) : xprintf("%s/" SOCKET_NAME, gitdir);
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		rc = cmd_fail("notify socket path '%s' is too long for a unix "
			      "socket (%zu bytes at most): choose a shorter "
			      "one with --notify", sock, sizeof(sa.sun_path) - 1);
		goto out;
	}
	dir = hooks_dir(r, gitdir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = cmd_fail("cannot create the hooks directory '%s': %s", dir,
			      strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		if (install_hook(dir, names[i], exe, force, &what[i], &e) < 0) {
			rc = cmd_fail("%s", e.msg);
			goto out;
		}
	}
	if (store_settings(r, branch, path, notify, apply, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	for (int i = 0; i < 2; i++)
		printf("%s: %s/%s\n", what[i], dir, names[i]);
	printf("%s: on push to %s validate %s; then notify %s%s\n", gitdir,
	       ref, path ? path : "the whole tree", sock, apply ? ", or apply "
	       "when no watcher listens" : "");
	rc = EXIT_OK;
out:
	git_repository_free(r);
	free(notify_abs);
	free(sock);
	free(exe);
	free(gitdir);
	free(dir);
	free(ref);
	return rc;
}

/* --- the hooks --------------------------------------------------------- */

/* One line of a hook's input: "<old> <new> <ref>". */
struct ref_update {
	char old[72], new[72];
	char *ref;		/* points into the line */
};

static int
is_hex_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return s[n] == '\0' && (n == 40 || n == 64);
}

static int
is_zero_id(const char *s)
{
	return s[strspn(s, "0")] == '\0';
}

/* Split line (modified in place); -1 when it is not such a line. */
static int
parse_update(char *line, struct ref_update *u)
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

/* The repository git runs the hook for, and its settings. */
static int
open_hook_repo(struct hook_conf *c, const char *hook)
{
	const char *gd = getenv("GIT_DIR");
	git_repository *r = NULL;
	struct err e;
	int rc;

	if (!gd || !*gd)
		return cmd_fail("GIT_DIR is not set: 'pressctl hook %s' is run "
				"by git as a hook of a repository (set it up "
				"with 'pressctl hook install REPO')", hook);
	if (git_repository_open_ext(&r, NULL, GIT_REPOSITORY_OPEN_FROM_ENV,
				    NULL) < 0)
		return cmd_fail("cannot open repository '%s' (GIT_DIR): %s", gd,
				git_msg());
	rc = hook_conf_read(c, r, &e);
	git_repository_free(r);
	if (rc < 0)
		return cmd_fail("%s", e.msg);
	return EXIT_OK;
}

/*
 * Validate the tree at u->new. Prints the diagnostics (stderr, which git
 * shows the pusher as "remote: ...") and returns 0 to accept, -1 to
 * refuse.
 */
static int
check_update(const struct hook_conf *c, const struct ref_update *u)
{
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;
	int ret = -1;

	source_init(&src);
	diags_init(&d);
	if (source_load_git(&src, NULL, u->new, c->path, &e) < 0) {
		fprintf(stderr, "pressctl: push rejected: cannot read the "
			"manifests of %s at %.12s: %s\n", u->ref, u->new, e.msg);
		goto out;
	}
	if (manifest_read(&m, NULL, &src, &d) < 0) {
		diags_sort(&d);
		cmd_print_diags(&d, FORMAT_TEXT);
		fprintf(stderr, "pressctl: push rejected: %zu error%s in %s\n",
			d.errors, d.errors == 1 ? "" : "s", u->ref);
		goto out;
	}
	diags_sort(&d);
	cmd_print_diags(&d, FORMAT_TEXT);	/* warnings */
	fprintf(stderr, "pressctl: %s at %.12s: valid (%zu documents)\n",
		u->ref, u->new, m->docs.n);
	ret = 0;
out:
	model_free(m);
	diags_release(&d);
	source_release(&src);
	return ret;
}

static int
hook_pre_receive(void)
{
	struct hook_conf c;
	struct ref_update u;
	char *line = NULL;
	size_t cap = 0;
	int rc, rejected = 0;

	if ((rc = open_hook_repo(&c, "pre-receive")) != EXIT_OK)
		return rc;
	/* Read every line: git expects the hook to consume its input. */
	while (getline(&line, &cap, stdin) > 0) {
		if (parse_update(line, &u) < 0) {
			fprintf(stderr, "pressctl: push rejected: cannot parse "
				"the hook's input line '%.200s'\n", line);
			rejected = 1;
			continue;
		}
		if (strcmp(u.ref, c.ref) != 0)
			continue;
		if (is_zero_id(u.new)) {
			fprintf(stderr, "pressctl: push rejected: deleting %s is "
				"refused: it holds the platform's manifests, and "
				"an empty source never means \"delete "
				"everything\" (remove environments in a commit "
				"instead)\n", u.ref);
			rejected = 1;
			continue;
		}
		if (check_update(&c, &u) < 0)
			rejected = 1;
	}
	free(line);
	hook_conf_release(&c);
	return rejected ? EXIT_ERROR : EXIT_OK;
}

/*
 * One datagram with the commit id to the watcher's socket. 1 sent, 0
 * nobody listens (no socket file, or no process bound to it), -1 another
 * failure (e).
 */
static int
notify_watcher(const char *sock, const char *id, struct err *e)
{
	struct sockaddr_un sa;
	int fd, ret = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sa.sun_path))
		return err_set(e, "notify socket path '%s' is too long", sock);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0)
		return err_set(e, "cannot create a socket: %s", strerror(errno));
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (sendto(fd, id, strlen(id), MSG_DONTWAIT, (struct sockaddr *)&sa,
		   sizeof(sa)) >= 0)
		ret = 1;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		ret = 1;	/* its queue is full: a wake-up is pending */
	else if (errno == ENOENT || errno == ECONNREFUSED)
		ret = 0;
	else
		err_set(e, "cannot notify the watcher at '%s': %s", sock,
			strerror(errno));
	close(fd);
	return ret;
}

/* `pressctl apply --git GITDIR --ref ID [--path P]`, output to stderr. */
static int
run_apply(const struct hook_conf *c, const char *id)
{
	const char *argv[10];
	char *exe;
	int n = 0, status;
	pid_t pid;

	argv[n++] = "pressctl";
	argv[n++] = "apply";
	argv[n++] = "--git";
	argv[n++] = c->gitdir;
	argv[n++] = "--ref";
	argv[n++] = id;
	if (c->path) {
		argv[n++] = "--path";
		argv[n++] = c->path;
	}
	argv[n] = NULL;
	exe = self_exe();
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		free(exe);
		return cmd_fail("cannot run pressctl apply: %s", strerror(errno));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0 && null != STDIN_FILENO) {
			dup2(null, STDIN_FILENO);
			close(null);
		}
		/* The hook's output reaches the pusher: all of it on
		 * stderr, which git relays as "remote: ...". */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		/* This binary, by its path; /proc/self/exe when that is
		 * unknown (it names the running file even if replaced). */
		execv(exe ? exe : "/proc/self/exe", (char *const *)argv);
		fprintf(stderr, "pressctl: error: cannot run pressctl apply: "
			"%s\n", strerror(errno));
		_exit(EXIT_ERROR);
	}
	free(exe);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return cmd_fail("cannot wait for pressctl apply: %s",
					strerror(errno));
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return cmd_fail("pressctl apply was killed by signal %d",
			WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int
hook_post_receive(void)
{
	struct hook_conf c;
	struct ref_update u;
	char *line = NULL, id[72] = "";
	size_t cap = 0;
	struct err e;
	int rc, sent;

	if ((rc = open_hook_repo(&c, "post-receive")) != EXIT_OK)
		return rc;
	while (getline(&line, &cap, stdin) > 0) {
		if (parse_update(line, &u) < 0 || strcmp(u.ref, c.ref) != 0)
			continue;
		if (is_zero_id(u.new))
			id[0] = '\0';	/* deleted: nothing to apply */
		else
			snprintf(id, sizeof(id), "%s", u.new);
	}
	free(line);
	if (!id[0])
		goto out;	/* the push did not move the branch */
	sent = notify_watcher(c.notify, id, &e);
	if (sent == 1) {
		fprintf(stderr, "pressctl: notified the watcher at %s: %s is "
			"now %.12s\n", c.notify, c.ref, id);
		goto out;
	}
	if (sent < 0)
		fprintf(stderr, "pressctl: warning: %s\n", e.msg);
	if (c.apply) {
		fprintf(stderr, "pressctl: no watcher listening on %s; applying "
			"%s at %.12s now (pressctl.apply)\n", c.notify, c.ref,
			id);
		rc = run_apply(&c, id);
		goto out;
	}
	fprintf(stderr, "pressctl: no watcher listening on %s; the change will "
		"be applied at the next resync\n", c.notify);
out:
	hook_conf_release(&c);
	return rc;
}

int
cmd_hook(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;
	int rc;

	if (!verb) {
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(verb, "install") && strcmp(verb, "pre-receive") &&
	    strcmp(verb, "post-receive")) {
		fprintf(stderr, "pressctl: error: unknown hook command '%s'\n",
			verb);
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	if (strcmp(verb, "install") && argc > 2) {
		if (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	/* libgit2 counts init/shutdown pairs (source_load_git has its own). */
	if (git_libgit2_init() < 0)
		return cmd_fail("cannot initialize libgit2: %s", git_msg());
	if (!strcmp(verb, "install"))
		rc = hook_install(argc - 1, argv + 1);
	else if (!strcmp(verb, "pre-receive"))
		rc = hook_pre_receive();
	else
		rc = hook_post_receive();
	git_libgit2_shutdown();
	return rc;
}
