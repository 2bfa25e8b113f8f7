/*
 * pressctl version: the version, and "(test build)" for a build with the
 * test hooks (util/testhook.h).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "../util/testhook.h"

static const char usage_text[] =
	"usage: pressctl version\n"
	"\n"
	"Prints pressctl's version; \"(test build)\" marks a build with the\n"
	"test hooks (the test clock PRESSCTL_NOW).\n";

int
cmd_version(int argc, char **argv)
{
	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (argc > 1) {
		fputs(usage_text, stderr);
		return EXIT_ERROR;
	}
	printf("pressctl %s%s\n", PRESSCTL_VERSION,
	       testhook_enabled() ? " (test build)" : "");
	return EXIT_OK;
}
