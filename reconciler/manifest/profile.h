/*
 * profile.h - built-in app profiles (DESIGN §6): what an application
 * needs from the platform and what its defaults are.
 */
#ifndef PRESS_PROFILE_H
#define PRESS_PROFILE_H

struct app_profile {
	const char *name;	/* frappe | odoo | wordpress | generic */
	int port;		/* container port */
	const char *health_path;
	int health_timeout;	/* seconds */
};

/* The profile called name, or NULL. */
const struct app_profile *profile_find(const char *name);

#endif
