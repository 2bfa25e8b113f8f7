/*
 * git.c - read the manifests of a commit's tree with libgit2, without a
 * checkout.
 *
 * The repository is opened by source_open_repo() (repo.c), which sees
 * the quarantined objects of a push when run from a pre-receive hook.
 */
#include "source.h"

#include <stdlib.h>
#include <string.h>

#include "repo.h"
#include "../util/strbuf.h"

/* A tree nested deeper than this is rejected (libgit2 recurses). */
#define MAX_DEPTH 64

struct gwalk {
	git_odb *odb;
	struct source *src;
	const char *prefix; /* "" or "subdir/": shown paths are relative
				 * to the repository root */
	const char *ref;    /* as given, for messages */
	struct strbuf path;
	size_t total;
	struct err *e;
	int failed; /* visit() stopped the walk, e is set */
};

/* Copy the blob id as file path into w->src, within the caps. */
static int
add_blob(struct gwalk *w, const git_oid *id, const char *path)
{
	struct source *src = w->src;
	struct source_file *f;
	git_odb_object *obj = NULL;
	git_object_t type;
	size_t size;
	int ret = -1;

	/* The header gives the size without inflating a huge blob. */
	if (git_odb_read_header(&size, &type, w->odb, id) < 0) {
		err_set(w->e, "cannot read '%s' at %s: %s", path, w->ref,
			source_git_msg());
		goto out;
	}
	if (size > SOURCE_MAX_FILE_BYTES) {
		err_set(w->e,
			"file '%s' at %s is too large (%zu bytes; the "
			"limit is %zu MiB): split it into smaller files",
			path, w->ref, size, SOURCE_MAX_FILE_BYTES >> 20);
		goto out;
	}
	if (size > SOURCE_MAX_TOTAL_BYTES - w->total) {
		err_set(w->e,
			"tree at %s is too large (more than %zu MiB of "
			"manifests)",
			w->ref, SOURCE_MAX_TOTAL_BYTES >> 20);
		goto out;
	}
	if (src->nfiles >= SOURCE_MAX_FILES) {
		err_set(w->e,
			"tree at %s has too many manifest files (more "
			"than %d)",
			w->ref, SOURCE_MAX_FILES);
		goto out;
	}
	if (git_odb_read(&obj, w->odb, id) < 0) {
		err_set(w->e, "cannot read '%s' at %s: %s", path, w->ref,
			source_git_msg());
		goto out;
	}
	size = git_odb_object_size(obj);
	if (git_odb_object_type(obj) != GIT_OBJECT_BLOB ||
	    size > SOURCE_MAX_FILE_BYTES) {
		err_set(w->e,
			"cannot read '%s' at %s: not a blob of the "
			"expected size",
			path, w->ref);
		goto out;
	}
	w->total += size;

	xgrow(&src->files, &src->alloc, src->nfiles + 1, sizeof(*src->files));
	f = &src->files[src->nfiles++];
	f->path = xstrdup(path);
	f->data = xmalloc(size + 1);
	if (size)
		memcpy(f->data, git_odb_object_data(obj), size);
	f->data[size] = '\0';
	f->len = size;
	ret = 0;
out:
	git_odb_object_free(obj);
	return ret;
}

/*
 * git_tree_walk callback: root is the entry's directory relative to the
 * walked tree ("" or "a/b/"). Returns 1 to skip a subtree, -1 to stop
 * with w->e set.
 */
static int
visit(const char *root, const git_tree_entry *entry, void *payload)
{
	struct gwalk *w = payload;
	const char *name = git_tree_entry_name(entry);
	git_filemode_t mode = git_tree_entry_filemode(entry);
	int depth = 0;

	if (name[0] == '.') /* .press, .github, dotfiles: as for dirs */
		return 1;

	strbuf_reset(&w->path);
	strbuf_addstr(&w->path, w->prefix);
	strbuf_addstr(&w->path, root);
	strbuf_addstr(&w->path, name);

	switch (mode) {
	case GIT_FILEMODE_TREE:
		for (const char *p = root; *p; p++)
			depth += *p == '/';
		if (depth >= MAX_DEPTH) {
			err_set(w->e,
				"directory '%s' at %s is nested too "
				"deeply (more than %d levels)",
				w->path.buf, w->ref, MAX_DEPTH);
			w->failed = 1;
			return -1;
		}
		return 0;
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		if (!source_is_manifest_name(name))
			return 0;
		if (add_blob(w, git_tree_entry_id(entry), w->path.buf) < 0) {
			w->failed = 1;
			return -1;
		}
		return 0;
	case GIT_FILEMODE_LINK:
		/* Following it would need the work tree; dropping it would
		 * silently drop its environments. */
		if (!source_is_manifest_name(name))
			return 0;
		err_set(w->e,
			"'%s' at %s is a symbolic link: git sources "
			"need the manifest itself in the tree",
			w->path.buf, w->ref);
		w->failed = 1;
		return -1;
	default: return 0; /* a submodule (commit) or unknown: skipped */
	}
}

/* "./a/b/" -> "a/b"; "", "." and "/" -> "". Returns a new string. */
static char *
normalize_subdir(const char *subdir)
{
	size_t n;

	if (subdir == NULL)
		return xstrdup("");
	for (;;) {
		if (subdir[0] == '/')
			subdir++;
		else if (subdir[0] == '.' && subdir[1] == '/')
			subdir += 2;
		else
			break;
	}
	n = strlen(subdir);
	while (n > 0 && subdir[n - 1] == '/')
		n--;
	if (n == 1 && subdir[0] == '.')
		n = 0;
	return xstrndup(subdir, n);
}

/*
 * Read the manifests of tree, or of its entry dir when dir is not "": a
 * subtree is walked, a blob is read as the one file (whatever its name,
 * as a file given as a directory source's root).
 */
static int
read_tree(struct gwalk *w, git_repository *r, git_tree *tree, const char *dir)
{
	git_tree_entry *entry = NULL;
	git_tree *sub = NULL;
	const git_tree *walked = tree;
	char *prefix = NULL;
	int rc, ret = -1;

	w->prefix = "";
	if (*dir != '\0') {
		rc = git_tree_entry_bypath(&entry, tree, dir);
		if (rc == GIT_ENOTFOUND) {
			err_set(w->e, "path '%s' not found at %s", dir, w->ref);
			goto out;
		}
		if (rc < 0) {
			err_set(w->e, "cannot read path '%s' at %s: %s", dir,
				w->ref, source_git_msg());
			goto out;
		}
		switch (git_tree_entry_filemode(entry)) {
		case GIT_FILEMODE_TREE: break;
		case GIT_FILEMODE_BLOB:
		case GIT_FILEMODE_BLOB_EXECUTABLE:
			ret = add_blob(w, git_tree_entry_id(entry), dir);
			goto out;
		default:
			err_set(w->e,
				"path '%s' at %s is not a directory or "
				"a file",
				dir, w->ref);
			goto out;
		}
		if (git_tree_lookup(&sub, r, git_tree_entry_id(entry)) < 0) {
			err_set(w->e, "cannot read path '%s' at %s: %s", dir,
				w->ref, source_git_msg());
			goto out;
		}
		strbuf_reset(&w->path);
		strbuf_addf(&w->path, "%s/", dir);
		prefix = strbuf_detach(&w->path, NULL);
		w->prefix = prefix;
		walked = sub;
	}

	rc = git_tree_walk(walked, GIT_TREEWALK_PRE, visit, w);
	if (rc < 0) {
		if (!w->failed)
			err_set(w->e, "cannot read the tree at %s: %s", w->ref,
				source_git_msg());
		goto out;
	}
	ret = 0;
out:
	w->prefix = "";
	free(prefix);
	git_tree_free(sub);
	git_tree_entry_free(entry);
	return ret;
}

int
source_load_git(struct source *out, const char *repo, const char *ref,
		const char *subdir, struct err *e)
{
	struct source src;
	struct gwalk w;
	git_repository *r = NULL;
	git_object *obj = NULL, *cobj = NULL;
	git_tree *tree = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	const char *shown;
	char *dir = normalize_subdir(subdir);
	int inited = -1, ret = -1;

	source_init(&src);
	memset(&w, 0, sizeof(w));
	strbuf_init(&w.path, 0);
	if (ref == NULL || *ref == '\0')
		ref = "HEAD";
	shown = source_repo_name(repo);

	/* libgit2 counts init/shutdown pairs, so this is safe alongside
	 * other users and leaves nothing behind once the last one is done. */
	inited = git_libgit2_init();
	if (inited < 0) {
		err_set(e, "cannot initialize libgit2: %s", source_git_msg());
		goto out;
	}
	if (source_open_repo(&r, repo, 0, e) < 0)
		goto out;
	if (git_revparse_single(&obj, r, ref) < 0) {
		err_set(e, "cannot resolve '%s' in '%s': %s", ref, shown,
			source_git_msg());
		goto out;
	}
	if (git_object_peel(&cobj, obj, GIT_OBJECT_COMMIT) < 0) {
		err_set(e, "cannot resolve '%s' in '%s' to a commit: %s", ref,
			shown, source_git_msg());
		goto out;
	}
	if (git_commit_tree(&tree, (git_commit *)cobj) < 0) {
		err_set(e, "cannot read the tree of '%s' in '%s': %s", ref,
			shown, source_git_msg());
		goto out;
	}
	git_oid_tostr(hex, sizeof(hex), git_object_id(cobj));

	w.src = &src;
	w.ref = ref;
	w.e = e;
	if (git_repository_odb(&w.odb, r) < 0) {
		err_set(e, "cannot open the object database of '%s': %s", shown,
			source_git_msg());
		goto out;
	}
	if (read_tree(&w, r, tree, dir) < 0)
		goto out;

	source_sort(&src);
	src.revision = xstrdup(hex);
	strbuf_reset(&w.path);
	strbuf_addf(&w.path, "%s@%s", shown, ref);
	src.label = strbuf_detach(&w.path, NULL);

	source_release(out);
	*out = src;
	source_init(&src);
	ret = 0;
out:
	strbuf_release(&w.path);
	git_odb_free(w.odb);
	git_tree_free(tree);
	git_object_free(cobj);
	git_object_free(obj);
	git_repository_free(r);
	if (inited >= 0)
		git_libgit2_shutdown();
	free(dir);
	source_release(&src);
	return ret;
}

int
source_git_dir(char **out, const char *repo, struct err *e)
{
	git_repository *r = NULL;
	int inited, ret = -1;

	*out = NULL;
	inited = git_libgit2_init();
	if (inited < 0) {
		err_set(e, "cannot initialize libgit2: %s", source_git_msg());
		goto out;
	}
	if (source_open_repo(&r, repo, 0, e) < 0)
		goto out;
	*out = source_trim_slashes(git_repository_path(r));
	ret = 0;
out:
	git_repository_free(r);
	if (inited >= 0)
		git_libgit2_shutdown();
	return ret;
}
