/*
 * repo.c - opening a git repository the one way source/ does.
 *
 * Inside a pre-receive hook the pushed objects are not in the repository
 * yet: git keeps them in a quarantine directory and names it (and the
 * real object directory) in GIT_OBJECT_DIRECTORY and
 * GIT_ALTERNATE_OBJECT_DIRECTORIES. git_repository_open() ignores those,
 * so a hook reading the pushed commit would fail with "object not
 * found". source_open_repo() opens from the environment when git runs
 * us, and adds those directories when a path is given.
 */
#include "repo.h"

#include <stdlib.h>
#include <string.h>

#include "../util/strbuf.h"

const char *
source_git_msg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown error";
}

char *
source_trim_slashes(const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	return xstrndup(path, n);
}

static int
is_implicit(const char *repo)
{
	return repo == NULL || strcmp(repo, ".") == 0;
}

/* GIT_DIR when set and not empty, else NULL. */
static const char *
env_git_dir(void)
{
	const char *gitdir = getenv("GIT_DIR");

	return gitdir != NULL && *gitdir != '\0' ? gitdir : NULL;
}

const char *
source_repo_name(const char *repo)
{
	if (is_implicit(repo) && env_git_dir() != NULL)
		return env_git_dir();
	return repo ? repo : ".";
}

/*
 * Add GIT_OBJECT_DIRECTORY and GIT_ALTERNATE_OBJECT_DIRECTORIES (a ':'
 * list) as extra object directories. git itself would use the former
 * instead of the repository's own; for reading, adding it is equivalent
 * and stays correct when the variables belong to another repository.
 */
static int
add_env_objects(git_repository *r, struct err *e)
{
	const char *objdir = getenv("GIT_OBJECT_DIRECTORY");
	const char *alts = getenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	git_odb *odb = NULL;
	char *list = NULL;
	int ret = -1;

	if ((objdir == NULL || *objdir == '\0') &&
	    (alts == NULL || *alts == '\0'))
		return 0;
	if (git_repository_odb(&odb, r) < 0) {
		err_set(e, "cannot open the object database: %s",
			source_git_msg());
		goto out;
	}
	if (objdir && *objdir && git_odb_add_disk_alternate(odb, objdir) < 0) {
		err_set(e, "cannot use GIT_OBJECT_DIRECTORY '%s': %s", objdir,
			source_git_msg());
		goto out;
	}
	if (alts && *alts) {
		char *p, *next;

		list = xstrdup(alts);
		for (p = list; p != NULL; p = next) {
			next = strchr(p, ':');
			if (next)
				*next++ = '\0';
			if (*p == '\0')
				continue;
			if (git_odb_add_disk_alternate(odb, p) < 0) {
				err_set(e,
					"cannot use alternate object "
					"directory '%s': %s",
					p, source_git_msg());
				goto out;
			}
		}
	}
	ret = 0;
out:
	free(list);
	git_odb_free(odb);
	return ret;
}

int
source_open_repo(git_repository **out, const char *repo, unsigned flags,
		 struct err *e)
{
	int exact = (flags & SOURCE_REPO_EXACT) != 0;
	int search = (flags & SOURCE_REPO_SEARCH) != 0;
	int implicit = is_implicit(repo);
	const char *gitdir = env_git_dir();
	const char *path = repo ? repo : ".";
	git_repository *r = NULL;
	int ret = -1;

	*out = NULL;
	if (!exact && !search && implicit && gitdir != NULL) {
		if (git_repository_open_ext(&r, NULL,
					    GIT_REPOSITORY_OPEN_FROM_ENV,
					    NULL) < 0) {
			err_set(e, "cannot open repository '%s' (GIT_DIR): %s",
				gitdir, source_git_msg());
			goto out;
		}
	} else {
		unsigned open_flags = (implicit && !exact) || search ?
					      0 :
					      GIT_REPOSITORY_OPEN_NO_SEARCH;

		if (git_repository_open_ext(&r, path, open_flags, NULL) < 0) {
			err_set(e, "cannot open repository '%s': %s", path,
				source_git_msg());
			goto out;
		}
		if (add_env_objects(r, e) < 0)
			goto out;
	}
	*out = r;
	r = NULL;
	ret = 0;
out:
	git_repository_free(r);
	return ret;
}
