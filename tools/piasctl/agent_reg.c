// SPDX-License-Identifier: MIT
/*
 * Where an agent's registrations go: the socket address of the
 * registration service, shared by `target join` and its --file reader.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "piasctl.h"

socklen_t agent_sockaddr(const union pias_addr *a, __u8 family, __u16 port,
			 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == PIAS_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = a->v4;
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, a->bytes, 16);
	sin6->sin6_port = htons(port);
	return sizeof(*sin6);
}

void agent_reg_service(struct agent_reg *r, const union pias_addr *reg_addr, __u8 reg_family,
		       __u16 reg_port)
{
	/* by default the registration service listens on the TA's own anycast address */
	const union pias_addr *a = reg_family ? reg_addr : &r->tgt.ta.addr;
	__u8 family = reg_family ? reg_family : r->tgt.ta.family;
	__u16 port = reg_family ? reg_port : PIASD_REGISTRATION_PORT_DEFAULT;

	r->reg_len = agent_sockaddr(a, family, port, &r->reg);
	pias_endpoint_str(a, family, port, r->reg_str, sizeof(r->reg_str));
}
