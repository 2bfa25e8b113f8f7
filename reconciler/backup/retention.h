/*
 * retention.h - which backups grandfather-father-son retention keeps
 * (docs/backup.md, "Retention").
 */
#ifndef PRESS_RETENTION_H
#define PRESS_RETENTION_H

#include <stddef.h>
#include <time.h>

/* How many days, ISO weeks and calendar months keep a backup (0 or
 * more; BackupPolicy spec.retention). */
struct retention {
	int daily, weekly, monthly;
};

struct backup_ref {
	time_t time; /* when the backup was taken (UTC) */
	int good;    /* verified and complete; a failed or unverified one
		      * is never kept by a period */
};

/*
 * Which backups grandfather-father-son retention keeps: keep[i] = 1 or
 * 0 for v[i] (any order; both arrays are borrowed, n elements).
 *
 * For each of the `daily` most recent UTC days that have a good backup,
 * the FIRST good backup of that day is kept; likewise for the `weekly`
 * most recent ISO weeks (Monday-based, ISO year) and the `monthly` most
 * recent calendar months. Keeping the first good backup of each period
 * means one failed Sunday does not cost the week its copy, and a
 * period's kept backup does not change as later backups arrive in it.
 * The newest good backup is always kept, whatever the counts. Bad
 * backups are not kept (the caller removes them; they hold nothing that
 * verified). Periods are counted back from the newest good backup, not
 * from the clock, so a platform that stopped backing up keeps its
 * copies. Of good backups with the same time, the one earlier in v
 * counts as the earlier. A negative count is taken as 0.
 */
void retention_keep(const struct retention *r, const struct backup_ref *v,
		    size_t n, int *keep);

#endif
