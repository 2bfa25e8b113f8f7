#include "profile.h"

#include <stddef.h>
#include <string.h>

static const struct app_profile profiles[] = {
	{ "frappe",
	  8000,
	  "/api/method/ping",
	  60,
	  { "DB_HOST", "DB_PORT", "DB_NAME", "DB_SCHEMA", "DB_USER",
	    "DB_PASSWORD", "S3_BUCKET", "S3_ENDPOINT", "S3_REGION" } },
	/* The official odoo image reads HOST, PORT, USER, PASSWORD. */
	{ "odoo",
	  8069,
	  "/web/health",
	  60,
	  { "HOST", "PORT", "PGDATABASE", "PRESS_DB_SCHEMA", "USER", "PASSWORD",
	    "PRESS_S3_BUCKET", "PRESS_S3_ENDPOINT", "PRESS_S3_REGION" } },
	{ "wordpress",
	  80,
	  "/wp-login.php",
	  60,
	  { "WORDPRESS_DB_HOST", "PRESS_DB_PORT", "WORDPRESS_DB_NAME",
	    "PRESS_DB_SCHEMA", "WORDPRESS_DB_USER", "WORDPRESS_DB_PASSWORD",
	    "PRESS_S3_BUCKET", "PRESS_S3_ENDPOINT", "PRESS_S3_REGION" } },
	{ "generic",
	  8080,
	  "/healthz",
	  60,
	  { "PRESS_DB_HOST", "PRESS_DB_PORT", "PRESS_DB_NAME",
	    "PRESS_DB_SCHEMA", "PRESS_DB_USER", "PRESS_DB_PASSWORD",
	    "PRESS_S3_BUCKET", "PRESS_S3_ENDPOINT", "PRESS_S3_REGION" } },
};

const struct app_profile *
profile_find(const char *name)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (name && strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}
