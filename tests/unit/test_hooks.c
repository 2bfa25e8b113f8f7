/*
 * test_hooks.c - the git side of `pressctl hook` (source/hooks.h): the
 * branch check, the hooks' input lines, installing the hook scripts and
 * settings, and reading the settings back as a hook does (GIT_DIR).
 *
 * Repositories are made with the git CLI under a mkdtemp directory and
 * removed at the end; tests/integration/test_hooks.py runs the hooks
 * through real pushes.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "source/hooks.h"

#define EXE "/opt/press tools/pressctl"
#define ID_A "1111111111111111111111111111111111111111"
#define ID_0 "0000000000000000000000000000000000000000"

/* A new bare repository; its path in out. */
static void
new_bare(char out[PATH_MAX])
{
	char d[PATH_MAX];

	newdir(d);
	fmt(out, PATH_MAX, "%s/srv.git", d);
	SH_OK("git init -q --bare '%s'", out);
}

static void
read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void
conf_read_with_git_dir(struct hook_conf *c, const char *gitdir)
{
	struct err e = { .msg = "" };

	setenv("GIT_DIR", gitdir, 1);
	if (hook_conf_read(c, &e) < 0)
		fail_msg("hook_conf_read(%s): %s", gitdir, e.msg);
	unsetenv("GIT_DIR");
}

/* --- tests ----------------------------------------------------------- */

static void
branch_names_become_refs_under_refs_heads(void **state)
{
	char *ref = (char *)"unset";

	(void)state;
	assert_int_equal(hook_branch_ref(&ref, "main"), 0);
	assert_string_equal(ref, "refs/heads/main");
	free(ref);
	assert_int_equal(hook_branch_ref(&ref, "refs/heads/team/live"), 0);
	assert_string_equal(ref, "refs/heads/team/live");
	free(ref);

	assert_int_equal(hook_branch_ref(&ref, "bad..name"), -1);
	assert_null(ref);
	assert_int_equal(hook_branch_ref(&ref, "refs/tags/v1"), -1);
	assert_null(ref);
	assert_int_equal(hook_branch_ref(&ref, "refs/heads/x.lock"), -1);
	assert_null(ref);
}

static void
update_lines_are_split_in_place(void **state)
{
	struct hook_update u;
	char line[256];

	(void)state;
	fmt(line, sizeof(line), "%s %s refs/heads/main\r\n", ID_0, ID_A);
	assert_int_equal(hook_update_parse(&u, line), 0);
	assert_string_equal(u.old, ID_0);
	assert_string_equal(u.new, ID_A);
	assert_string_equal(u.ref, "refs/heads/main");
	assert_true(u.ref > line && u.ref < line + sizeof(line));
	assert_true(hook_id_is_null(u.old));
	assert_false(hook_id_is_null(u.new));

	/* SHA-256 ids are 64 digits. */
	fmt(line, sizeof(line), "%s%s %s%s refs/tags/v1\n", ID_A,
	    "111111111111111111111111", ID_0, "000000000000000000000000");
	assert_int_equal(hook_update_parse(&u, line), 0);
	assert_string_equal(u.ref, "refs/tags/v1");

	fmt(line, sizeof(line), "garbage\n");
	assert_int_equal(hook_update_parse(&u, line), -1);
	assert_string_equal(line, "garbage");
	fmt(line, sizeof(line), "%s %s \n", ID_0, ID_A);
	assert_int_equal(hook_update_parse(&u, line), -1);
	fmt(line, sizeof(line), "123 %s refs/heads/main\n", ID_A);
	assert_int_equal(hook_update_parse(&u, line), -1);
	fmt(line, sizeof(line), "%s %s refs/heads/main\n", ID_0,
	    "ABCDEF1111111111111111111111111111111111");
	assert_int_equal(hook_update_parse(&u, line), -1);
}

static void
install_writes_hooks_and_settings_a_hook_reads_back(void **state)
{
	struct hook_settings s = { .branch = "live",
				   .path = "platform",
				   .notify = "/run/w.sock",
				   .apply = 1 };
	struct hook_installed h;
	struct hook_conf c;
	struct err e = { .msg = "" };
	char repo[PATH_MAX], path[PATH_MAX], text[1024], want[1024];
	struct stat st;

	(void)state;
	new_bare(repo);
	if (hook_install(&h, repo, EXE, &s, 0, &e) < 0)
		fail_msg("hook_install: %s", e.msg);
	assert_string_equal(h.gitdir, repo);
	fmt(path, sizeof(path), "%s/hooks", repo);
	assert_string_equal(h.dir, path);
	assert_string_equal(h.notify, "/run/w.sock");
	assert_string_equal(h.what[HOOK_PRE_RECEIVE], "installed");
	assert_string_equal(h.what[HOOK_POST_RECEIVE], "installed");
	hook_installed_release(&h);
	hook_installed_release(&h); /* empty: again is harmless */

	for (int i = 0; i < HOOK_COUNT; i++) {
		fmt(path, sizeof(path), "%s/hooks/%s", repo, hook_names[i]);
		read_file(path, text, sizeof(text));
		fmt(want, sizeof(want),
		    "#!/bin/sh\n# pressctl-hook: written "
		    "by 'pressctl hook install'; settings: git config "
		    "pressctl.*\n# (pressctl hook install --help)\nexec "
		    "'" EXE "' hook %s\n",
		    hook_names[i]);
		assert_string_equal(text, want);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0755);
	}

	conf_read_with_git_dir(&c, repo);
	assert_string_equal(c.gitdir, repo);
	assert_string_equal(c.branch, "live");
	assert_string_equal(c.ref, "refs/heads/live");
	assert_string_equal(c.path, "platform");
	assert_string_equal(c.notify, "/run/w.sock");
	assert_int_equal(c.apply, 1);
	hook_conf_release(&c);

	/* Again with the defaults: the hooks stay, the settings go back. */
	memset(&s, 0, sizeof(s));
	s.branch = HOOK_DEFAULT_BRANCH;
	if (hook_install(&h, repo, EXE, &s, 0, &e) < 0)
		fail_msg("hook_install: %s", e.msg);
	assert_string_equal(h.what[HOOK_PRE_RECEIVE], "unchanged");
	assert_string_equal(h.what[HOOK_POST_RECEIVE], "unchanged");
	fmt(path, sizeof(path), "%s/" HOOK_SOCKET_NAME, repo);
	assert_string_equal(h.notify, path);
	hook_installed_release(&h);

	conf_read_with_git_dir(&c, repo);
	assert_string_equal(c.branch, "main");
	assert_string_equal(c.ref, "refs/heads/main");
	assert_null(c.path);
	assert_string_equal(c.notify, path);
	assert_int_equal(c.apply, 0);
	hook_conf_release(&c);
}

static void
install_keeps_a_foreign_hook_unless_forced(void **state)
{
	struct hook_settings s = { .branch = "main" };
	struct hook_installed h;
	struct err e = { .msg = "" };
	char repo[PATH_MAX], path[PATH_MAX], text[256];

	(void)state;
	new_bare(repo);
	fmt(path, sizeof(path), "%s/hooks/pre-receive", repo);
	SH_OK("printf '#!/bin/sh\\nexit 0\\n' > '%s' && chmod 755 '%s'", path,
	      path);

	assert_int_equal(hook_install(&h, repo, EXE, &s, 0, &e), -1);
	assert_null(h.gitdir);
	assert_non_null(strstr(e.msg, "exists and was not written by "
				      "pressctl"));
	assert_non_null(strstr(e.msg, path));
	read_file(path, text, sizeof(text));
	assert_string_equal(text, "#!/bin/sh\nexit 0\n");

	if (hook_install(&h, repo, EXE, &s, 1, &e) < 0)
		fail_msg("hook_install --force: %s", e.msg);
	assert_string_equal(h.what[HOOK_PRE_RECEIVE], "replaced");
	assert_string_equal(h.what[HOOK_POST_RECEIVE], "installed");
	hook_installed_release(&h);
	fmt(path, sizeof(path), "%s/hooks/pre-receive.before-pressctl", repo);
	read_file(path, text, sizeof(text));
	assert_string_equal(text, "#!/bin/sh\nexit 0\n");
}

static void
install_honors_a_relative_hooks_path_of_a_work_tree(void **state)
{
	struct hook_settings s = { .branch = "main" };
	struct hook_installed h;
	struct err e = { .msg = "" };
	char d[PATH_MAX], want[PATH_MAX];

	(void)state;
	newdir(d);
	SH_OK("git init -q '%s' && git -C '%s' config core.hooksPath hk", d, d);
	if (hook_install(&h, d, EXE, &s, 0, &e) < 0)
		fail_msg("hook_install: %s", e.msg);
	fmt(want, sizeof(want), "%s/.git", d);
	assert_string_equal(h.gitdir, want);
	fmt(want, sizeof(want), "%s/hk", d);
	assert_string_equal(h.dir, want);
	hook_installed_release(&h);
	fmt(want, sizeof(want), "%s/hk/post-receive", d);
	assert_int_equal(access(want, X_OK), 0);
}

static void
install_opens_the_repository_as_given(void **state)
{
	struct hook_settings s = { .branch = "main" };
	struct hook_installed h;
	struct err e = { .msg = "" };
	char d[PATH_MAX], sub[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	newdir(d);
	fmt(sub, sizeof(sub), "%s/sub", d);
	SH_OK("git init -q '%s' && mkdir '%s'", d, sub);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(sub), 0);
	/* "." is not searched for upwards, and GIT_DIR does not count. */
	setenv("GIT_DIR", d, 1);
	assert_int_equal(hook_install(&h, ".", EXE, &s, 0, &e), -1);
	unsetenv("GIT_DIR");
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(strstr(e.msg, "cannot open repository '.': "));
	assert_non_null(strstr(e.msg, "(give a bare repository or a work "
				      "tree)"));

	fmt(want, sizeof(want), "%s/missing.git", d);
	assert_int_equal(hook_install(&h, want, EXE, &s, 0, &e), -1);
	fmt(want, sizeof(want), "cannot open repository '%s/missing.git': ", d);
	assert_memory_equal(e.msg, want, strlen(want));
}

static void
install_refuses_a_notify_socket_path_too_long(void **state)
{
	struct hook_settings s = { .branch = "main" };
	struct hook_installed h;
	struct err e = { .msg = "" };
	char repo[PATH_MAX], sock[200], hooks[PATH_MAX];

	(void)state;
	new_bare(repo);
	memset(sock, 'x', sizeof(sock) - 1);
	sock[0] = '/';
	sock[sizeof(sock) - 1] = '\0';
	s.notify = sock;
	assert_int_equal(hook_install(&h, repo, EXE, &s, 0, &e), -1);
	assert_non_null(strstr(e.msg, "is too long for a unix socket"));
	/* Checked before anything is written. */
	fmt(hooks, sizeof(hooks), "%s/hooks/pre-receive", repo);
	assert_int_not_equal(access(hooks, F_OK), 0);
}

static void
conf_read_takes_a_relative_socket_from_the_git_dir(void **state)
{
	struct hook_conf c;
	char repo[PATH_MAX], want[PATH_MAX + 16];

	(void)state;
	new_bare(repo);
	SH_OK("git -C '%s' config pressctl.notify run/w.sock && "
	      "git -C '%s' config pressctl.branch refs/heads/live",
	      repo, repo);
	conf_read_with_git_dir(&c, repo);
	fmt(want, sizeof(want), "%s/run/w.sock", repo);
	assert_string_equal(c.notify, want);
	assert_string_equal(c.branch, "refs/heads/live");
	assert_string_equal(c.ref, "refs/heads/live");
	hook_conf_release(&c);
}

static void
conf_read_errors_name_the_repository(void **state)
{
	struct hook_conf c;
	struct err e = { .msg = "" };
	char repo[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	new_bare(repo);
	SH_OK("git -C '%s' config pressctl.apply maybe", repo);
	setenv("GIT_DIR", repo, 1);
	assert_int_equal(hook_conf_read(&c, &e), -1);
	assert_null(c.gitdir);
	fmt(want, sizeof(want),
	    "bad pressctl.apply in repository '%s': ", repo);
	assert_memory_equal(e.msg, want, strlen(want));
	assert_non_null(strstr(e.msg, "(set it to true or false)"));

	fmt(want, sizeof(want), "%s/missing.git", repo);
	setenv("GIT_DIR", want, 1);
	assert_int_equal(hook_conf_read(&c, &e), -1);
	fmt(want, sizeof(want),
	    "cannot open repository '%s/missing.git' "
	    "(GIT_DIR): ",
	    repo);
	assert_memory_equal(e.msg, want, strlen(want));
	unsetenv("GIT_DIR");
}

/* --- main ------------------------------------------------------------ */

static int
group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	fmt(tmproot, sizeof(tmproot), "%s/press-hooks-XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(tmproot) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (tmproot[0])
		sh("rm -rf '%s'", tmproot);
	return 0;
}

int
main(void)
{
	static const char *const scrub[] = {
		"GIT_DIR",
		"GIT_WORK_TREE",
		"GIT_INDEX_FILE",
		"GIT_COMMON_DIR",
		"GIT_OBJECT_DIRECTORY",
		"GIT_ALTERNATE_OBJECT_DIRECTORIES",
		"GIT_NAMESPACE",
		"GIT_CEILING_DIRECTORIES",
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(branch_names_become_refs_under_refs_heads),
		cmocka_unit_test(update_lines_are_split_in_place),
		cmocka_unit_test(
			install_writes_hooks_and_settings_a_hook_reads_back),
		cmocka_unit_test(install_keeps_a_foreign_hook_unless_forced),
		cmocka_unit_test(
			install_honors_a_relative_hooks_path_of_a_work_tree),
		cmocka_unit_test(install_opens_the_repository_as_given),
		cmocka_unit_test(install_refuses_a_notify_socket_path_too_long),
		cmocka_unit_test(
			conf_read_takes_a_relative_socket_from_the_git_dir),
		cmocka_unit_test(conf_read_errors_name_the_repository),
	};

	/* Hermetic git: nothing from the caller's repository or config. */
	for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++)
		unsetenv(scrub[i]);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
