/*
 * profile.h - built-in app profiles (docs/design.md §6): what an application
 * needs from the platform and what its defaults are.
 */
#ifndef PRESS_PROFILE_H
#define PRESS_PROFILE_H

/* The settings a site container receives from the platform. */
enum profile_var {
	PV_DB_HOST,
	PV_DB_PORT,
	PV_DB_NAME,
	PV_DB_SCHEMA,
	PV_DB_USER,
	PV_DB_PASSWORD,
	PV_S3_BUCKET,
	PV_S3_ENDPOINT,
	PV_S3_REGION,
	PV_COUNT
};

struct app_profile {
	const char *name; /* frappe | odoo | wordpress | generic */
	int port;	  /* container port */
	const char *health_path;
	int health_timeout;	    /* seconds */
	const char *vars[PV_COUNT]; /* variable name per setting */
};

/* The profile called name, or NULL. */
const struct app_profile *profile_find(const char *name);

#endif
