/*
 * test_watch.c - change detection (inotify watchers on directory, file
 * and git sources) and remote git mirrors.
 *
 * Each case opens a watcher, does a file operation, then waits (poll,
 * at most 1 s) for the descriptor and asks watcher_read whether the
 * change was relevant; an irrelevant operation must leave it quiet or
 * give 0. inotify queues events when the system call is made, so a
 * quiet check needs only a short wait. Fixtures live under a mkdtemp
 * directory, built with the shell and the git CLI.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <git2.h>

#include "source/source.h"
#include "source/watch.h"

/* --- helpers --------------------------------------------------------- */

/* Write dir/rel (creating directories) with a line of text. */
static void
put(const char *dir, const char *rel)
{
	SH_OK("mkdir -p '%s' && cd '%s' && mkdir -p \"$(dirname '%s')\" && "
	      "echo 'x: 1' > '%s'",
	      dir, dir, rel, rel);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait up to timeout_ms for a relevant change: 1 if one came. */
static int
changed(struct watcher *w, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { watcher_fd(w), POLLIN, 0 };
		struct err e = { .msg = "" };
		long left = deadline - now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			return 0;
		r = watcher_read(w, &e);
		if (r < 0)
			fail_msg("watcher_read: %s", e.msg);
		if (r == 1)
			return 1;
	}
}

#define expect_change(w) assert_int_equal(changed((w), 1000), 1)
#define expect_quiet(w) assert_int_equal(changed((w), 200), 0)

/* Forget what setting up a case produced. */
static void
drain(struct watcher *w)
{
	(void)changed(w, 50);
}

static struct watcher *
open_dir_ok(const char *root)
{
	struct watcher *w = NULL;
	struct err e = { .msg = "" };

	if (watcher_open_dir(&w, root, &e) < 0)
		fail_msg("watcher_open_dir(%s): %s", root, e.msg);
	assert_non_null(w);
	assert_true(watcher_fd(w) >= 0);
	return w;
}

static struct watcher *
open_git_ok(const char *repo)
{
	struct watcher *w = NULL;
	struct err e = { .msg = "" };

	if (watcher_open_git(&w, repo, &e) < 0)
		fail_msg("watcher_open_git(%s): %s", repo, e.msg);
	assert_non_null(w);
	return w;
}

/* A work tree with one commit on main. */
static void
new_repo(char out[PATH_MAX])
{
	newdir(out);
	SH_OK("cd '%s' && git init -q -b main . && echo 'a: 1' > a.yaml && "
	      "git add a.yaml && git commit -q -m one",
	      out);
}

static void
commit(const char *repo, const char *msg)
{
	SH_OK("cd '%s' && echo '%s: 1' >> a.yaml && git commit -q -am '%s'",
	      repo, msg, msg);
}

/* --- directory sources ----------------------------------------------- */

static void
dir_new_manifest_in_the_root_is_a_change(void **state)
{
	char d[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	w = open_dir_ok(d);
	expect_quiet(w);
	put(d, "site.yaml");
	expect_change(w);
	put(d, "other.yml");
	expect_change(w);
	/* Written again in place (close after write). */
	SH_OK("echo 'y: 2' >> '%s/site.yaml'", d);
	expect_change(w);
	watcher_free(w);
}

static void
dir_other_files_dotfiles_and_temporaries_are_not(void **state)
{
	char d[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	put(d, "a.yaml");
	SH_OK("mkdir '%s/.git' '%s/sub'", d, d);
	w = open_dir_ok(d);
	put(d, "notes.txt");
	put(d, "a.yaml~");
	put(d, "a.yaml.tmp");
	put(d, ".a.yaml.swp");
	put(d, ".hidden.yaml");
	put(d, "sub/README.md");
	/* vim's write test file. */
	SH_OK("cd '%s' && touch 4913 && rm 4913", d);
	/* Inside a dot-directory, even manifests, even new directories. */
	put(d, ".git/x.yaml");
	SH_OK("mkdir -p '%s/.git/objects/ab' '%s/.press/cache'", d, d);
	put(d, ".git/objects/ab/c.yaml");
	expect_quiet(w);
	watcher_free(w);
}

static void
dir_new_nested_directory_is_watched_at_once(void **state)
{
	char d[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	w = open_dir_ok(d);
	SH_OK("mkdir -p '%s/a/b' && echo 'x: 1' > '%s/a/b/x.yaml'", d, d);
	expect_change(w);
	drain(w);
	/* The new directories are watched: writes inside are seen. */
	put(d, "a/b/y.yaml");
	expect_change(w);
	put(d, "a/z.yaml");
	expect_change(w);
	/* And their irrelevant files are not. */
	put(d, "a/b/notes.txt");
	expect_quiet(w);
	/* Deeper, created in one go again. */
	SH_OK("mkdir -p '%s/a/b/c/d/e' && echo 'x: 1' > '%s/a/b/c/d/e/x.yaml'",
	      d, d);
	expect_change(w);
	drain(w);
	put(d, "a/b/c/d/e/y.yaml");
	expect_change(w);
	watcher_free(w);
}

static void
dir_editor_saves_are_a_change_their_temporaries_not(void **state)
{
	char d[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	put(d, "x.yaml");
	w = open_dir_ok(d);

	/* Write a temporary file, then rename it over. */
	put(d, "x.yaml.tmp123");
	expect_quiet(w);
	SH_OK("mv '%s/x.yaml.tmp123' '%s/x.yaml'", d, d);
	expect_change(w);

	/* vim (backupcopy=no): test file, move to backup, write, drop the
	 * backup. */
	SH_OK("cd '%s' && touch 4913 && rm 4913 && mv x.yaml x.yaml~ && "
	      "echo 'x: 2' > x.yaml && rm x.yaml~",
	      d);
	expect_change(w);
	drain(w);

	/* A backup file alone is not a change. */
	SH_OK("cp '%s/x.yaml' '%s/x.yaml~'", d, d);
	expect_quiet(w);
	SH_OK("rm '%s/x.yaml~'", d);
	expect_quiet(w);
	watcher_free(w);
}

static void
dir_deleted_manifest_or_directory_is_a_change(void **state)
{
	char d[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	put(d, "x.yaml");
	put(d, "sub/deep/y.yaml");
	put(d, "empty/notes.txt");
	w = open_dir_ok(d);
	SH_OK("rm '%s/x.yaml'", d);
	expect_change(w);
	SH_OK("rm -r '%s/sub'", d);
	expect_change(w);
	drain(w);
	/* A directory may hold manifests: its removal is a change. */
	SH_OK("rm -r '%s/empty'", d);
	expect_change(w);
	watcher_free(w);
}

static void
dir_moved_in_directory_is_a_change_and_watched(void **state)
{
	char d[PATH_MAX], out[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	newdir(out);
	put(out, "m/x.yaml");
	put(out, "m/n/y.yaml");
	w = open_dir_ok(d);
	SH_OK("mv '%s/m' '%s/m'", out, d);
	expect_change(w);
	drain(w);
	put(d, "m/n/z.yaml");
	expect_change(w);
	put(d, "m/new/z.yaml");
	expect_change(w);
	watcher_free(w);
}

static void
dir_moved_out_directory_is_a_change_and_forgotten(void **state)
{
	char d[PATH_MAX], out[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	newdir(out);
	put(d, "sub/x.yaml");
	put(d, "sub/n/y.yaml");
	w = open_dir_ok(d);
	SH_OK("mv '%s/sub' '%s/sub'", d, out);
	expect_change(w);
	drain(w);
	put(out, "sub/z.yaml");
	put(out, "sub/n/z.yaml");
	expect_quiet(w);
	watcher_free(w);
}

static void
dir_moved_within_the_tree_is_watched_under_its_new_name(void **state)
{
	char d[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	put(d, "a/n/x.yaml");
	w = open_dir_ok(d);
	SH_OK("mv '%s/a' '%s/b'", d, d);
	expect_change(w);
	drain(w);
	put(d, "b/n/y.yaml");
	expect_change(w);
	/* A new directory under the new name is watched too. */
	SH_OK("mkdir '%s/b/n/m'", d);
	expect_change(w);
	drain(w);
	put(d, "b/n/m/z.yaml");
	expect_change(w);
	/* The old name, created again, is a new directory. */
	put(d, "a/x.yaml");
	expect_change(w);
	drain(w);
	put(d, "a/y.yaml");
	expect_change(w);
	watcher_free(w);
}

static void
dir_symlinked_directories_are_not_followed(void **state)
{
	char d[PATH_MAX], out[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	newdir(out);
	SH_OK("ln -s '%s' '%s/before'", out, d);
	w = open_dir_ok(d);
	SH_OK("ln -s '%s' '%s/after'", out, d);
	put(out, "x.yaml");
	expect_quiet(w);
	/* A symlinked manifest is read by the source: its link is a
	 * change. */
	SH_OK("ln -s '%s/x.yaml' '%s/link.yaml'", out, d);
	expect_change(w);
	watcher_free(w);
}

static void
dir_queue_overflow_is_a_change_and_the_watcher_recovers(void **state)
{
	char d[PATH_MAX], line[64];
	struct watcher *w;
	long max;

	(void)state;
	sh_line(line, sizeof(line),
		"cat /proc/sys/fs/inotify/max_queued_events");
	max = strtol(line, NULL, 10);
	if (max <= 0 || max > 1000000)
		skip();
	newdir(d);
	put(d, "sub/x.yaml");
	w = open_dir_ok(d);
	/* Irrelevant files, but more events (a create and a close each)
	 * than the queue holds: lost events make it a change. */
	SH_OK("cd '%s' && seq 1 %ld | sed 's/$/.txt/' | xargs touch", d,
	      max / 2 + 1000);
	expect_change(w);
	drain(w);
	put(d, "sub/y.yaml");
	expect_change(w);
	put(d, "after.yaml");
	expect_change(w);
	watcher_free(w);
}

static void
dir_root_replaced_is_watched_anew(void **state)
{
	char d[PATH_MAX], root[PATH_MAX], r1[PATH_MAX], r2[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	fmt(root, sizeof(root), "%s/current", d);
	fmt(r1, sizeof(r1), "%s/r1", d);
	fmt(r2, sizeof(r2), "%s/r2", d);
	put(r1, "x.yaml");
	put(r2, "x.yaml");
	SH_OK("ln -s r1 '%s'", root);
	w = open_dir_ok(root);

	/* A release switch: the symlink replaced atomically. */
	SH_OK("cd '%s' && ln -s r2 next && mv -T next current", d);
	expect_change(w);
	drain(w);
	put(r2, "y.yaml");
	expect_change(w);
	put(r1, "y.yaml");
	expect_quiet(w);

	/* The root removed and made again. */
	SH_OK("cd '%s' && rm current && mkdir current", d);
	expect_change(w);
	drain(w);
	put(root, "z.yaml");
	expect_change(w);
	put(r2, "z.yaml");
	expect_quiet(w);

	/* A real directory removed with its contents and made again. */
	SH_OK("rm -rf '%s' && mkdir -p '%s/n'", root, root);
	expect_change(w);
	drain(w);
	put(root, "n/x.yaml");
	expect_change(w);
	watcher_free(w);
}

static void
dir_root_and_its_directory_gone_is_an_error(void **state)
{
	char d[PATH_MAX], root[PATH_MAX];
	struct watcher *w;
	struct err e = { .msg = "" };
	int r;

	(void)state;
	newdir(d);
	fmt(root, sizeof(root), "%s/p/root", d);
	put(root, "x.yaml");
	w = open_dir_ok(root);
	SH_OK("rm -rf '%s/p'", d);
	/* Relevant first (the load will fail and say why), then the
	 * watcher says it stopped. */
	r = 0;
	for (int i = 0; i < 10 && r == 0; i++) {
		struct pollfd p = { watcher_fd(w), POLLIN, 0 };

		assert_true(poll(&p, 1, 1000) >= 0);
		r = watcher_read(w, &e);
	}
	assert_int_equal(r, -1);
	assert_non_null(strstr(e.msg, "any more"));
	assert_non_null(strstr(e.msg, root));
	watcher_free(w);
}

static void
dir_root_given_as_dot_is_watched(void **state)
{
	char d[PATH_MAX], cwd[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	w = open_dir_ok(".");
	assert_int_equal(chdir(cwd), 0);
	put(d, "sub/x.yaml");
	expect_change(w);
	drain(w);
	put(d, "sub/y.yaml");
	expect_change(w);
	watcher_free(w);
}

/* --- single-file roots ------------------------------------------------- */

static void
file_root_replaced_by_rename_is_a_change(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	put(d, "site.yaml");
	fmt(f, sizeof(f), "%s/site.yaml", d);
	w = open_dir_ok(f);
	/* Other files beside it do not count. */
	put(d, "other.yaml");
	put(d, "site.yaml.new");
	expect_quiet(w);
	SH_OK("mv '%s/site.yaml.new' '%s'", d, f);
	expect_change(w);
	/* Written again in place, after its replacement. */
	SH_OK("echo 'y: 1' >> '%s'", f);
	expect_change(w);
	SH_OK("rm '%s'", f);
	expect_change(w);
	put(d, "site.yaml");
	expect_change(w);
	watcher_free(w);
}

static void
file_root_through_a_symlink_sees_its_target_replaced(void **state)
{
	char d[PATH_MAX], t[PATH_MAX], f[PATH_MAX];
	struct watcher *w;

	(void)state;
	newdir(d);
	newdir(t);
	put(t, "target.yaml");
	fmt(f, sizeof(f), "%s/link.yaml", d);
	SH_OK("ln -s '%s/target.yaml' '%s'", t, f);
	w = open_dir_ok(f);
	put(t, "target.yaml.new");
	expect_quiet(w);
	SH_OK("mv '%s/target.yaml.new' '%s/target.yaml'", t, t);
	expect_change(w);
	/* The link pointed elsewhere: the new target is watched. */
	put(d, "real.yaml");
	SH_OK("ln -sfn '%s/real.yaml' '%s'", d, f);
	expect_change(w);
	drain(w);
	SH_OK("echo 'y: 1' >> '%s/real.yaml'", d);
	expect_change(w);
	watcher_free(w);
}

static void
open_errors_name_the_root(void **state)
{
	char d[PATH_MAX], p[PATH_MAX];
	struct watcher *w = (struct watcher *)1;
	struct err e = { .msg = "" };

	(void)state;
	newdir(d);
	fmt(p, sizeof(p), "%s/missing", d);
	assert_int_equal(watcher_open_dir(&w, p, &e), -1);
	assert_null(w);
	assert_non_null(strstr(e.msg, p));
	assert_non_null(strstr(e.msg, "No such file or directory"));

	fmt(p, sizeof(p), "%s/fifo", d);
	SH_OK("mkfifo '%s'", p);
	assert_int_equal(watcher_open_dir(&w, p, &e), -1);
	assert_non_null(strstr(e.msg, "not a directory or a regular file"));

	assert_int_equal(watcher_open_git(&w, d, &e), -1);
	assert_null(w);
	assert_non_null(strstr(e.msg, "cannot open repository"));
	watcher_free(NULL);
}

/* --- git sources ----------------------------------------------------- */

static void
git_commit_in_a_work_tree_is_a_change(void **state)
{
	char r[PATH_MAX];
	struct watcher *w;

	(void)state;
	new_repo(r);
	w = open_git_ok(r);
	commit(r, "two");
	expect_change(w);
	drain(w);
	/* The index, objects and the description are not refs. */
	SH_OK("cd '%s' && echo 'b: 1' > b.yaml && git add b.yaml", r);
	SH_OK("echo 'my repo' > '%s/.git/description'", r);
	SH_OK("cd '%s' && git status >/dev/null && git reset -q b.yaml", r);
	expect_quiet(w);
	/* A branch in a nested directory, then a commit on it. */
	SH_OK("cd '%s' && git branch feature/x", r);
	expect_change(w);
	drain(w);
	SH_OK("cd '%s' && git checkout -q feature/x", r);
	expect_change(w); /* HEAD moved */
	drain(w);
	commit(r, "three");
	expect_change(w);
	watcher_free(w);
}

static void
git_push_to_a_bare_repository_is_a_change(void **state)
{
	char r[PATH_MAX], b[PATH_MAX];
	struct watcher *w;

	(void)state;
	new_repo(r);
	fmt(b, sizeof(b), "%s.git", r);
	SH_OK("git clone -q --bare '%s' '%s'", r, b);
	w = open_git_ok(b);
	commit(r, "two");
	expect_quiet(w); /* not pushed yet */
	SH_OK("git -C '%s' push -q '%s' main 2>/dev/null", r, b);
	expect_change(w);
	drain(w);
	/* A new branch in a new nested directory, then updated. */
	SH_OK("git -C '%s' push -q '%s' main:refs/heads/team/a/x "
	      "2>/dev/null",
	      r, b);
	expect_change(w);
	drain(w);
	commit(r, "three");
	SH_OK("git -C '%s' push -q '%s' main:refs/heads/team/a/x "
	      "2>/dev/null",
	      r, b);
	expect_change(w);
	drain(w);
	/* A tag, then a deletion. */
	SH_OK("git -C '%s' tag v1 && git -C '%s' push -q '%s' v1 2>/dev/null",
	      r, r, b);
	expect_change(w);
	drain(w);
	SH_OK("git -C '%s' push -q '%s' :refs/heads/team/a/x 2>/dev/null", r,
	      b);
	expect_change(w);
	drain(w);
	/* HEAD pointed elsewhere. */
	SH_OK("git -C '%s' symbolic-ref HEAD refs/heads/other", b);
	expect_change(w);
	watcher_free(w);
}

static void
git_pack_refs_is_a_change(void **state)
{
	char r[PATH_MAX];
	struct watcher *w;

	(void)state;
	new_repo(r);
	SH_OK("cd '%s' && git branch b1 && git tag t1", r);
	w = open_git_ok(r);
	SH_OK("git -C '%s' pack-refs --all", r);
	expect_change(w);
	drain(w);
	/* A ref updated while only packed: a new loose file. */
	commit(r, "two");
	expect_change(w);
	watcher_free(w);
}

static void
git_linked_work_tree_sees_shared_refs_and_its_head(void **state)
{
	char r[PATH_MAX], wt[PATH_MAX];
	struct watcher *w;

	(void)state;
	new_repo(r);
	fmt(wt, sizeof(wt), "%s-wt", r);
	SH_OK("git -C '%s' worktree add -q -b side '%s' 2>/dev/null", r, wt);
	w = open_git_ok(wt);
	commit(wt, "side"); /* refs/heads/side, in the common dir */
	expect_change(w);
	drain(w);
	commit(r, "main"); /* a ref of the main work tree: shared */
	expect_change(w);
	drain(w);
	SH_OK("git -C '%s' checkout -q --detach", wt); /* its own HEAD */
	expect_change(w);
	watcher_free(w);
}

static void
git_irrelevant_files_in_the_git_directory_are_not(void **state)
{
	char r[PATH_MAX], gd[PATH_MAX];
	struct watcher *w;

	(void)state;
	new_repo(r);
	fmt(gd, sizeof(gd), "%s/.git", r);
	/* The git directory itself may be given. */
	w = open_git_ok(gd);
	SH_OK("echo 'described' > '%s/description'", gd);
	SH_OK("echo x > '%s/HEAD.lock' && rm '%s/HEAD.lock'", gd, gd);
	SH_OK("echo x > '%s/refs/heads/main.lock' && "
	      "rm '%s/refs/heads/main.lock'",
	      gd, gd);
	SH_OK("mkdir -p '%s/info' && echo '*.bak' > '%s/info/exclude'", gd, gd);
	SH_OK("git -C '%s' config core.x 1", r);
	expect_quiet(w);
	watcher_free(w);
}

/* --- remote mirrors ------------------------------------------------------ */

static void
is_remote_tells_urls_from_paths(void **state)
{
	(void)state;
	assert_true(source_is_remote("https://example.com/x.git"));
	assert_true(source_is_remote("ssh://git@example.com/x.git"));
	assert_true(source_is_remote("file:///srv/x.git"));
	assert_true(source_is_remote("git+ssh://example.com/x"));
	assert_true(source_is_remote("git@github.com:acme/config.git"));
	assert_true(source_is_remote("example.com:config.git"));
	assert_true(source_is_remote("[::1]:config.git"));
	assert_false(source_is_remote("/srv/config.git"));
	assert_false(source_is_remote("config"));
	assert_false(source_is_remote("./a:b"));
	assert_false(source_is_remote("/srv/a:b"));
	assert_false(source_is_remote("dir/x@y:z"));
	assert_false(source_is_remote(":x"));
	assert_false(source_is_remote(""));
	assert_false(source_is_remote(NULL));
	assert_false(source_is_remote("."));
}

/* The commit id of rev in the repository at path, through libgit2. */
static int
revparse(char out[GIT_OID_HEXSZ + 1], const char *path, const char *rev)
{
	git_repository *r = NULL;
	git_object *o = NULL;
	int rc;

	git_libgit2_init();
	rc = git_repository_open_bare(&r, path);
	if (rc == 0)
		rc = git_revparse_single(&o, r, rev);
	if (rc == 0)
		git_oid_tostr(out, GIT_OID_HEXSZ + 1, git_object_id(o));
	git_object_free(o);
	git_repository_free(r);
	git_libgit2_shutdown();
	return rc;
}

static char *
mirror_ok(const char *url, const char *cache)
{
	struct err e = { .msg = "" };
	char *path = (char *)1;

	if (source_mirror(&path, url, cache, &e) < 0)
		fail_msg("source_mirror(%s): %s", url, e.msg);
	assert_non_null(path);
	return path;
}

static void
mirror_clones_fetches_and_prunes(void **state)
{
	char r[PATH_MAX], up[PATH_MAX], url[PATH_MAX + 8], cache[PATH_MAX];
	char want[64], got[GIT_OID_HEXSZ + 1], hex[80];
	char *path, *again;
	struct source src;
	struct err e = { .msg = "" };

	(void)state;
	new_repo(r);
	fmt(up, sizeof(up), "%s-up.git", r);
	SH_OK("cd '%s' && git branch feature/x && git tag v1", r);
	SH_OK("git clone -q --bare '%s' '%s'", r, up);
	SH_OK("git -C '%s' push -q '%s' feature/x v1 2>/dev/null", r, up);
	fmt(url, sizeof(url), "file://%s", up);
	fmt(cache, sizeof(cache), "%s-cache/nested", r); /* created */

	path = mirror_ok(url, cache);
	/* cache/<16 hex of sha256(url)>.git */
	sh_line(hex, sizeof(hex), "printf %%s '%s' | sha256sum | cut -c1-16",
		url);
	fmt(want, sizeof(want), "/%s.git", hex);
	assert_true(strlen(path) > strlen(want));
	assert_string_equal(path + strlen(path) - strlen(want), want);
	assert_int_equal(strncmp(path, cache, strlen(cache)), 0);

	sh_line(want, sizeof(want), "git -C '%s' rev-parse main", up);
	assert_int_equal(revparse(got, path, "main"), 0);
	assert_string_equal(got, want);
	assert_int_equal(revparse(got, path, "feature/x"), 0);
	assert_int_equal(revparse(got, path, "v1"), 0);
	/* HEAD follows the remote's: the mirror reads as a source. */
	assert_int_equal(revparse(got, path, "HEAD"), 0);
	assert_string_equal(got, want);
	source_init(&src);
	if (source_load_git(&src, path, NULL, NULL, &e) < 0)
		fail_msg("source_load_git(mirror): %s", e.msg);
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.revision, want);
	source_release(&src);
	/* No credentials or temporary folders left behind. */
	SH_OK("test \"$(ls -A '%s')\" = '%s.git'", cache, hex);
	SH_OK("git -C '%s' config remote.origin.url | grep -qx '%s'", path,
	      url);

	/* Upstream moves on: a commit, a deleted branch, a deleted tag. */
	commit(r, "two");
	SH_OK("git -C '%s' push -q '%s' main 2>/dev/null", r, up);
	SH_OK("git -C '%s' branch -q -D feature/x && git -C '%s' tag -d v1 "
	      ">/dev/null",
	      up, up);
	sh_line(want, sizeof(want), "git -C '%s' rev-parse main", up);

	again = mirror_ok(url, cache);
	assert_string_equal(again, path);
	assert_int_equal(revparse(got, path, "main"), 0);
	assert_string_equal(got, want);
	assert_int_not_equal(revparse(got, path, "feature/x"), 0);
	assert_int_not_equal(revparse(got, path, "v1"), 0);
	free(again);
	free(path);
}

static void
mirror_fetch_wakes_a_git_watcher(void **state)
{
	char r[PATH_MAX], url[PATH_MAX], cache[PATH_MAX];
	struct watcher *w;
	char *path;

	(void)state;
	new_repo(r);
	fmt(url, sizeof(url), "%s/.git", r); /* a plain path as URL */
	fmt(cache, sizeof(cache), "%s-cache", r);
	path = mirror_ok(url, cache);
	w = open_git_ok(path);
	free(mirror_ok(url, cache));
	expect_quiet(w); /* nothing new: no ref rewritten */
	commit(r, "two");
	free(mirror_ok(url, cache));
	expect_change(w);
	watcher_free(w);
	free(path);
}

static void
mirror_errors_hide_credentials(void **state)
{
	char d[PATH_MAX], cache[PATH_MAX];
	struct err e = { .msg = "" };
	char *path = (char *)1;
	long t0 = now_ms();

	(void)state;
	newdir(d);
	fmt(cache, sizeof(cache), "%s/cache", d);
	/* Nothing listens on port 9: refused at once. */
	assert_int_equal(source_mirror(&path,
				       "https://user:secret@127.0.0.1:9/x.git",
				       cache, &e),
			 -1);
	assert_null(path);
	assert_null(strstr(e.msg, "secret"));
	assert_null(strstr(e.msg, "user"));
	assert_non_null(
		strstr(e.msg, "cannot fetch 'https://127.0.0.1:9/x.git'"));
	assert_true(e.transient);
	assert_true(now_ms() - t0 < 10000);
	/* The failed first clone left nothing behind. */
	SH_OK("test -z \"$(ls -A '%s')\"", cache);

	/* A short secret is scrubbed where it stands alone, not inside
	 * words of the message. */
	assert_int_equal(source_mirror(&path, "https://u:pw@127.0.0.1:9/x.git",
				       cache, &e),
			 -1);
	assert_non_null(strstr(e.msg, "Connection refused"));

	/* A token as user name is a secret too. */
	assert_int_equal(source_mirror(&path,
				       "https://s3cr3tt0ken@127.0.0.1:9/x.git",
				       cache, &e),
			 -1);
	assert_null(strstr(e.msg, "s3cr3tt0ken"));

	/* libgit2's own message names the URL it was given: scrubbed. */
	assert_int_equal(source_mirror(&path,
				       "file://user:hunter2@/nonexistent/x.git",
				       cache, &e),
			 -1);
	assert_null(strstr(e.msg, "hunter2"));
	assert_non_null(
		strstr(e.msg, "cannot fetch 'file:///nonexistent/x.git': "));
	assert_false(e.transient);

	/* A missing local path is said so, and is not worth retrying. */
	assert_int_equal(source_mirror(&path, "/nonexistent/x.git", cache, &e),
			 -1);
	assert_string_equal(e.msg, "cannot fetch '/nonexistent/x.git': No "
				   "such file or directory");
	assert_false(e.transient);
	SH_OK("test -z \"$(ls -A '%s')\"", cache);
}

/* --- main -------------------------------------------------------------- */

static int
group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	fmt(tmproot, sizeof(tmproot), "%s/press-watch-XXXXXX",
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
		sh("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", tmproot,
		   tmproot);
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
		"https_proxy",
		"HTTPS_PROXY",
		"http_proxy",
		"HTTP_PROXY",
		"all_proxy",
		"ALL_PROXY",
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dir_new_manifest_in_the_root_is_a_change),
		cmocka_unit_test(
			dir_other_files_dotfiles_and_temporaries_are_not),
		cmocka_unit_test(dir_new_nested_directory_is_watched_at_once),
		cmocka_unit_test(
			dir_editor_saves_are_a_change_their_temporaries_not),
		cmocka_unit_test(dir_deleted_manifest_or_directory_is_a_change),
		cmocka_unit_test(
			dir_moved_in_directory_is_a_change_and_watched),
		cmocka_unit_test(
			dir_moved_out_directory_is_a_change_and_forgotten),
		cmocka_unit_test(
			dir_moved_within_the_tree_is_watched_under_its_new_name),
		cmocka_unit_test(dir_symlinked_directories_are_not_followed),
		cmocka_unit_test(
			dir_queue_overflow_is_a_change_and_the_watcher_recovers),
		cmocka_unit_test(dir_root_replaced_is_watched_anew),
		cmocka_unit_test(dir_root_and_its_directory_gone_is_an_error),
		cmocka_unit_test(dir_root_given_as_dot_is_watched),
		cmocka_unit_test(file_root_replaced_by_rename_is_a_change),
		cmocka_unit_test(
			file_root_through_a_symlink_sees_its_target_replaced),
		cmocka_unit_test(open_errors_name_the_root),
		cmocka_unit_test(git_commit_in_a_work_tree_is_a_change),
		cmocka_unit_test(git_push_to_a_bare_repository_is_a_change),
		cmocka_unit_test(git_pack_refs_is_a_change),
		cmocka_unit_test(
			git_linked_work_tree_sees_shared_refs_and_its_head),
		cmocka_unit_test(
			git_irrelevant_files_in_the_git_directory_are_not),
		cmocka_unit_test(is_remote_tells_urls_from_paths),
		cmocka_unit_test(mirror_clones_fetches_and_prunes),
		cmocka_unit_test(mirror_fetch_wakes_a_git_watcher),
		cmocka_unit_test(mirror_errors_hide_credentials),
	};

	/* Hermetic git: nothing from the caller's repository or config. */
	for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++)
		unsetenv(scrub[i]);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_AUTHOR_NAME", "test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@example.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@example.invalid", 1);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
