// SPDX-License-Identifier: MIT
/* placeholder: replaced by the real group */
#include "unit.h"

int test_membership(void)
{
	return 0;
}
