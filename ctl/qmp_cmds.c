// SPDX-License-Identifier: MIT
/* PLACEHOLDER - replaced by the commands helper */
#include <string.h>
#include "qmp.h"
const struct qmp_command qmp_commands[] = { { NULL, NULL } };
const struct qmp_command *qmp_command_find(const char *name) { for (const struct qmp_command *c = qmp_commands; c->name; c++) if (!strcmp(c->name, name)) return c; return NULL; }
void qmp_cmds_init(void) {}
void qmp_cmds_fini(void) {}
