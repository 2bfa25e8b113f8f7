/*
 * pressctl hook install REPO [--branch BRANCH] [--path SUBDIR]
 *                            [--notify SOCKET] [--apply] [--force]
 * pressctl hook pre-receive      (run by git)
 * pressctl hook post-receive     (run by git)
 *
 * The git hooks of a config repository (docs/design.md §1, use 1). install writes
 * two small shell hooks that exec this binary, and keeps the settings in
 * the repository's own config (pressctl.branch, .path, .notify, .apply),
 * so git's hook environment is all the hooks need. The git side of all
 * this (settings, hook scripts, the hooks' input) is source/hooks.h.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "../manifest/manifest.h"
#include "../source/hooks.h"

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

/* --- install ----------------------------------------------------------- */

static int
install(int argc, char **argv)
{
	struct hook_settings s = { .branch = HOOK_DEFAULT_BRANCH };
	struct hook_installed h = { 0 };
	const char *repo;
	char *exe = NULL, *ref = NULL, *notify_abs = NULL, cwd[4096];
	int first, force = 0, rc = EXIT_ERROR;
	struct err e;
	const struct cmd_option opts[] = {
		{ OPT_STRING, "branch", &s.branch, 0, 0, 0 },
		{ OPT_STRING, "path", &s.path, 0, 0, 0 },
		{ OPT_STRING, "notify", &s.notify, 0, 0, 0 },
		{ OPT_FLAG, "apply", &s.apply, 0, 0, 0 },
		{ OPT_FLAG, "force", &force, 0, 0, 0 },
		{ OPT_END, NULL, NULL, 0, 0, 0 },
	};

	if ((first = cmd_parse(argc, argv, opts, usage_text, &rc)) < 0)
		return rc;
	rc = EXIT_ERROR;
	if (first != argc - 1) {
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	repo = argv[first];
	if (hook_branch_ref(&ref, s.branch) < 0) {
		rc = cmd_fail("--branch '%s' is not a valid branch name",
			      s.branch);
		goto out;
	}
	if (s.path && !s.path[0])
		s.path = NULL;
	if (s.notify && s.notify[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd))) {
			rc = cmd_fail("cannot resolve --notify '%s': %s",
				      s.notify, strerror(errno));
			goto out;
		}
		s.notify = notify_abs = xprintf("%s/%s", cwd, s.notify);
	}
	if (!(exe = self_exe())) {
		rc = cmd_fail("cannot find the path of the pressctl binary "
			      "(/proc/self/exe): %s",
			      strerror(errno));
		goto out;
	}
	if (strstr(exe, " (deleted)")) {
		rc = cmd_fail("the pressctl binary '%s' was deleted while "
			      "running; run the installed one",
			      exe);
		goto out;
	}
	if (hook_install(&h, repo, exe, &s, force, &e) < 0) {
		rc = cmd_fail("%s", e.msg);
		goto out;
	}
	for (int i = 0; i < HOOK_COUNT; i++)
		printf("%s: %s/%s\n", h.what[i], h.dir, hook_names[i]);
	printf("%s: on push to %s validate %s; then notify %s%s\n", h.gitdir,
	       ref, s.path ? s.path : "the whole tree", h.notify,
	       s.apply ? ", or apply when no watcher listens" : "");
	rc = EXIT_OK;
out:
	hook_installed_release(&h);
	free(notify_abs);
	free(exe);
	free(ref);
	return rc;
}

/* --- the hooks --------------------------------------------------------- */

/* The settings of the repository git runs the hook for. */
static int
read_conf(struct hook_conf *c, const char *hook)
{
	const char *gd = getenv("GIT_DIR");
	struct err e;

	if (!gd || !*gd)
		return cmd_fail("GIT_DIR is not set: 'pressctl hook %s' is run "
				"by git as a hook of a repository (set it up "
				"with 'pressctl hook install REPO')",
				hook);
	if (hook_conf_read(c, &e) < 0)
		return cmd_fail("%s", e.msg);
	return EXIT_OK;
}

/*
 * Validate the tree at u->new. Prints the diagnostics (stderr, which git
 * shows the pusher as "remote: ...") and returns 0 to accept, -1 to
 * refuse.
 */
static int
check_update(const struct hook_conf *c, const struct hook_update *u)
{
	struct model *m = NULL;
	struct source src;
	struct diags d;
	struct err e;
	int ret = -1;

	source_init(&src);
	diags_init(&d);
	if (source_load_git(&src, NULL, u->new, c->path, &e) < 0) {
		fprintf(stderr,
			"pressctl: push rejected: cannot read the "
			"manifests of %s at %.12s: %s\n",
			u->ref, u->new, e.msg);
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
	cmd_print_diags(&d, FORMAT_TEXT); /* warnings */
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
pre_receive(void)
{
	struct hook_conf c;
	struct hook_update u;
	char *line = NULL;
	size_t cap = 0;
	int rc, rejected = 0;

	if ((rc = read_conf(&c, "pre-receive")) != EXIT_OK)
		return rc;
	/* Read every line: git expects the hook to consume its input. */
	while (getline(&line, &cap, stdin) > 0) {
		if (hook_update_parse(&u, line) < 0) {
			fprintf(stderr,
				"pressctl: push rejected: cannot parse "
				"the hook's input line '%.200s'\n",
				line);
			rejected = 1;
			continue;
		}
		if (strcmp(u.ref, c.ref) != 0)
			continue;
		if (hook_id_is_null(u.new)) {
			fprintf(stderr,
				"pressctl: push rejected: deleting %s is "
				"refused: it holds the platform's manifests, and "
				"an empty source never means \"delete "
				"everything\" (remove environments in a commit "
				"instead)\n",
				u.ref);
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
		return err_set(e, "cannot create a socket: %s",
			       strerror(errno));
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (sendto(fd, id, strlen(id), MSG_DONTWAIT, (struct sockaddr *)&sa,
		   sizeof(sa)) >= 0)
		ret = 1;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		ret = 1; /* its queue is full: a wake-up is pending */
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
		return cmd_fail("cannot run pressctl apply: %s",
				strerror(errno));
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
		fprintf(stderr,
			"pressctl: error: cannot run pressctl apply: "
			"%s\n",
			strerror(errno));
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
post_receive(void)
{
	struct hook_conf c;
	struct hook_update u;
	char *line = NULL, id[72] = "";
	size_t cap = 0;
	struct err e;
	int rc, sent;

	if ((rc = read_conf(&c, "post-receive")) != EXIT_OK)
		return rc;
	while (getline(&line, &cap, stdin) > 0) {
		if (hook_update_parse(&u, line) < 0 ||
		    strcmp(u.ref, c.ref) != 0)
			continue;
		if (hook_id_is_null(u.new))
			id[0] = '\0'; /* deleted: nothing to apply */
		else
			snprintf(id, sizeof(id), "%s", u.new);
	}
	free(line);
	if (!id[0])
		goto out; /* the push did not move the branch */
	sent = notify_watcher(c.notify, id, &e);
	if (sent == 1) {
		fprintf(stderr,
			"pressctl: notified the watcher at %s: %s is "
			"now %.12s\n",
			c.notify, c.ref, id);
		goto out;
	}
	if (sent < 0)
		fprintf(stderr, "pressctl: warning: %s\n", e.msg);
	if (c.apply) {
		fprintf(stderr,
			"pressctl: no watcher listening on %s; applying "
			"%s at %.12s now (pressctl.apply)\n",
			c.notify, c.ref, id);
		rc = run_apply(&c, id);
		goto out;
	}
	fprintf(stderr,
		"pressctl: no watcher listening on %s; the change will "
		"be applied at the next resync\n",
		c.notify);
out:
	hook_conf_release(&c);
	return rc;
}

int
cmd_hook(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

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
	if (!strcmp(verb, "install"))
		return install(argc - 1, argv + 1);
	if (!strcmp(verb, "pre-receive"))
		return pre_receive();
	return post_receive();
}
