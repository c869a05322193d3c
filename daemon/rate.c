// SPDX-License-Identifier: MIT
#include "rate.h"

void pias_rate_init(struct pias_rate *r, unsigned int per_s, unsigned int burst)
{
	r->interval_ns = 1000000000ull / (per_s ? per_s : 1);
	r->burst_ns = (__u64)((burst ? burst : 1) - 1) * r->interval_ns;
	r->tat = 0;
	r->suppressed = 0;
}

bool pias_rate_take(struct pias_rate *r, __u64 now, __u64 *was_suppressed)
{
	__u64 tat = r->tat > now ? r->tat : now;

	if (tat - now > r->burst_ns) {
		r->suppressed++;
		return false;
	}
	r->tat = tat + r->interval_ns;
	if (was_suppressed)
		*was_suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}
