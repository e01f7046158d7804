/*
 * snapmig: entry point.  The command-line front end and the UI are being
 * built (issues 6 and 7); until then the program only reports its version.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("snapmig %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "snapmig %s: commands are not implemented yet\n", PACKAGE_VERSION);
	return 2;
}
