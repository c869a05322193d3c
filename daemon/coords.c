// SPDX-License-Identifier: MIT
/* Vivaldi with height vectors and the adaptive timestep; see coords.h. */
#include <math.h>
#include <string.h>

#include <pias/hash.h>

#include "coords.h"

/* Below this planar distance two nodes count as coincident (us). */
#define COINCIDENT_US 1e-3f

void pias_coord_init(struct pias_coord *c)
{
	*c = (struct pias_coord){ .h = PIAS_COORD_HEIGHT_MIN, .err = PIAS_COORD_ERR_MAX };
}

static bool in_limit(float v)
{
	return isfinite(v) && fabsf(v) <= PIAS_COORD_LIMIT_US;
}

bool pias_coord_valid(const struct pias_coord *c)
{
	return in_limit(c->x) && in_limit(c->y) && in_limit(c->h) && c->h >= 0.0f &&
	       isfinite(c->err) && c->err >= 0.0f && c->err <= PIAS_COORD_ERR_MAX;
}

float pias_coord_distance_us(const struct pias_coord *a, const struct pias_coord *b)
{
	return hypotf(a->x - b->x, a->y - b->y) + a->h + b->h;
}

float pias_coord_shift_us(const struct pias_coord *a, const struct pias_coord *b)
{
	return hypotf(a->x - b->x, a->y - b->y) + fabsf(a->h - b->h);
}

static __u32 float_bits(float f)
{
	__u32 u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/*
 * A direction for two coincident nodes. The paper picks a random one; a
 * hash of the inputs is as good for breaking the symmetry and keeps the
 * function pure (two nodes at the origin hash differently because their
 * errors, heights or samples differ, and the result is reproducible).
 */
static void coincident_dir(const struct pias_coord *s, const struct pias_coord *p, float rtt,
			   float *ux, float *uy)
{
	__u32 h = PIAS_HASH_SEED;
	float a;

	h = pias_mix(h, float_bits(s->h));
	h = pias_mix(h, float_bits(s->err));
	h = pias_mix(h, float_bits(p->x));
	h = pias_mix(h, float_bits(p->y));
	h = pias_mix(h, float_bits(p->h));
	h = pias_mix(h, float_bits(p->err));
	h = pias_final(pias_mix(h, float_bits(rtt)), 28);
	a = (float)h * (float)(2.0 * M_PI / 4294967296.0);
	*ux = cosf(a);
	*uy = sinf(a);
}

bool pias_coord_update(struct pias_coord *self, const struct pias_coord *peer, float rtt_us)
{
	struct pias_coord c = *self;
	float dx, dy, planar, hsum, dist, w, es, force, ux, uy;

	if (!isfinite(rtt_us) || rtt_us <= 0.0f || rtt_us > PIAS_COORD_RTT_MAX_US)
		return false;
	if (!pias_coord_valid(self) || !pias_coord_valid(peer))
		return false;

	dx = c.x - peer->x;
	dy = c.y - peer->y;
	planar = hypotf(dx, dy);
	hsum = c.h + peer->h;
	dist = planar + hsum;

	/* Both sure of themselves (or both zero): trust each equally. */
	w = c.err + peer->err > 0.0f ? c.err / (c.err + peer->err) : 0.5f;
	es = fabsf(dist - rtt_us) / rtt_us;
	c.err = es * PIAS_COORD_CE * w + c.err * (1.0f - PIAS_COORD_CE * w);
	c.err = fminf(fmaxf(c.err, PIAS_COORD_ERR_MIN), PIAS_COORD_ERR_MAX);

	force = PIAS_COORD_CC * w * (rtt_us - dist);
	if (planar < COINCIDENT_US) {
		/* No planar direction: push apart in the plane, as the paper does. */
		coincident_dir(self, peer, rtt_us, &ux, &uy);
		c.x += force * ux;
		c.y += force * uy;
	} else {
		/* dist > 0 here: the unit vector of [dx, dy, hsum] under the height norm. */
		c.x += force * dx / dist;
		c.y += force * dy / dist;
		c.h += force * hsum / dist;
	}
	c.h = fmaxf(c.h, PIAS_COORD_HEIGHT_MIN);
	if (!pias_coord_valid(&c))
		return false;
	*self = c;
	return true;
}
