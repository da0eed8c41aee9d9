// SPDX-License-Identifier: MIT
/* PLACEHOLDER - replaced by the QMP server helper */
#include <stdlib.h>
#include <string.h>
#include "qmp.h"
struct qmp_listen_config *qmp_listen_parse(const char *text, struct nh_error **errp) { (void)text; nh_error_setg(errp, "-qmp: not yet"); return NULL; }
void qmp_listen_config_free(struct qmp_listen_config *lc) { free(lc); }
bool qmp_start(uv_loop_t *loop, struct qmp_listen_config *const *lcs, unsigned n, struct nh_error **errp) { (void)loop; (void)lcs; (void)n; (void)errp; return true; }
void qmp_stop(void) {}
void qmp_event(const char *name, json_t *data) { (void)name; json_decref(data); }
int qmp_session_take_passed_fd(struct qmp_session *s) { (void)s; return -1; }
bool qmp_session_add_fd(struct qmp_session *s, const char *name, int fd, struct nh_error **errp) { (void)s; (void)name; (void)fd; (void)errp; return false; }
int qmp_session_take_fd(struct qmp_session *s, const char *name) { (void)s; (void)name; return -1; }
bool qmp_session_close_fd(struct qmp_session *s, const char *name) { (void)s; (void)name; return false; }
