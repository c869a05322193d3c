/* SPDX-License-Identifier: MIT */
/*
 * Vivaldi network coordinates (Dabek, Cox, Kaashoek, Morris: "Vivaldi: a
 * decentralized network coordinate system", SIGCOMM 2004): every proxy
 * places itself in a 2-D Euclidean plane plus a height (the access link),
 * so that the distance between two coordinates predicts their RTT. The RAP
 * uses the prediction to pick a JAP near an IAP it has never measured.
 *
 * Units: microseconds of RTT. The height model is the paper's: the distance
 * of a and b is |a.xy - b.xy| + a.h + b.h; a force moves a along the unit
 * vector of [a.xy - b.xy, a.h + b.h], so its planar and height parts share
 * the correction in proportion to their lengths.
 *
 * Adaptive timestep (paper section 3.4): with w = e_i / (e_i + e_j),
 *   e_s = |dist - rtt| / rtt,  e_i = e_s ce w + e_i (1 - ce w),
 *   delta = cc w,  x_i += delta (rtt - dist) u(x_i - x_j)
 * with cc = ce = 0.25. A node sure of itself (small e_i) listening to an
 * unsure one moves little; a new node (e_i = 1.5) moves a lot.
 *
 * Pure functions (float and libm): no state, no randomness. Two coincident
 * nodes need a direction to push apart; it is derived from a hash of the
 * inputs, so the same inputs give the same result.
 */
#ifndef PIAS_DAEMON_COORDS_H
#define PIAS_DAEMON_COORDS_H

#include <stdbool.h>

#include "msg.h"

#define PIAS_COORD_CC	      0.25f /* timestep constant */
#define PIAS_COORD_CE	      0.25f /* error smoothing constant */
#define PIAS_COORD_ERR_MAX    1.5f  /* a new node's error; errors are clamped to it */
#define PIAS_COORD_ERR_MIN    0.01f /* keeps the weight of a node sure of itself positive */
#define PIAS_COORD_HEIGHT_MIN 10.0f /* us: heights never shrink below */
#define PIAS_COORD_RTT_MAX_US 10e6f /* samples above 10 s are not RTTs */
#define PIAS_COORD_LIMIT_US   1e8f  /* |x|, |y|, h above this: a broken coordinate */

/* A node that knows nothing: origin, minimum height, maximum error. */
void pias_coord_init(struct pias_coord *c);

/* Finite, within PIAS_COORD_LIMIT_US, height >= 0, error in 0..ERR_MAX (peers' input). */
bool pias_coord_valid(const struct pias_coord *c);

/* Predicted RTT between a and b in us: planar distance plus both heights. */
float pias_coord_distance_us(const struct pias_coord *a, const struct pias_coord *b);

/* How far one node's coordinate moved from a to b in us (planar plus |height change|). */
float pias_coord_shift_us(const struct pias_coord *a, const struct pias_coord *b);

/*
 * One RTT sample to a peer whose coordinate is peer: move self and update
 * its error. Returns false and leaves self unchanged for a sample or peer
 * that cannot be used (rtt not in (0, PIAS_COORD_RTT_MAX_US], peer or self
 * invalid, a result that is not finite).
 */
bool pias_coord_update(struct pias_coord *self, const struct pias_coord *peer, float rtt_us);

#endif
