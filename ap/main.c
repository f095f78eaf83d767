/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

int main(void);

int main(void)
{
	fputs("as4d: not yet assembled\n", stderr);
	return 1;
}
