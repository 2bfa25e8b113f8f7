#include "profile.h"

#include <stddef.h>
#include <string.h>

static const struct app_profile profiles[] = {
	{ "frappe", 8000, "/api/method/ping", 60 },
	{ "odoo", 8069, "/web/health", 60 },
	{ "wordpress", 80, "/wp-login.php", 60 },
	{ "generic", 8080, "/healthz", 60 },
};

const struct app_profile *
profile_find(const char *name)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (name && strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}
