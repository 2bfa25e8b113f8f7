/*
 * test_source.c - the source layer: directory walks, git trees at refs,
 * content revisions, and reading pushed commits from a pre-receive hook.
 *
 * Fixtures are built under a mkdtemp directory with the git CLI and
 * removed at the end. The binary doubles as the pre-receive hook helper
 * (`test_source --pre-receive-helper OUT`), so the quarantine test runs a
 * real `git push`.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "source/source.h"

static char self[PATH_MAX]; /* this binary, for the hook */
static char repo[PATH_MAX]; /* non-bare fixture repository */
static char bare[PATH_MAX]; /* bare clone of it */
static char c1[64], c2[64]; /* commit ids: v1 and main */

/* --- helpers --------------------------------------------------------- */

static void
mkdirs(const char *path)
{
	char buf[PATH_MAX];

	fmt(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", buf, strerror(errno));
}

/* Write dir/rel (creating directories) with the string content. */
static void
put(const char *dir, const char *rel, const char *content)
{
	char path[PATH_MAX], parent[PATH_MAX];
	char *slash;
	FILE *f;

	fmt(path, sizeof(path), "%s/%s", dir, rel);
	fmt(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	*slash = '\0';
	mkdirs(parent);
	f = fopen(path, "w");
	if (f == NULL)
		fail_msg("fopen %s: %s", path, strerror(errno));
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

static const char *
joinp(char out[PATH_MAX], const char *a, const char *b)
{
	fmt(out, PATH_MAX, "%s/%s", a, b);
	return out;
}

static void
load_dir_ok(struct source *src, const char *root)
{
	struct err e = { .msg = "" };

	if (source_load_dir(src, root, &e) < 0)
		fail_msg("source_load_dir(%s): %s", root, e.msg);
}

static void
load_git_ok(struct source *src, const char *r, const char *ref,
	    const char *subdir)
{
	struct err e = { .msg = "" };

	if (source_load_git(src, r, ref, subdir, &e) < 0)
		fail_msg("source_load_git(%s, %s, %s): %s", r ? r : "NULL",
			 ref ? ref : "NULL", subdir ? subdir : "NULL", e.msg);
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* --- directory sources ----------------------------------------------- */

static void
dir_files_are_sorted_bytewise(void **state)
{
	static const char *const want[] = {
		"B.yaml",  "a-b.yaml", "a.yml",	     "a/x.yaml",
		"a0.yaml", "b.yaml",   "z/y/w.yaml",
	};
	struct source src;
	char d[PATH_MAX], p[PATH_MAX];

	(void)state;
	newdir(d);
	/* Created in an order unrelated to the expected one. */
	put(d, "z/y/w.yaml", "z\n");
	put(d, "b.yaml", "b\n");
	put(d, "a0.yaml", "a0\n");
	put(d, "a/x.yaml", "ax\n");
	put(d, "a.yml", "a\n");
	put(d, "a-b.yaml", "ab\n");
	put(d, "B.yaml", "B\n");

	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 7);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(src.files[i].path, joinp(p, d, want[i]));
	assert_string_equal(src.label, d);
	source_release(&src);
}

static void
dir_reads_nested_files_with_their_content(void **state)
{
	struct source src;
	char d[PATH_MAX], p[PATH_MAX];

	(void)state;
	newdir(d);
	put(d, "one/two/three/deep.yaml", "kind: Site\n");
	put(d, "top.yml", "");

	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 2);
	assert_string_equal(src.files[0].path,
			    joinp(p, d, "one/two/three/deep.yaml"));
	assert_int_equal(src.files[0].len, 11);
	assert_memory_equal(src.files[0].data, "kind: Site\n", 12);
	assert_string_equal(src.files[1].path, joinp(p, d, "top.yml"));
	assert_int_equal(src.files[1].len, 0);
	assert_int_equal(src.files[1].data[0], '\0');
	source_release(&src);
}

static void
dir_ignores_files_that_are_not_manifests(void **state)
{
	struct source src;
	char d[PATH_MAX], p[PATH_MAX];

	(void)state;
	newdir(d);
	put(d, "README.md", "x");
	put(d, "x.json", "{}");
	put(d, "x.yaml.bak", "x");
	put(d, "x.YAML", "x");
	put(d, "yaml", "x");
	put(d, "sub/notes.txt", "x");
	put(d, "sub/real.yaml", "x");

	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.files[0].path, joinp(p, d, "sub/real.yaml"));
	source_release(&src);
}

static void
dir_skips_dotted_entries(void **state)
{
	struct source src;
	char d[PATH_MAX], p[PATH_MAX];

	(void)state;
	newdir(d);
	put(d, ".git/config.yaml", "x");
	put(d, ".press/state.yaml", "x");
	put(d, ".hidden.yaml", "x");
	put(d, "sub/.cache/y.yaml", "x");
	put(d, "sub/.y.yml", "x");
	put(d, "sub/ok.yaml", "x");

	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.files[0].path, joinp(p, d, "sub/ok.yaml"));
	source_release(&src);
}

static void
dir_reads_symlinked_files_but_not_symlinked_dirs(void **state)
{
	struct source src;
	char d[PATH_MAX], other[PATH_MAX], p[PATH_MAX], q[PATH_MAX];

	(void)state;
	newdir(d);
	newdir(other);
	put(other, "elsewhere.yaml", "linked\n");
	put(other, "dir/inside.yaml", "x");
	put(d, "real.yaml", "real\n");
	assert_int_equal(symlink(joinp(p, other, "elsewhere.yaml"),
				 joinp(q, d, "link.yaml")),
			 0);
	assert_int_equal(symlink(joinp(p, other, "dir"),
				 joinp(q, d, "linkdir")),
			 0);
	/* Loops: followed, they would never end. */
	assert_int_equal(symlink("..", joinp(p, d, "loop")), 0);
	assert_int_equal(symlink(".", joinp(p, d, "self.yaml")), 0);

	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 2);
	assert_string_equal(src.files[0].path, joinp(p, d, "link.yaml"));
	assert_string_equal(src.files[0].data, "linked\n");
	assert_string_equal(src.files[1].path, joinp(p, d, "real.yaml"));
	source_release(&src);
}

static void
dir_dangling_manifest_symlink_is_an_error(void **state)
{
	struct source src;
	struct err e = { .msg = "" };
	char d[PATH_MAX], p[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	newdir(d);
	assert_int_equal(symlink("/nonexistent/x.yaml",
				 joinp(p, d, "gone.yaml")),
			 0);
	source_init(&src);
	assert_int_equal(source_load_dir(&src, d, &e), -1);
	fmt(want, sizeof(want),
	    "cannot read '%s/gone.yaml': No such "
	    "file or directory",
	    d);
	assert_string_equal(e.msg, want);
	assert_int_equal(src.nfiles, 0);
	source_release(&src);
}

static void
dir_skips_fifos_without_blocking(void **state)
{
	struct source src;
	char d[PATH_MAX], p[PATH_MAX];

	(void)state;
	newdir(d);
	assert_int_equal(mkfifo(joinp(p, d, "pipe.yaml"), 0644), 0);
	put(d, "x.yaml", "x");
	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.files[0].path, joinp(p, d, "x.yaml"));
	source_release(&src);
}

static void
make_sized(const char *path, size_t size)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), (off_t)size), 0);
	assert_int_equal(fclose(f), 0);
}

static void
dir_file_over_the_cap_is_an_error(void **state)
{
	struct source src;
	struct err e = { .msg = "" };
	char d[PATH_MAX], p[PATH_MAX], want[PATH_MAX + 128];

	(void)state;
	newdir(d);
	/* Exactly at the cap is fine. */
	make_sized(joinp(p, d, "max.yaml"), SOURCE_MAX_FILE_BYTES);
	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 1);
	assert_int_equal(src.files[0].len, SOURCE_MAX_FILE_BYTES);

	/* One byte more is an error naming the file and the limit, and the
	 * source loaded before is left as it was. */
	make_sized(joinp(p, d, "max.yaml"), SOURCE_MAX_FILE_BYTES + 1);
	assert_int_equal(source_load_dir(&src, d, &e), -1);
	fmt(want, sizeof(want),
	    "file '%s/max.yaml' is too large "
	    "(16777217 bytes; the limit is 16 MiB): split it into "
	    "smaller files",
	    d);
	assert_string_equal(e.msg, want);
	assert_int_equal(src.nfiles, 1);
	assert_int_equal(src.files[0].len, SOURCE_MAX_FILE_BYTES);
	source_release(&src);
}

static void
dir_root_may_be_a_single_file(void **state)
{
	struct source src;
	char d[PATH_MAX], p[PATH_MAX];

	(void)state;
	newdir(d);
	put(d, "one.txt", "kind: Platform\n");
	put(d, "other.yaml", "x");
	source_init(&src);
	load_dir_ok(&src, joinp(p, d, "one.txt"));
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.files[0].path, p);
	assert_string_equal(src.files[0].data, "kind: Platform\n");
	assert_string_equal(src.label, p);
	assert_true(starts_with(src.revision, "sha256:"));
	source_release(&src);
}

static void
dir_missing_root_is_an_error_naming_it(void **state)
{
	struct source src;
	struct err e = { .msg = "" };
	char d[PATH_MAX], p[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	newdir(d);
	source_init(&src);
	assert_int_equal(source_load_dir(&src, joinp(p, d, "nope"), &e), -1);
	fmt(want, sizeof(want),
	    "cannot read source '%s': No such file "
	    "or directory",
	    p);
	assert_string_equal(e.msg, want);
	assert_null(src.files);
	assert_null(src.revision);
	source_release(&src);
}

/*
 * Helper mode: load dir (as nobody when run as root, since root reads
 * everything) and print the error message or the file count. A separate
 * process via exec, so that valgrind does not follow it.
 */
static int
load_dir_helper(const char *dir)
{
	struct source src;
	struct err e = { .msg = "" };

	if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		return 2;
	source_init(&src);
	if (source_load_dir(&src, dir, &e) == 0)
		printf("loaded %zu files\n", src.nfiles);
	else
		printf("%s\n", e.msg);
	source_release(&src);
	return 0;
}

static void
dir_unreadable_subdir_is_an_error(void **state)
{
	char d[PATH_MAX], p[PATH_MAX], want[PATH_MAX + 64], got[PATH_MAX + 64];

	(void)state;
	newdir(d);
	put(d, "locked/x.yaml", "x");
	assert_int_equal(chmod(joinp(p, d, "locked"), 0), 0);
	assert_int_equal(chmod(tmproot, 0755), 0);
	sh_line(got, sizeof(got), "'%s' --load-dir-helper '%s'", self, d);
	assert_int_equal(chmod(tmproot, 0700), 0);
	assert_int_equal(chmod(p, 0755), 0);
	fmt(want, sizeof(want),
	    "cannot read directory '%s/locked': "
	    "Permission denied",
	    d);
	assert_string_equal(got, want);
}

static void
dir_shown_paths_follow_the_root_as_given(void **state)
{
	struct source src;
	char d[PATH_MAX], p[PATH_MAX], cwd[PATH_MAX];

	(void)state;
	newdir(d);
	put(d, "x.yaml", "x");
	put(d, "sub/y.yaml", "y");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);

	source_init(&src);
	load_dir_ok(&src, ".");
	assert_int_equal(src.nfiles, 2);
	assert_string_equal(src.files[0].path, "sub/y.yaml");
	assert_string_equal(src.files[1].path, "x.yaml");
	assert_string_equal(src.label, ".");

	load_dir_ok(&src, "./");
	assert_string_equal(src.files[1].path, "x.yaml");
	assert_string_equal(src.label, "./");

	load_dir_ok(&src, "sub");
	assert_string_equal(src.files[0].path, "sub/y.yaml");
	load_dir_ok(&src, "sub//");
	assert_string_equal(src.files[0].path, "sub/y.yaml");
	load_dir_ok(&src, "./sub");
	assert_string_equal(src.files[0].path, "./sub/y.yaml");
	assert_int_equal(chdir(cwd), 0);

	fmt(p, sizeof(p), "%s/", d);
	load_dir_ok(&src, p);
	assert_string_equal(src.files[1].path, joinp(p, d, "x.yaml"));
	source_release(&src);
}

static void
dir_revision_depends_on_content_only(void **state)
{
	struct source src;
	char d[PATH_MAX], p[PATH_MAX], q[PATH_MAX], rev1[128], rev2[128];

	(void)state;
	newdir(d);
	put(d, "a.yaml", "alpha\n");
	put(d, "b/c.yaml", "gamma\n");
	put(d, "d.yml", "delta\n");
	source_init(&src);
	load_dir_ok(&src, d);
	assert_true(starts_with(src.revision, "sha256:"));
	assert_int_equal(strlen(src.revision), 7 + 64);
	fmt(rev1, sizeof(rev1), "%s", src.revision);

	/* Rewritten with identical content, in another order (so that
	 * readdir order and timestamps change): the same revision. */
	assert_int_equal(sh("rm -rf '%s'/*", d), 0);
	put(d, "d.yml", "delta\n");
	put(d, "b/c.yaml", "gamma\n");
	put(d, "a.yaml", "alpha\n");
	put(d, "ignored.txt", "not a manifest\n");
	load_dir_ok(&src, d);
	assert_string_equal(src.revision, rev1);

	/* One byte changed: another revision. */
	put(d, "b/c.yaml", "gamma!\n");
	load_dir_ok(&src, d);
	fmt(rev2, sizeof(rev2), "%s", src.revision);
	assert_string_not_equal(rev2, rev1);

	/* Same bytes under another name: another revision. */
	put(d, "b/c.yaml", "gamma\n");
	assert_int_equal(rename(joinp(p, d, "a.yaml"), joinp(q, d, "a2.yaml")),
			 0);
	load_dir_ok(&src, d);
	assert_string_not_equal(src.revision, rev1);

	/* Content moved between files: another revision. */
	assert_int_equal(rename(joinp(p, d, "a2.yaml"), joinp(q, d, "a.yaml")),
			 0);
	put(d, "a.yaml", "alpha\ndelta\n");
	put(d, "d.yml", "");
	load_dir_ok(&src, d);
	assert_string_not_equal(src.revision, rev1);
	source_release(&src);
}

static void
dir_revision_does_not_depend_on_the_root_spelling(void **state)
{
	static const char *const roots[] = { "sub", "sub/", "./sub", "sub//" };
	struct source src, mem;
	struct err e = { .msg = "" };
	char d[PATH_MAX], p[PATH_MAX], cwd[PATH_MAX], rev[128];

	(void)state;
	newdir(d);
	put(d, "sub/x.yaml", "x: 1\n");
	put(d, "sub/deeper/y.yaml", "y: 2\n");
	source_init(&src);
	load_dir_ok(&src, joinp(p, d, "sub"));
	fmt(rev, sizeof(rev), "%s", src.revision);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		load_dir_ok(&src, roots[i]);
		assert_string_equal(src.revision, rev);
	}
	assert_int_equal(chdir("sub"), 0);
	load_dir_ok(&src, ".");
	assert_string_equal(src.revision, rev);
	/* The same as the in-memory files with paths relative to the root. */
	source_init(&mem);
	assert_int_equal(source_add(&mem, "x.yaml", "x: 1\n", 5, &e), 0);
	assert_int_equal(source_add(&mem, "deeper/y.yaml", "y: 2\n", 5, &e), 0);
	assert_string_equal(mem.revision, rev);
	source_release(&mem);

	/* A single-file root: its base name counts, not the way to it. */
	load_dir_ok(&src, "x.yaml");
	fmt(rev, sizeof(rev), "%s", src.revision);
	assert_int_equal(chdir(cwd), 0);
	load_dir_ok(&src, joinp(p, d, "sub/x.yaml"));
	assert_string_equal(src.revision, rev);
	source_release(&src);
}

static void
dir_empty_is_not_an_error(void **state)
{
	struct source src;
	char d[PATH_MAX];

	(void)state;
	newdir(d);
	put(d, "README.md", "nothing here\n");
	source_init(&src);
	load_dir_ok(&src, d);
	assert_int_equal(src.nfiles, 0);
	assert_non_null(src.revision);
	assert_string_equal(src.label, d);
	source_release(&src);
}

/* --- in-memory sources ----------------------------------------------- */

static void
add_keeps_files_sorted_and_matches_a_dir_load(void **state)
{
	struct source mem, disk;
	struct err e = { .msg = "" };
	char d[PATH_MAX], cwd[PATH_MAX];

	(void)state;
	source_init(&mem);
	assert_int_equal(source_add(&mem, "m/z.yaml", "z: 1\n", 5, &e), 0);
	assert_int_equal(source_add(&mem, "a.yaml", "a: 1\n", 5, &e), 0);
	assert_int_equal(source_add(&mem, "m-x.yml", "", 0, &e), 0);
	assert_int_equal(mem.nfiles, 3);
	assert_string_equal(mem.files[0].path, "a.yaml");
	assert_string_equal(mem.files[1].path, "m-x.yml");
	assert_string_equal(mem.files[2].path, "m/z.yaml");
	assert_string_equal(mem.files[2].data, "z: 1\n");
	assert_non_null(mem.files[1].data);

	assert_int_equal(source_add(&mem, "a.yaml", "again", 5, &e), -1);
	assert_string_equal(e.msg, "duplicate file 'a.yaml'");
	assert_int_equal(source_add(&mem, "big.yaml", "",
				    SOURCE_MAX_FILE_BYTES + 1, &e),
			 -1);
	assert_non_null(strstr(e.msg, "'big.yaml' is too large"));
	assert_int_equal(mem.nfiles, 3);

	/* The same files read from disk carry the same revision. */
	newdir(d);
	put(d, "m/z.yaml", "z: 1\n");
	put(d, "a.yaml", "a: 1\n");
	put(d, "m-x.yml", "");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	source_init(&disk);
	load_dir_ok(&disk, ".");
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(disk.revision, mem.revision);

	/* Recomputing is idempotent. */
	source_hash_revision(&disk);
	assert_string_equal(disk.revision, mem.revision);
	source_release(&disk);
	source_release(&mem);
	source_release(&mem); /* released twice: still fine */
}

static void
manifest_names_are_yaml_and_yml(void **state)
{
	(void)state;
	assert_true(source_is_manifest_name("a.yaml"));
	assert_true(source_is_manifest_name("a.yml"));
	assert_true(source_is_manifest_name("dir/a.b.yaml"));
	assert_false(source_is_manifest_name("a.yaml.bak"));
	assert_false(source_is_manifest_name("a.YAML"));
	assert_false(source_is_manifest_name("a.json"));
	assert_false(source_is_manifest_name("yaml"));
	assert_false(source_is_manifest_name(".yaml"));
	assert_false(source_is_manifest_name(".yml"));
	assert_false(source_is_manifest_name(""));
}

/* --- git sources ----------------------------------------------------- */

/*
 * The fixture repository:
 *   v1 (tag, annotated) = c1: top.yaml, README.md, .press/x.yaml,
 *       manifests/platform.yaml ("version: 1"), manifests/notes.txt,
 *       manifests/sites/acme.yml
 *   main = c2: platform.yaml says "version: 2"; manifests/vendor.yaml
 *       is a submodule (a commit in the tree)
 *   branch with-link: manifests/link.yaml is a symlink
 *   branch big: manifests/big.yaml is one byte over the cap
 */
static void
build_git_fixture(void)
{
	fmt(repo, sizeof(repo), "%s/repo", tmproot);
	fmt(bare, sizeof(bare), "%s/bare.git", tmproot);
	assert_int_equal(sh("git init -q -b main '%s'", repo), 0);
	put(repo, "top.yaml", "kind: Top\n");
	put(repo, "README.md", "# config\n");
	put(repo, ".press/x.yaml", "hidden\n");
	put(repo, "manifests/platform.yaml", "version: 1\n");
	put(repo, "manifests/notes.txt", "notes\n");
	put(repo, "manifests/sites/acme.yml", "kind: Site\n");
	assert_int_equal(sh("cd '%s' && git add -A && git commit -qm one && "
			    "git tag -a -m v1 v1",
			    repo),
			 0);
	put(repo, "manifests/platform.yaml", "version: 2\n");
	assert_int_equal(sh("cd '%s' && git add -A && "
			    "git update-index --add --cacheinfo "
			    "160000,1111111111111111111111111111111111111111,"
			    "manifests/vendor.yaml && git commit -qm two",
			    repo),
			 0);
	assert_int_equal(sh("cd '%s' && git checkout -qb with-link && "
			    "ln -s platform.yaml manifests/link.yaml && "
			    "git add -A && git commit -qm link && "
			    "git checkout -qb big main && "
			    "head -c 16777217 /dev/zero > manifests/big.yaml && "
			    "git add -A && git commit -qm big && "
			    "git checkout -q main",
			    repo),
			 0);
	assert_int_equal(sh("git clone -q --bare '%s' '%s'", repo, bare), 0);
	sh_line(c1, sizeof(c1), "git -C '%s' rev-parse 'v1^{commit}'", repo);
	sh_line(c2, sizeof(c2), "git -C '%s' rev-parse main", repo);
	assert_int_equal(strlen(c1), 40);
	assert_int_equal(strlen(c2), 40);
}

static void
git_reads_a_branch(void **state)
{
	struct source src;
	char label[PATH_MAX + 16];

	(void)state;
	source_init(&src);
	load_git_ok(&src, repo, "main", NULL);
	/* Not README.md or notes.txt (names), not .press (dotted), not
	 * vendor.yaml (a submodule). */
	assert_int_equal(src.nfiles, 3);
	assert_string_equal(src.files[0].path, "manifests/platform.yaml");
	assert_string_equal(src.files[0].data, "version: 2\n");
	assert_int_equal(src.files[0].len, 11);
	assert_string_equal(src.files[1].path, "manifests/sites/acme.yml");
	assert_string_equal(src.files[2].path, "top.yaml");
	assert_string_equal(src.revision, c2);
	fmt(label, sizeof(label), "%s@main", repo);
	assert_string_equal(src.label, label);
	source_release(&src);
}

static void
git_reads_a_tag_and_a_parent(void **state)
{
	struct source src;

	(void)state;
	source_init(&src);
	load_git_ok(&src, repo, "v1", NULL);
	assert_string_equal(src.revision, c1); /* peeled to the commit */
	assert_int_equal(src.nfiles, 3);
	assert_string_equal(src.files[0].data, "version: 1\n");

	load_git_ok(&src, repo, "HEAD~1", NULL);
	assert_string_equal(src.revision, c1);
	assert_string_equal(src.files[0].data, "version: 1\n");

	load_git_ok(&src, repo, c1, NULL); /* a full commit id */
	assert_string_equal(src.revision, c1);

	load_git_ok(&src, repo, NULL, NULL); /* HEAD by default */
	assert_string_equal(src.revision, c2);
	source_release(&src);
}

static void
git_reads_a_subdir_with_repo_relative_paths(void **state)
{
	struct source src;

	(void)state;
	source_init(&src);
	load_git_ok(&src, repo, "main", "manifests");
	assert_int_equal(src.nfiles, 2);
	assert_string_equal(src.files[0].path, "manifests/platform.yaml");
	assert_string_equal(src.files[1].path, "manifests/sites/acme.yml");

	load_git_ok(&src, repo, "main", "./manifests/");
	assert_int_equal(src.nfiles, 2);
	load_git_ok(&src, repo, "main", "manifests/sites");
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.files[0].path, "manifests/sites/acme.yml");

	/* A file, like a file given as a directory source. */
	load_git_ok(&src, repo, "main", "README.md");
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.files[0].path, "README.md");
	assert_string_equal(src.revision, c2);

	load_git_ok(&src, repo, "main", ".");
	assert_int_equal(src.nfiles, 3);
	source_release(&src);
}

static void
git_missing_ref_is_an_error(void **state)
{
	struct source src;
	struct err e = { .msg = "" };
	char want[PATH_MAX + 64];

	(void)state;
	source_init(&src);
	assert_int_equal(source_load_git(&src, repo, "nope", NULL, &e), -1);
	fmt(want, sizeof(want), "cannot resolve 'nope' in '%s': ", repo);
	if (!starts_with(e.msg, want))
		fail_msg("unexpected message: %s", e.msg);
	assert_true(strlen(e.msg) > strlen(want)); /* libgit2's reason */
	assert_int_equal(src.nfiles, 0);
	assert_null(src.revision);
	source_release(&src);
}

static void
git_missing_subdir_is_an_error(void **state)
{
	struct source src;
	struct err e = { .msg = "" };

	(void)state;
	source_init(&src);
	assert_int_equal(source_load_git(&src, repo, "main", "nope", &e), -1);
	assert_string_equal(e.msg, "path 'nope' not found at main");
	assert_int_equal(source_load_git(&src, repo, "v1", "manifests/x/", &e),
			 -1);
	assert_string_equal(e.msg, "path 'manifests/x' not found at v1");
	/* The submodule is not a directory to read. */
	assert_int_equal(source_load_git(&src, repo, "main",
					 "manifests/vendor.yaml", &e),
			 -1);
	assert_string_equal(e.msg, "path 'manifests/vendor.yaml' at main is "
				   "not a directory or a file");
	source_release(&src);
}

static void
git_missing_repository_is_an_error(void **state)
{
	struct source src;
	struct err e = { .msg = "" };
	char d[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	newdir(d);
	source_init(&src);
	assert_int_equal(source_load_git(&src, d, "main", NULL, &e), -1);
	fmt(want, sizeof(want), "cannot open repository '%s': ", d);
	if (!starts_with(e.msg, want))
		fail_msg("unexpected message: %s", e.msg);
	source_release(&src);
}

/* source_git_dir finds a repository as source_load_git does. */
static void
git_dir_is_found_as_the_tree_is(void **state)
{
	struct err e = { .msg = "" };
	char want[PATH_MAX + 8], sub[PATH_MAX + 16], cwd[PATH_MAX];
	char *dir = NULL;

	(void)state;
	fmt(want, sizeof(want), "%s/.git", repo);
	assert_int_equal(source_git_dir(&dir, repo, &e), 0);
	assert_string_equal(dir, want);
	free(dir);
	assert_int_equal(source_git_dir(&dir, bare, &e), 0);
	assert_string_equal(dir, bare);
	free(dir);

	/* "." from a subdirectory of the work tree, as git finds it. */
	fmt(sub, sizeof(sub), "%s/manifests", repo);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(sub), 0);
	assert_int_equal(source_git_dir(&dir, ".", &e), 0);
	assert_string_equal(dir, want);
	free(dir);
	/* In a git hook: NULL or "." is the repository of GIT_DIR. */
	setenv("GIT_DIR", bare, 1);
	assert_int_equal(source_git_dir(&dir, NULL, &e), 0);
	assert_string_equal(dir, bare);
	free(dir);
	assert_int_equal(source_git_dir(&dir, ".", &e), 0);
	assert_string_equal(dir, bare);
	free(dir);
	unsetenv("GIT_DIR");
	assert_int_equal(chdir(cwd), 0);

	assert_int_equal(source_git_dir(&dir, sub, &e), -1);
	assert_null(dir);
	assert_non_null(strstr(e.msg, "cannot open repository"));
}

static void
git_reads_a_bare_repository(void **state)
{
	struct source src;

	(void)state;
	source_init(&src);
	load_git_ok(&src, bare, "main", "manifests");
	assert_int_equal(src.nfiles, 2);
	assert_string_equal(src.files[0].data, "version: 2\n");
	assert_string_equal(src.revision, c2);
	load_git_ok(&src, bare, "v1", NULL);
	assert_string_equal(src.revision, c1);
	source_release(&src);
}

static void
git_symlinked_manifest_is_an_error(void **state)
{
	struct source src;
	struct err e = { .msg = "" };

	(void)state;
	source_init(&src);
	assert_int_equal(source_load_git(&src, repo, "with-link", NULL, &e),
			 -1);
	assert_string_equal(e.msg,
			    "'manifests/link.yaml' at with-link is a "
			    "symbolic link: git sources need the manifest "
			    "itself in the tree");
	source_release(&src);
}

static void
git_blob_over_the_cap_is_an_error(void **state)
{
	struct source src;
	struct err e = { .msg = "" };

	(void)state;
	source_init(&src);
	assert_int_equal(source_load_git(&src, repo, "big", "manifests", &e),
			 -1);
	assert_string_equal(e.msg,
			    "file 'manifests/big.yaml' at big is too "
			    "large (16777217 bytes; the limit is 16 MiB): "
			    "split it into smaller files");
	source_release(&src);
}

/*
 * A commit whose objects live only in a separate object directory, the
 * way a pre-receive hook sees a push. Returns its id in out.
 */
static void
make_quarantined_commit(char out[64], const char *qdir)
{
	mkdirs(qdir);
	sh_line(out, 64,
		"cd '%s' && export GIT_OBJECT_DIRECTORY='%s' "
		"GIT_ALTERNATE_OBJECT_DIRECTORIES='%s/.git/objects' && "
		"b=$(printf 'kind: Quarantined\\n' | git hash-object -w --stdin) "
		"&& t=$(printf '100644 blob %%s\\tq.yaml\\n' $b | git mktree) && "
		"git commit-tree $t -p main -m q",
		repo, qdir, repo);
	assert_int_equal(strlen(out), 40);
	/* Really not in the repository itself. */
	assert_int_not_equal(sh("git -C '%s' cat-file -e %s 2>/dev/null", repo,
				out),
			     0);
}

static void
git_honors_object_directories_from_the_environment(void **state)
{
	struct source src;
	struct err e = { .msg = "" };
	char q[PATH_MAX], id[64], alts[PATH_MAX + 16], gitdir[PATH_MAX + 8];

	(void)state;
	fmt(q, sizeof(q), "%s/quarantine", tmproot);
	make_quarantined_commit(id, q);
	fmt(alts, sizeof(alts), "%s/.git/objects", repo);
	fmt(gitdir, sizeof(gitdir), "%s/.git", repo);
	source_init(&src);

	/* Without the variables the commit is invisible. */
	assert_int_equal(source_load_git(&src, repo, id, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "cannot resolve"));

	/* An explicit path, with the hook's variables. */
	setenv("GIT_OBJECT_DIRECTORY", q, 1);
	setenv("GIT_ALTERNATE_OBJECT_DIRECTORIES", alts, 1);
	load_git_ok(&src, repo, id, NULL);
	assert_int_equal(src.nfiles, 1);
	assert_string_equal(src.files[0].path, "q.yaml");
	assert_string_equal(src.files[0].data, "kind: Quarantined\n");
	assert_string_equal(src.revision, id);

	/* Only GIT_OBJECT_DIRECTORY: the repository's own objects stay
	 * visible too. */
	unsetenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	load_git_ok(&src, repo, id, NULL);
	assert_string_equal(src.revision, id);
	load_git_ok(&src, repo, "main", NULL);
	assert_string_equal(src.revision, c2);

	/* No path, GIT_DIR set: opened from the environment as git does. */
	setenv("GIT_ALTERNATE_OBJECT_DIRECTORIES", alts, 1);
	setenv("GIT_DIR", gitdir, 1);
	load_git_ok(&src, NULL, id, NULL);
	assert_string_equal(src.revision, id);
	assert_string_equal(src.files[0].data, "kind: Quarantined\n");
	load_git_ok(&src, ".", id, NULL);
	assert_string_equal(src.revision, id);

	unsetenv("GIT_DIR");
	unsetenv("GIT_OBJECT_DIRECTORY");
	unsetenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	source_release(&src);
}

/*
 * The hook helper: reads "old new ref" lines from stdin and, for each,
 * loads the pushed commit three ways (from the environment, as ".", and
 * by absolute path), then once more without the object variables to show
 * that the quarantine is real. Writes a report to out; exit 0 accepts.
 */
static int
pre_receive_helper(const char *outpath)
{
	char old[64], new[64], ref[256], cwd[PATH_MAX];
	struct source src;
	struct err e = { .msg = "" };
	FILE *out = fopen(outpath, "w");
	int ok = 1;

	if (out == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
		return 1;
	source_init(&src);
	fprintf(out, "quarantine=%d\n", getenv("GIT_QUARANTINE_PATH") != NULL);
	while (scanf("%63s %63s %255s", old, new, ref) == 3) {
		const char *ways[] = { NULL, ".", cwd };

		for (int i = 0; i < 3; i++) {
			if (source_load_git(&src, ways[i], new, NULL, &e) < 0) {
				fprintf(out, "error %s\n", e.msg);
				ok = 0;
				continue;
			}
			fprintf(out, "ok %s %zu %s\n", src.revision, src.nfiles,
				src.nfiles ? src.files[0].path : "-");
		}
		unsetenv("GIT_OBJECT_DIRECTORY");
		unsetenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
		fprintf(out, "plain=%s\n",
			source_load_git(&src, cwd, new, NULL, &e) < 0 ?
				"fails" :
				"ok");
	}
	source_release(&src);
	fclose(out);
	return ok ? 0 : 1;
}

static void
git_pre_receive_hook_reads_the_pushed_commit(void **state)
{
	char target[PATH_MAX], report[PATH_MAX], id[64], want[512];
	char all[2048];
	size_t n;
	FILE *f;

	(void)state;
	fmt(target, sizeof(target), "%s/push-target.git", tmproot);
	fmt(report, sizeof(report), "%s/hook-report", tmproot);
	assert_int_equal(sh("git clone -q --bare '%s' '%s'", repo, target), 0);
	assert_int_equal(sh("printf '#!/bin/sh\\nexec \"%s\" "
			    "--pre-receive-helper \"%s\"\\n' > '%s/hooks/"
			    "pre-receive' && chmod +x '%s/hooks/pre-receive'",
			    self, report, target, target),
			 0);
	/* A new commit, so the push carries objects the target lacks. */
	assert_int_equal(sh("cd '%s' && git checkout -qb pushed main && "
			    "mkdir -p manifests/new && printf 'kind: New\\n' > "
			    "manifests/new/env.yaml && git add -A && "
			    "git commit -qm pushed && git checkout -q main",
			    repo),
			 0);
	sh_line(id, sizeof(id), "git -C '%s' rev-parse pushed", repo);

	assert_int_equal(sh("git -C '%s' push -q '%s' pushed 2>/dev/null", repo,
			    target),
			 0);
	f = fopen(report, "r");
	assert_non_null(f);
	n = fread(all, 1, sizeof(all) - 1, f);
	all[n] = '\0';
	fclose(f);
	fmt(want, sizeof(want),
	    "quarantine=1\n"
	    "ok %s 4 manifests/new/env.yaml\n"
	    "ok %s 4 manifests/new/env.yaml\n"
	    "ok %s 4 manifests/new/env.yaml\n"
	    "plain=fails\n",
	    id, id, id);
	assert_string_equal(all, want);
	/* Accepted: the ref now exists in the target. */
	assert_int_equal(sh("git -C '%s' cat-file -e %s", target, id), 0);
}

/* --- main ------------------------------------------------------------ */

static int
group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	fmt(tmproot, sizeof(tmproot), "%s/press-source-XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(tmproot) == NULL)
		return -1;
	build_git_fixture();
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
main(int argc, char **argv)
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
		cmocka_unit_test(dir_files_are_sorted_bytewise),
		cmocka_unit_test(dir_reads_nested_files_with_their_content),
		cmocka_unit_test(dir_ignores_files_that_are_not_manifests),
		cmocka_unit_test(dir_skips_dotted_entries),
		cmocka_unit_test(
			dir_reads_symlinked_files_but_not_symlinked_dirs),
		cmocka_unit_test(dir_dangling_manifest_symlink_is_an_error),
		cmocka_unit_test(dir_skips_fifos_without_blocking),
		cmocka_unit_test(dir_file_over_the_cap_is_an_error),
		cmocka_unit_test(dir_root_may_be_a_single_file),
		cmocka_unit_test(dir_missing_root_is_an_error_naming_it),
		cmocka_unit_test(dir_unreadable_subdir_is_an_error),
		cmocka_unit_test(dir_shown_paths_follow_the_root_as_given),
		cmocka_unit_test(dir_revision_depends_on_content_only),
		cmocka_unit_test(
			dir_revision_does_not_depend_on_the_root_spelling),
		cmocka_unit_test(dir_empty_is_not_an_error),
		cmocka_unit_test(add_keeps_files_sorted_and_matches_a_dir_load),
		cmocka_unit_test(manifest_names_are_yaml_and_yml),
		cmocka_unit_test(git_reads_a_branch),
		cmocka_unit_test(git_reads_a_tag_and_a_parent),
		cmocka_unit_test(git_reads_a_subdir_with_repo_relative_paths),
		cmocka_unit_test(git_missing_ref_is_an_error),
		cmocka_unit_test(git_missing_subdir_is_an_error),
		cmocka_unit_test(git_missing_repository_is_an_error),
		cmocka_unit_test(git_dir_is_found_as_the_tree_is),
		cmocka_unit_test(git_reads_a_bare_repository),
		cmocka_unit_test(git_symlinked_manifest_is_an_error),
		cmocka_unit_test(git_blob_over_the_cap_is_an_error),
		cmocka_unit_test(
			git_honors_object_directories_from_the_environment),
		cmocka_unit_test(git_pre_receive_hook_reads_the_pushed_commit),
	};

	if (argc == 3 && strcmp(argv[1], "--pre-receive-helper") == 0)
		return pre_receive_helper(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--load-dir-helper") == 0)
		return load_dir_helper(argv[2]);

	/* Hermetic git: nothing from the caller's repository or config. */
	for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++)
		unsetenv(scrub[i]);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_AUTHOR_NAME", "test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@example.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@example.invalid", 1);
	if (realpath(argv[0], self) == NULL) {
		fprintf(stderr, "cannot resolve '%s': %s\n", argv[0],
			strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
