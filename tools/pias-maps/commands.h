/* SPDX-License-Identifier: MIT */
/* The commands of pias-maps, grouped by the file that implements them. */
#ifndef PIAS_MAPS_COMMANDS_H
#define PIAS_MAPS_COMMANDS_H

#include "cli.h"

extern const struct cmd cmd_config;
extern const struct cmd cmd_prefix_add, cmd_prefix_del;
extern const struct cmd cmd_proxy_set, cmd_proxy_del;
extern const struct cmd cmd_rap_fill;
extern const struct cmd cmd_binding_set, cmd_binding_negative, cmd_binding_del;
extern const struct cmd cmd_flows_clear;
extern const struct cmd cmd_group_set, cmd_group_del;
extern const struct cmd cmd_target_set, cmd_target_del, cmd_targets_set, cmd_targets_del,
	cmd_targets_show;
extern const struct cmd cmd_stats, cmd_group_stats, cmd_target_stats;
extern const struct cmd cmd_events;

#endif
