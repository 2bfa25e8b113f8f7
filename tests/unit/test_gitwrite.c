/*
 * test_gitwrite.c - writing commits to a config repository and pushing
 * them (source/gitwrite.h).
 *
 * Repositories are made with libgit2 (git_repository_init) under a
 * mkdtemp directory. What a commit left is read back with libgit2 (the
 * tree, the parent, the message, the trailers by git_message_trailers)
 * and cross-checked with the git CLI where it has a say (git log's
 * trailers, git status, git fsck). The tests that kill a writer at a
 * given moment need a test build (PRESSCTL_TEST_WAIT) and are skipped
 * otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
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
#include <git2.h>

#include "testutil.h"

#include "source/gitwrite.h"
#include "util/testhook.h"

#define NOW_TEXT "2026-12-01T12:00:00Z"
#define NOW_UNIX 1796126400

static const char env_a[] = "kind: Environment\n"
			    "metadata: {name: production}\n"
			    "spec:\n"
			    "  site: acme\n"
			    "  image: erp:1\n";
static const char env_b[] = "kind: Environment\n"
			    "metadata: {name: production}\n"
			    "spec:\n"
			    "  site: acme\n"
			    "  image: erp:2\n";

/* --- fixtures ---------------------------------------------------------- */

static void
git_ok(int rc, const char *what)
{
	if (rc < 0) {
		const git_error *ge = git_error_last();

		fail_msg("%s: %s", what, ge && ge->message ? ge->message : "?");
	}
}

static void
write_file(const char *dir, const char *rel, const char *content)
{
	char path[PATH_MAX];
	FILE *f;

	fmt(path, sizeof(path), "%s/%s", dir, rel);
	SH_OK("mkdir -p \"$(dirname '%s')\"", path);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

static char *
read_file(const char *dir, const char *rel)
{
	char path[PATH_MAX];
	char *buf = calloc(1, 65536);
	FILE *f;

	fmt(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	if (f == NULL) {
		free(buf);
		return NULL;
	}
	assert_true(fread(buf, 1, 65535, f) < 65535);
	fclose(f);
	return buf;
}

/*
 * A new work tree at dir on branch main, with one commit holding the
 * files (path, content pairs, NULL-terminated), made through the index
 * as git does; "x" in a path's mode marks it executable.
 */
static void
seed(const char *dir, ...)
{
	git_repository_init_options o;
	git_repository *r;
	git_index *idx;
	git_signature *sig;
	git_oid tree, commit;
	git_tree *t;
	const char *path;
	va_list ap;

	git_repository_init_options_init(&o,
					 GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	o.flags = GIT_REPOSITORY_INIT_MKPATH;
	o.initial_head = "main";
	git_ok(git_repository_init_ext(&r, dir, &o), "init");
	git_ok(git_repository_index(&idx, r), "index");
	va_start(ap, dir);
	while ((path = va_arg(ap, const char *)) != NULL) {
		const char *content = va_arg(ap, const char *);

		write_file(dir, path, content);
		git_ok(git_index_add_bypath(idx, path), "add");
	}
	va_end(ap);
	git_ok(git_index_write(idx), "index write");
	git_ok(git_index_write_tree(&tree, idx), "write tree");
	git_ok(git_tree_lookup(&t, r, &tree), "tree");
	git_ok(git_signature_new(&sig, "Seed", "seed@example.org", 1700000000,
				 0),
	       "sig");
	git_ok(git_commit_create_v(&commit, r, "HEAD", sig, sig, NULL, "seed\n",
				   t, 0),
	       "commit");
	git_signature_free(sig);
	git_tree_free(t);
	git_index_free(idx);
	git_repository_free(r);
}

/* A new bare repository (no commits). */
static void
new_bare(char out[PATH_MAX])
{
	git_repository_init_options o;
	git_repository *r;

	newdir(out);
	git_repository_init_options_init(&o,
					 GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	o.flags = GIT_REPOSITORY_INIT_BARE;
	o.initial_head = "main";
	git_ok(git_repository_init_ext(&r, out, &o), "init bare");
	git_repository_free(r);
}

/* The commit id a ref points at, "" when there is none. */
static void
ref_id(char out[GITWRITE_ID_SIZE], const char *repo, const char *ref)
{
	git_repository *r;
	git_oid id;

	git_ok(git_repository_open(&r, repo), "open");
	out[0] = '\0';
	if (git_reference_name_to_id(&id, r, ref) == 0)
		git_oid_tostr(out, GITWRITE_ID_SIZE, &id);
	git_repository_free(r);
}

/* The content of rev:path as a new string, or NULL. */
static char *
blob_at(const char *repo, const char *rev, const char *path)
{
	git_repository *r;
	git_object *o = NULL;
	char spec[512];
	char *s = NULL;

	fmt(spec, sizeof(spec), "%s:%s", rev, path);
	git_ok(git_repository_open(&r, repo), "open");
	if (git_revparse_single(&o, r, spec) == 0) {
		const git_blob *b = (const git_blob *)o;
		size_t n = (size_t)git_blob_rawsize(b);

		s = calloc(1, n + 1);
		memcpy(s, git_blob_rawcontent(b), n);
	}
	git_object_free(o);
	git_repository_free(r);
	return s;
}

/* The file mode of rev:path. */
static git_filemode_t
mode_at(const char *repo, const char *rev, const char *path)
{
	git_repository *r;
	git_object *o;
	git_tree_entry *te;
	git_filemode_t m;
	char spec[256];

	fmt(spec, sizeof(spec), "%s^{tree}", rev);
	git_ok(git_repository_open(&r, repo), "open");
	git_ok(git_revparse_single(&o, r, spec), "rev");
	git_ok(git_tree_entry_bypath(&te, (git_tree *)o, path), "entry");
	m = git_tree_entry_filemode(te);
	git_tree_entry_free(te);
	git_object_free(o);
	git_repository_free(r);
	return m;
}

/* How many loose objects the repository's git directory holds. */
static int
loose_objects(const char *gitdir)
{
	char line[64];

	sh_line(line, sizeof(line),
		"find '%s/objects' -type f -path '*/objects/[0-9a-f][0-9a-f]/*' | wc -l",
		gitdir);
	return (int)strtol(line, NULL, 10);
}

static void
set_identity(const char *repo, const char *name, const char *email)
{
	git_repository *r;
	git_config *cfg;

	git_ok(git_repository_open(&r, repo), "open");
	git_ok(git_repository_config(&cfg, r), "config");
	git_ok(git_config_set_string(cfg, "user.name", name), "name");
	git_ok(git_config_set_string(cfg, "user.email", email), "email");
	git_config_free(cfg);
	git_repository_free(r);
}

/* "git status --porcelain" of a work tree, one line per entry. */
static void
status(char *out, size_t n, const char *repo)
{
	FILE *p;
	char cmd[PATH_MAX + 64];
	size_t len = 0;

	fmt(cmd, sizeof(cmd), "git -C '%s' status --porcelain", repo);
	p = popen(cmd, "r");
	assert_non_null(p);
	len = fread(out, 1, n - 1, p);
	out[len] = '\0';
	assert_int_equal(pclose(p), 0);
}

static const struct gitwrite_trailer promo_trailers[] = {
	{ "Promoted-From", "acme/staging" },
	{ "Promoted-To", "acme/production" },
	{ "Press-Guard", "drift: pass" },
};

/* A commit request changing envs/acme.yaml to env_b. */
static struct gitwrite_commit
req(const char *repo, const char *expect, const struct gitwrite_file *f,
    size_t n)
{
	struct gitwrite_commit c = { 0 };

	c.repo = repo;
	c.expect = expect;
	c.files = f;
	c.nfiles = n;
	c.subject = "promote acme/staging to acme/production";
	c.body = "Image erp:2 moves from staging to production.";
	c.trailers = promo_trailers;
	c.ntrailers = 3;
	return c;
}

static const struct gitwrite_file to_b[] = {
	{ "envs/acme.yaml", env_b, sizeof(env_b) - 1 },
};

/* --- tips and locations ------------------------------------------------ */

static void
tip_names_the_branch_of_head_or_the_one_given(void **state)
{
	char repo[PATH_MAX], want[GITWRITE_ID_SIZE];
	struct gitwrite_tip t = { 0 };
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	ref_id(want, repo, "refs/heads/main");
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);
	assert_string_equal(t.ref, "refs/heads/main");
	assert_string_equal(t.commit, want);
	gitwrite_tip_release(&t);
	assert_null(t.ref);

	assert_int_equal(gitwrite_tip(&t, repo, "refs/heads/main", &e), 0);
	assert_string_equal(t.commit, want);
	gitwrite_tip_release(&t);

	/* A branch without commits yet. */
	assert_int_equal(gitwrite_tip(&t, repo, "release", &e), 0);
	assert_string_equal(t.ref, "refs/heads/release");
	assert_string_equal(t.commit, "");
	gitwrite_tip_release(&t);

	assert_int_equal(gitwrite_tip(&t, repo, "bad..name", &e), -1);
	assert_non_null(strstr(e.msg, "'bad..name' is not a valid branch"));

	/* A detached HEAD names no branch. */
	SH_OK("git -C '%s' checkout -q --detach", repo);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "HEAD"));
	assert_non_null(strstr(e.msg, "detached"));
	assert_int_equal(gitwrite_tip(&t, repo, "main", &e), 0);
	gitwrite_tip_release(&t);
}

static void
locate_finds_the_repository_above_a_directory(void **state)
{
	char repo[PATH_MAX], sub[PATH_MAX], real[PATH_MAX];
	char *root = NULL, *prefix = NULL;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "manifests/envs/acme.yaml", env_a, NULL);
	assert_non_null(realpath(repo, real));
	fmt(sub, sizeof(sub), "%s/manifests/envs", repo);
	assert_int_equal(gitwrite_locate(&root, &prefix, sub, &e), 0);
	assert_string_equal(root, real);
	assert_string_equal(prefix, "manifests/envs/");
	free(root);
	free(prefix);
	assert_int_equal(gitwrite_locate(&root, &prefix, repo, &e), 0);
	assert_string_equal(root, real);
	assert_string_equal(prefix, "");
	free(root);
	free(prefix);

	assert_int_equal(gitwrite_locate(&root, &prefix, "/", &e), -1);
	assert_null(root);
	assert_null(prefix);
	assert_non_null(strstr(e.msg, "'/'"));
	assert_int_equal(gitwrite_locate(&root, &prefix, "/nonexistent/x", &e),
			 -1);
	assert_non_null(strstr(e.msg, "'/nonexistent/x'"));
}

/* --- commits ----------------------------------------------------------- */

static void
commit_writes_files_message_and_trailers_on_the_branch(void **state)
{
	char repo[PATH_MAX], line[512], st[1024];
	char *s;
	struct gitwrite_tip t = { 0 };
	struct gitwrite_result res;
	struct gitwrite_commit c;
	git_repository *r;
	git_commit *cm;
	git_oid id;
	git_message_trailer_array tr = { 0 };
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, "platform.yaml", "kind: Platform\n",
	     NULL);
	set_identity(repo, "Ops Person", "ops@acme.example");
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);

	c = req(repo, t.commit, to_b, 1);
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(res.changed, 1);
	assert_string_equal(res.tip.ref, "refs/heads/main");
	assert_string_equal(res.parent, t.commit);
	assert_int_equal(strlen(res.tip.commit), 40);
	assert_int_equal(res.worktree, GITWRITE_WT_UPDATED);
	ref_id(line, repo, "refs/heads/main");
	assert_string_equal(line, res.tip.commit);

	/* The tree: the edited file, the other one as it was. */
	s = blob_at(repo, "main", "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	s = blob_at(repo, "main", "platform.yaml");
	assert_string_equal(s, "kind: Platform\n");
	free(s);

	/* The commit: parent, message, identity, time, trailers. */
	git_ok(git_repository_open(&r, repo), "open");
	git_ok(git_oid_fromstr(&id, res.tip.commit), "oid");
	git_ok(git_commit_lookup(&cm, r, &id), "commit");
	assert_int_equal(git_commit_parentcount(cm), 1);
	git_oid_tostr(line, sizeof(line), git_commit_parent_id(cm, 0));
	assert_string_equal(line, t.commit);
	assert_string_equal(git_commit_message(cm),
			    "promote acme/staging to acme/production\n"
			    "\n"
			    "Image erp:2 moves from staging to production.\n"
			    "\n"
			    "Promoted-From: acme/staging\n"
			    "Promoted-To: acme/production\n"
			    "Press-Guard: drift: pass\n");
	assert_string_equal(git_commit_author(cm)->name, "Ops Person");
	assert_string_equal(git_commit_author(cm)->email, "ops@acme.example");
	assert_string_equal(git_commit_committer(cm)->email,
			    "ops@acme.example");
	if (testhook_enabled())
		assert_int_equal(git_commit_time(cm), NOW_UNIX);
	git_ok(git_message_trailers(&tr, git_commit_message(cm)), "trailers");
	assert_int_equal(tr.count, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(tr.trailers[i].key, promo_trailers[i].key);
		assert_string_equal(tr.trailers[i].value,
				    promo_trailers[i].value);
	}
	git_message_trailer_array_free(&tr);
	git_commit_free(cm);
	git_repository_free(r);

	/* git agrees: its trailers, a clean work tree, a sound repository. */
	sh_line(line, sizeof(line),
		"git -C '%s' log -1 --format='%%(trailers:key=Promoted-To,"
		"valueonly)'",
		repo);
	assert_string_equal(line, "acme/production");
	status(st, sizeof(st), repo);
	assert_string_equal(st, "");
	s = read_file(repo, "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	SH_OK("git -C '%s' fsck --no-progress 2>/dev/null", repo);

	gitwrite_result_release(&res);
	assert_null(res.tip.ref);
	gitwrite_tip_release(&t);
}

static void
commit_without_identity_in_config_uses_the_fallback_or_the_one_given(
	void **state)
{
	char repo[PATH_MAX];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	git_repository *r;
	git_commit *cm;
	git_oid id;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	c = req(repo, NULL, to_b, 1);
	c.body = NULL;
	c.trailers = NULL;
	c.ntrailers = 0;
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	git_ok(git_repository_open(&r, repo), "open");
	git_ok(git_oid_fromstr(&id, res.tip.commit), "oid");
	git_ok(git_commit_lookup(&cm, r, &id), "commit");
	assert_string_equal(git_commit_author(cm)->name, "pressctl");
	assert_string_equal(git_commit_author(cm)->email, "pressctl@localhost");
	assert_string_equal(git_commit_message(cm),
			    "promote acme/staging to acme/production\n");
	git_commit_free(cm);
	gitwrite_result_release(&res);

	/* One of the two alone is not used. */
	{
		git_config *cfg;

		git_ok(git_repository_config(&cfg, r), "config");
		git_ok(git_config_set_string(cfg, "user.name", "Half"), "set");
		git_config_free(cfg);
	}
	c.files = (const struct gitwrite_file[]){ { "envs/acme.yaml", env_a,
						    sizeof(env_a) - 1 } };
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	git_ok(git_oid_fromstr(&id, res.tip.commit), "oid");
	git_ok(git_commit_lookup(&cm, r, &id), "commit");
	assert_string_equal(git_commit_author(cm)->name, "pressctl");
	git_commit_free(cm);
	gitwrite_result_release(&res);

	c.name = "Release Bot";
	c.email = "bot@acme.example";
	c.files = to_b;
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	git_ok(git_oid_fromstr(&id, res.tip.commit), "oid");
	git_ok(git_commit_lookup(&cm, r, &id), "commit");
	assert_string_equal(git_commit_author(cm)->name, "Release Bot");
	assert_string_equal(git_commit_committer(cm)->email,
			    "bot@acme.example");
	git_commit_free(cm);
	gitwrite_result_release(&res);
	git_repository_free(r);
}

static void
commit_refuses_when_the_branch_moved_and_writes_nothing(void **state)
{
	char repo[PATH_MAX], gitdir[PATH_MAX], moved[GITWRITE_ID_SIZE];
	char now[GITWRITE_ID_SIZE], want[512];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_result res;
	struct gitwrite_commit c;
	const struct gitwrite_file other[] = {
		{ "platform.yaml", "kind: Platform\n", 15 },
	};
	struct err e;
	int objects;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	fmt(gitdir, sizeof(gitdir), "%s/.git", repo);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);

	/* Someone else commits after we read the branch. */
	c = req(repo, t.commit, other, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), 0);
	snprintf(moved, sizeof(moved), "%s", res.tip.commit);
	gitwrite_result_release(&res);

	objects = loose_objects(gitdir);
	c = req(repo, t.commit, to_b, 1);
	memset(&res, 0x5a, sizeof(res));
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	fmt(want, sizeof(want),
	    "branch 'main' of '%s' is at %.7s, not at %.7s where the "
	    "change was made",
	    repo, moved, t.commit);
	if (strstr(e.msg, want) == NULL)
		fail_msg("'%s' lacks '%s'", e.msg, want);
	assert_null(res.tip.ref);
	ref_id(now, repo, "refs/heads/main");
	assert_string_equal(now, moved);
	assert_int_equal(loose_objects(gitdir), objects);

	/* Expecting a commit on a branch that has none. */
	c = req(repo, t.commit, to_b, 1);
	c.branch = "release";
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "has no commit"));
	/* Expecting none on a branch that has one. */
	c = req(repo, "", to_b, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "is at"));
	assert_int_equal(loose_objects(gitdir), objects);
	gitwrite_tip_release(&t);
}

static void
commit_with_the_same_content_writes_nothing(void **state)
{
	char repo[PATH_MAX], gitdir[PATH_MAX], now[GITWRITE_ID_SIZE];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_result res;
	struct gitwrite_commit c;
	const struct gitwrite_file same[] = {
		{ "envs/acme.yaml", env_a, sizeof(env_a) - 1 },
	};
	struct err e;
	int objects;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	fmt(gitdir, sizeof(gitdir), "%s/.git", repo);
	objects = loose_objects(gitdir);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);
	c = req(repo, t.commit, same, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), 0);
	assert_int_equal(res.changed, 0);
	assert_string_equal(res.tip.commit, t.commit);
	assert_string_equal(res.parent, t.commit);
	ref_id(now, repo, "refs/heads/main");
	assert_string_equal(now, t.commit);
	assert_int_equal(loose_objects(gitdir), objects);
	gitwrite_result_release(&res);
	gitwrite_tip_release(&t);
}

static void
commit_adds_deletes_and_keeps_modes(void **state)
{
	char repo[PATH_MAX], st[1024];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	const struct gitwrite_file f[] = {
		{ "envs/new/preview.yaml", env_b, sizeof(env_b) - 1 },
		{ "old.yaml", NULL, 0 },
		{ "hooks/run.sh", "#!/bin/sh\nexit 1\n", 17 },
		{ "gone/only.yaml", NULL, 0 },
	};
	struct stat sb;
	char *s;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, "old.yaml", "x: 1\n",
	     "hooks/run.sh", "#!/bin/sh\n", "gone/only.yaml", "a: 1\n", NULL);
	SH_OK("chmod +x '%s/hooks/run.sh' && git -C '%s' add hooks/run.sh && "
	      "git -C '%s' -c user.name=t -c user.email=t@t commit -qm x",
	      repo, repo, repo);
	assert_int_equal(mode_at(repo, "main", "hooks/run.sh"),
			 GIT_FILEMODE_BLOB_EXECUTABLE);
	c = req(repo, NULL, f, 4);
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	/* A directory emptied by a deletion is gone from the tree. */
	sh_line(st, sizeof(st),
		"git -C '%s' ls-tree --name-only main | tr '\\n' ' '", repo);
	assert_string_equal(st, "envs hooks ");
	s = blob_at(repo, "main", "envs/new/preview.yaml");
	assert_string_equal(s, env_b);
	free(s);
	assert_null(blob_at(repo, "main", "old.yaml"));
	assert_int_equal(mode_at(repo, "main", "hooks/run.sh"),
			 GIT_FILEMODE_BLOB_EXECUTABLE);
	assert_int_equal(mode_at(repo, "main", "envs/new/preview.yaml"),
			 GIT_FILEMODE_BLOB);
	/* The work tree followed: new file, deleted file, mode. */
	assert_int_equal(res.worktree, GITWRITE_WT_UPDATED);
	s = read_file(repo, "envs/new/preview.yaml");
	assert_string_equal(s, env_b);
	free(s);
	assert_null(read_file(repo, "old.yaml"));
	fmt(st, sizeof(st), "%s/hooks/run.sh", repo);
	assert_int_equal(stat(st, &sb), 0);
	assert_true(sb.st_mode & S_IXUSR);
	status(st, sizeof(st), repo);
	assert_string_equal(st, "");
	gitwrite_result_release(&res);
}

static void
commit_refuses_bad_requests_before_writing(void **state)
{
	static const char *const bad_paths[] = {
		"",	 "/abs.yaml",	"a//b.yaml",  "dir/", "../x.yaml",
		"a/./b", ".git/config", "sub/.GIT/x", "a\\b",
	};
	char repo[PATH_MAX], gitdir[PATH_MAX];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	struct gitwrite_file f[2];
	struct gitwrite_trailer tr[1];
	struct err e;
	int objects;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, "envs/sub/x.yaml", "a: 1\n", NULL);
	SH_OK("ln -s acme.yaml '%s/envs/link.yaml' && git -C '%s' add "
	      "envs/link.yaml && git -C '%s' -c user.name=t -c "
	      "user.email=t@t commit -qm link",
	      repo, repo, repo);
	fmt(gitdir, sizeof(gitdir), "%s/.git", repo);
	objects = loose_objects(gitdir);

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		f[0] = (struct gitwrite_file){ bad_paths[i], "x", 1 };
		c = req(repo, NULL, f, 1);
		assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
		if (strstr(e.msg, "invalid path") == NULL)
			fail_msg("'%s': %s", bad_paths[i], e.msg);
	}
	f[0] = (struct gitwrite_file){ "a.yaml", "x", 1 };
	f[1] = (struct gitwrite_file){ "a.yaml", "y", 1 };
	c = req(repo, NULL, f, 2);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "'a.yaml' is given twice"));

	f[0] = (struct gitwrite_file){ "envs/link.yaml", "x", 1 };
	c = req(repo, NULL, f, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "'envs/link.yaml' is a symbolic link"));
	f[0] = (struct gitwrite_file){ "envs/sub", "x", 1 };
	c = req(repo, NULL, f, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "'envs/sub' is a directory"));
	f[0] = (struct gitwrite_file){ "envs/acme.yaml/x", "x", 1 };
	c = req(repo, NULL, f, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "'envs/acme.yaml' is a file"));
	f[0] = (struct gitwrite_file){ "gone.yaml", NULL, 0 };
	c = req(repo, NULL, f, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "cannot delete 'gone.yaml'"));

	c = req(repo, NULL, to_b, 1);
	c.subject = "";
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "subject"));
	c.subject = "two\nlines";
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "subject"));
	c = req(repo, NULL, to_b, 1);
	tr[0] = (struct gitwrite_trailer){ "Bad Key", "v" };
	c.trailers = tr;
	c.ntrailers = 1;
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "trailer key 'Bad Key'"));
	tr[0] = (struct gitwrite_trailer){ "Key", "two\nlines" };
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "trailer 'Key'"));
	/* A body whose end git would read as part of a patch: the
	 * trailers would not read back. */
	c = req(repo, NULL, to_b, 1);
	c.body = "text\n---\ndiff";
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "trailers"));

	c = req(repo, "123", to_b, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "'123' is not a commit id"));

	assert_int_equal(loose_objects(gitdir), objects);
}

static void
commit_refuses_uncommitted_work_on_the_edited_paths(void **state)
{
	char repo[PATH_MAX], st[1024], now[GITWRITE_ID_SIZE];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_result res;
	struct gitwrite_commit c;
	const struct gitwrite_file newf[] = {
		{ "envs/new.yaml", env_b, sizeof(env_b) - 1 },
	};
	char *s;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, "platform.yaml", "kind: P\n", NULL);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);

	/* Modified in the work tree. */
	write_file(repo, "envs/acme.yaml", "operator: was here\n");
	c = req(repo, t.commit, to_b, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "'envs/acme.yaml' has uncommitted "
				      "changes (modified in the work tree)"));
	assert_non_null(strstr(e.msg, "commit or stash"));
	s = read_file(repo, "envs/acme.yaml");
	assert_string_equal(s, "operator: was here\n");
	free(s);
	/* Staged. */
	SH_OK("git -C '%s' add envs/acme.yaml", repo);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "(staged)"));
	SH_OK("git -C '%s' reset -q --hard", repo);
	/* Untracked where a new file would go. */
	write_file(repo, "envs/new.yaml", "mine\n");
	c = req(repo, t.commit, newf, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "(untracked)"));
	s = read_file(repo, "envs/new.yaml");
	assert_string_equal(s, "mine\n");
	free(s);
	/* Deleted in the work tree. */
	SH_OK("rm '%s/envs/new.yaml' '%s/envs/acme.yaml'", repo, repo);
	c = req(repo, t.commit, to_b, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "(deleted in the work tree)"));
	SH_OK("git -C '%s' reset -q --hard", repo);
	ref_id(now, repo, "refs/heads/main");
	assert_string_equal(now, t.commit);

	/* Work on other paths is left as it is. */
	write_file(repo, "platform.yaml", "kind: P\nspec: {}\n");
	write_file(repo, "notes.txt", "todo\n");
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(res.worktree, GITWRITE_WT_UPDATED);
	status(st, sizeof(st), repo);
	assert_string_equal(st, " M platform.yaml\n?? notes.txt\n");
	s = read_file(repo, "platform.yaml");
	assert_string_equal(s, "kind: P\nspec: {}\n");
	free(s);
	gitwrite_result_release(&res);
	gitwrite_tip_release(&t);
}

static void
commit_to_a_branch_not_checked_out_moves_only_the_branch(void **state)
{
	char repo[PATH_MAX], st[1024], main_id[GITWRITE_ID_SIZE];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	char *s;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	SH_OK("git -C '%s' branch release", repo);
	ref_id(main_id, repo, "refs/heads/main");
	c = req(repo, NULL, to_b, 1);
	c.branch = "release";
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(res.worktree, GITWRITE_WT_NONE);
	assert_string_equal(res.tip.ref, "refs/heads/release");
	assert_string_equal(res.parent, main_id);
	s = blob_at(repo, "release", "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	s = read_file(repo, "envs/acme.yaml");
	assert_string_equal(s, env_a);
	free(s);
	status(st, sizeof(st), repo);
	assert_string_equal(st, "");
	gitwrite_result_release(&res);

	/* The first commit of a new branch has no parent. */
	c = req(repo, "", to_b, 1);
	c.branch = "fresh";
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(res.parent, "");
	s = blob_at(repo, "fresh", "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	assert_null(blob_at(repo, "fresh", "other.yaml"));
	gitwrite_result_release(&res);
}

static void
commit_refuses_a_branch_checked_out_in_another_work_tree(void **state)
{
	char repo[PATH_MAX], other[PATH_MAX], d[PATH_MAX];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	newdir(d);
	fmt(other, sizeof(other), "%s/wt", d);
	SH_OK("git -C '%s' worktree add -q -b release '%s' 2>/dev/null", repo,
	      other);
	c = req(repo, NULL, to_b, 1);
	c.branch = "release";
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "checked out in another work tree"));
	/* From that work tree it is its own. */
	c.repo = other;
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(res.worktree, GITWRITE_WT_UPDATED);
	gitwrite_result_release(&res);
}

static void
commit_in_a_bare_repository(void **state)
{
	char bare[PATH_MAX];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	char *s;
	struct err e;

	(void)state;
	new_bare(bare);
	c = req(bare, "", to_b, 1);
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(res.worktree, GITWRITE_WT_NONE);
	assert_string_equal(res.tip.ref, "refs/heads/main");
	s = blob_at(bare, "main", "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	gitwrite_result_release(&res);
	SH_OK("git --git-dir='%s' fsck --no-progress 2>/dev/null", bare);
}

static void
commit_in_a_new_work_tree_without_commits(void **state)
{
	char repo[PATH_MAX], st[1024];
	git_repository_init_options o;
	git_repository *r;
	struct gitwrite_result res;
	struct gitwrite_commit c;
	char *s;
	struct err e;

	(void)state;
	newdir(repo);
	git_repository_init_options_init(&o,
					 GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	o.initial_head = "main";
	git_ok(git_repository_init_ext(&r, repo, &o), "init");
	git_repository_free(r);
	c = req(repo, "", to_b, 1);
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(res.parent, "");
	assert_int_equal(res.worktree, GITWRITE_WT_UPDATED);
	s = read_file(repo, "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	status(st, sizeof(st), repo);
	assert_string_equal(st, "");
	gitwrite_result_release(&res);
}

static void
commit_reports_a_ref_lock_left_behind(void **state)
{
	char repo[PATH_MAX], lock[PATH_MAX], now[GITWRITE_ID_SIZE];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_result res;
	struct gitwrite_commit c;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);
	fmt(lock, sizeof(lock), "%s/.git/refs/heads/main.lock", repo);
	write_file(repo, ".git/refs/heads/main.lock", "");
	c = req(repo, t.commit, to_b, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), -1);
	assert_non_null(strstr(e.msg, "is locked"));
	assert_non_null(strstr(e.msg, lock));
	ref_id(now, repo, "refs/heads/main");
	assert_string_equal(now, t.commit);
	assert_int_equal(unlink(lock), 0);
	assert_int_equal(gitwrite_commit(&res, &c, &e), 0);
	gitwrite_result_release(&res);
	gitwrite_tip_release(&t);
}

/* --- killed and raced writers (test builds) ----------------------------- */

/*
 * Run gitwrite_commit(c) in a child that stops at the test hook point;
 * once it is there, act() runs, then the child is either killed (kill)
 * or released. Returns -SIGKILL, 3 for an error, or 10 plus the
 * result's worktree; the error or note is in tmproot/note.
 */
static int
run_stopped(const struct gitwrite_commit *c, const char *point, int kill_it,
	    void (*act)(const char *), const char *arg)
{
	char gate[PATH_MAX], reached[PATH_MAX], wait_env[PATH_MAX + 64];
	pid_t pid;
	int st;

	fmt(gate, sizeof(gate), "%s/gate-%d", tmproot, ++ntmp);
	fmt(reached, sizeof(reached), "%s.reached", gate);
	fmt(wait_env, sizeof(wait_env), "%s:%s", point, gate);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct gitwrite_result res;
		struct err e;
		int rc;

		setenv("PRESSCTL_TEST_WAIT", wait_env, 1);
		rc = gitwrite_commit(&res, c, &e);
		if (rc == 0) {
			write_file(tmproot, "note", res.note);
			rc = 10 + (int)res.worktree;
			gitwrite_result_release(&res);
			_exit(rc);
		}
		write_file(tmproot, "note", e.msg);
		_exit(3);
	}
	for (int i = 0; i < 600 && access(reached, F_OK) != 0; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	if (access(reached, F_OK) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("the writer never reached %s", point);
	}
	if (act)
		act(arg);
	if (kill_it)
		kill(pid, SIGKILL);
	else
		write_file(tmproot, strrchr(gate, '/') + 1, "");
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		return -WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Another writer commits to main (git CLI, with git's own ref lock). */
static void
other_commit(const char *repo)
{
	SH_OK("cd '%s' && echo x > other.txt && git add other.txt && "
	      "git -c user.name=o -c user.email=o@o commit -qm other",
	      repo);
}

static void
commit_loses_no_update_made_while_it_runs(void **state)
{
	char repo[PATH_MAX], now[GITWRITE_ID_SIZE], st[1024];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_commit c;
	char *s;
	struct err e;

	(void)state;
	if (!testhook_enabled())
		skip();
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);
	c = req(repo, t.commit, to_b, 1);
	/* Stopped after its check and its objects, before the ref: the
	 * other commit lands; the ref update must then fail. */
	assert_int_equal(run_stopped(&c, "gitwrite-ref", 0, other_commit, repo),
			 3);
	s = read_file(tmproot, "note");
	assert_non_null(strstr(s, "moved to"));
	assert_non_null(strstr(s, "while the commit was written"));
	free(s);
	ref_id(now, repo, "refs/heads/main");
	assert_string_not_equal(now, t.commit);
	s = blob_at(repo, "main", "other.txt");
	assert_non_null(s);
	free(s);
	s = blob_at(repo, "main", "envs/acme.yaml");
	assert_string_equal(s, env_a);
	free(s);
	status(st, sizeof(st), repo);
	assert_string_equal(st, "");
	gitwrite_tip_release(&t);
}

static void
commit_killed_before_the_ref_leaves_the_old_branch(void **state)
{
	char repo[PATH_MAX], now[GITWRITE_ID_SIZE], st[1024];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_result res;
	struct gitwrite_commit c;
	struct err e;

	(void)state;
	if (!testhook_enabled())
		skip();
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);
	c = req(repo, t.commit, to_b, 1);
	assert_int_equal(run_stopped(&c, "gitwrite-ref", 1, NULL, NULL),
			 -SIGKILL);
	ref_id(now, repo, "refs/heads/main");
	assert_string_equal(now, t.commit);
	status(st, sizeof(st), repo);
	assert_string_equal(st, "");
	SH_OK("git -C '%s' fsck --no-progress --no-dangling 2>/dev/null", repo);
	/* The same change again goes through. */
	if (gitwrite_commit(&res, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(res.worktree, GITWRITE_WT_UPDATED);
	gitwrite_result_release(&res);
	gitwrite_tip_release(&t);
}

static void
commit_killed_after_the_ref_leaves_the_new_branch(void **state)
{
	char repo[PATH_MAX], now[GITWRITE_ID_SIZE], st[1024];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_commit c;
	char *s;
	struct err e;

	(void)state;
	if (!testhook_enabled())
		skip();
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);
	c = req(repo, t.commit, to_b, 1);
	assert_int_equal(run_stopped(&c, "gitwrite-worktree", 1, NULL, NULL),
			 -SIGKILL);
	ref_id(now, repo, "refs/heads/main");
	assert_string_not_equal(now, t.commit);
	s = blob_at(repo, "main", "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	/* As docs/gitwrite.md says: the index and file still hold the old
	 * content, so git shows the reverse change as staged; the repair
	 * it names restores them. */
	status(st, sizeof(st), repo);
	assert_string_equal(st, "M  envs/acme.yaml\n");
	SH_OK("git -C '%s' checkout HEAD -- envs/acme.yaml", repo);
	status(st, sizeof(st), repo);
	assert_string_equal(st, "");
	s = read_file(repo, "envs/acme.yaml");
	assert_string_equal(s, env_b);
	free(s);
	gitwrite_tip_release(&t);
}

static void
edit_file(const char *repo)
{
	write_file(repo, "envs/acme.yaml", "operator: in between\n");
}

static void
commit_keeps_a_file_edited_while_it_runs(void **state)
{
	char repo[PATH_MAX], now[GITWRITE_ID_SIZE];
	struct gitwrite_tip t = { 0 };
	struct gitwrite_commit c;
	char *s;
	struct err e;

	(void)state;
	if (!testhook_enabled())
		skip();
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	assert_int_equal(gitwrite_tip(&t, repo, NULL, &e), 0);
	c = req(repo, t.commit, to_b, 1);
	/* The commit stands (a stale work tree is not a failure); the
	 * operator's file is not overwritten; the note says what to do. */
	assert_int_equal(run_stopped(&c, "gitwrite-worktree", 0, edit_file,
				     repo),
			 10 + GITWRITE_WT_STALE);
	s = read_file(tmproot, "note");
	assert_non_null(strstr(s, "the commit is on branch 'main', but the "
				  "work tree was not updated"));
	assert_non_null(strstr(s, "'git checkout HEAD -- envs/acme.yaml'"));
	free(s);
	ref_id(now, repo, "refs/heads/main");
	assert_string_not_equal(now, t.commit);
	s = read_file(repo, "envs/acme.yaml");
	assert_string_equal(s, "operator: in between\n");
	free(s);
	gitwrite_tip_release(&t);
}

/* --- push ------------------------------------------------------------- */

static void
push_publishes_the_branch(void **state)
{
	char repo[PATH_MAX], bare[PATH_MAX], a[GITWRITE_ID_SIZE];
	char b[GITWRITE_ID_SIZE];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	new_bare(bare);
	SH_OK("git -C '%s' remote add origin '%s'", repo, bare);
	if (gitwrite_push(repo, NULL, NULL, &e) != 0)
		fail_msg("%s", e.msg);
	ref_id(a, repo, "refs/heads/main");
	ref_id(b, bare, "refs/heads/main");
	assert_string_equal(a, b);

	c = req(repo, NULL, to_b, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), 0);
	if (gitwrite_push(repo, "main", "origin", &e) != 0)
		fail_msg("%s", e.msg);
	ref_id(b, bare, "refs/heads/main");
	assert_string_equal(b, res.tip.commit);
	ref_id(a, repo, "refs/remotes/origin/main");
	assert_string_equal(a, res.tip.commit);
	SH_OK("git --git-dir='%s' fsck --no-progress 2>/dev/null", bare);
	gitwrite_result_release(&res);

	/* A path or URL is used as given. */
	c = req(repo, NULL,
		(const struct gitwrite_file[]){
			{ "envs/acme.yaml", env_a, sizeof(env_a) - 1 } },
		1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), 0);
	if (gitwrite_push(repo, NULL, bare, &e) != 0)
		fail_msg("%s", e.msg);
	ref_id(b, bare, "refs/heads/main");
	assert_string_equal(b, res.tip.commit);
	gitwrite_result_release(&res);

	assert_int_equal(gitwrite_push(repo, NULL, "nope", &e), -1);
	assert_non_null(strstr(e.msg, "no remote 'nope'"));
}

static void
push_refuses_a_non_fast_forward(void **state)
{
	char repo[PATH_MAX], bare[PATH_MAX], before[GITWRITE_ID_SIZE];
	char after[GITWRITE_ID_SIZE];
	struct gitwrite_result res;
	struct gitwrite_commit c;
	const struct gitwrite_file theirs[] = {
		{ "theirs.yaml", "a: 1\n", 5 },
	};
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	new_bare(bare);
	SH_OK("git -C '%s' remote add origin '%s'", repo, bare);
	assert_int_equal(gitwrite_push(repo, NULL, NULL, &e), 0);

	/* The remote moves on (a commit made there directly). */
	c = req(bare, NULL, theirs, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), 0);
	gitwrite_result_release(&res);
	ref_id(before, bare, "refs/heads/main");

	/* Our commit on the old tip: its commit is unknown here. */
	c = req(repo, NULL, to_b, 1);
	assert_int_equal(gitwrite_commit(&res, &c, &e), 0);
	gitwrite_result_release(&res);
	assert_int_equal(gitwrite_push(repo, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "rejected"));
	assert_non_null(strstr(e.msg, "not a fast-forward"));
	assert_false(e.transient);
	ref_id(after, bare, "refs/heads/main");
	assert_string_equal(after, before);

	/* Known here after a fetch, still not an ancestor. */
	SH_OK("git -C '%s' fetch -q origin", repo);
	assert_int_equal(gitwrite_push(repo, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "not a fast-forward"));
	ref_id(after, bare, "refs/heads/main");
	assert_string_equal(after, before);
}

static void
push_hides_credentials_of_a_url(void **state)
{
	char repo[PATH_MAX], url[PATH_MAX];
	struct err e;

	(void)state;
	newdir(repo);
	seed(repo, "envs/acme.yaml", env_a, NULL);
	/* Nothing listens there: the connection fails at once. */
	fmt(url, sizeof(url), "http://user:s3cret-token@127.0.0.1:9/x.git");
	assert_int_equal(gitwrite_push(repo, NULL, url, &e), -1);
	assert_null(strstr(e.msg, "s3cret-token"));
	assert_non_null(strstr(e.msg, "http://127.0.0.1:9/x.git"));
	assert_true(e.transient);
}

/* --- main ------------------------------------------------------------ */

static int
group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char home[PATH_MAX];

	(void)state;
	fmt(tmproot, sizeof(tmproot), "%s/press-gitwrite-XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(tmproot) == NULL)
		return -1;
	/* No identity or settings from the user running the tests. */
	fmt(home, sizeof(home), "%s/home", tmproot);
	if (mkdir(home, 0700) < 0)
		return -1;
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", home, 1);
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL,
			 home);
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, home);
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM,
			 home);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	git_libgit2_shutdown();
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
		"GIT_AUTHOR_NAME",
		"GIT_AUTHOR_EMAIL",
		"GIT_COMMITTER_NAME",
		"GIT_COMMITTER_EMAIL",
		"PRESSCTL_TEST_WAIT",
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tip_names_the_branch_of_head_or_the_one_given),
		cmocka_unit_test(locate_finds_the_repository_above_a_directory),
		cmocka_unit_test(
			commit_writes_files_message_and_trailers_on_the_branch),
		cmocka_unit_test(
			commit_without_identity_in_config_uses_the_fallback_or_the_one_given),
		cmocka_unit_test(
			commit_refuses_when_the_branch_moved_and_writes_nothing),
		cmocka_unit_test(commit_with_the_same_content_writes_nothing),
		cmocka_unit_test(commit_adds_deletes_and_keeps_modes),
		cmocka_unit_test(commit_refuses_bad_requests_before_writing),
		cmocka_unit_test(
			commit_refuses_uncommitted_work_on_the_edited_paths),
		cmocka_unit_test(
			commit_to_a_branch_not_checked_out_moves_only_the_branch),
		cmocka_unit_test(
			commit_refuses_a_branch_checked_out_in_another_work_tree),
		cmocka_unit_test(commit_in_a_bare_repository),
		cmocka_unit_test(commit_in_a_new_work_tree_without_commits),
		cmocka_unit_test(commit_reports_a_ref_lock_left_behind),
		cmocka_unit_test(commit_loses_no_update_made_while_it_runs),
		cmocka_unit_test(
			commit_killed_before_the_ref_leaves_the_old_branch),
		cmocka_unit_test(
			commit_killed_after_the_ref_leaves_the_new_branch),
		cmocka_unit_test(commit_keeps_a_file_edited_while_it_runs),
		cmocka_unit_test(push_publishes_the_branch),
		cmocka_unit_test(push_refuses_a_non_fast_forward),
		cmocka_unit_test(push_hides_credentials_of_a_url),
	};

	/* Hermetic git: nothing from the caller's repository or config. */
	for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++)
		unsetenv(scrub[i]);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("PRESSCTL_NOW", NOW_TEXT, 1);
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
