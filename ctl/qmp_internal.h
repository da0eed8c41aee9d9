/* SPDX-License-Identifier: MIT */
/* qmp_internal.h - what qmp.c and qmp_listen.c share: the listener */
#ifndef NH_QMP_INTERNAL_H
#define NH_QMP_INTERNAL_H

#include <sys/types.h>
#include <uv.h>

#include "error.h"
#include "qmp.h"

#define QMP_LISTEN_BACKLOG 128 /* room for bursts of clients */
#define QMP_LABEL_MAX	   160
#define QMP_ACCEPT_RETRY_MS 1000 /* after accept() failed for lack of fds */

struct qmp_listener {
	struct qmp_listen_config *lc; /* borrowed from the caller */
	int fd;
	uv_poll_t poll;
	uv_timer_t retry;	/* accept() failed (EMFILE...): wait, retry */
	unsigned handles;	/* open libuv handles; freed at 0 */
	dev_t dev; /* the socket file we made (unix), to unlink only it */
	ino_t ino;
	char label[QMP_LABEL_MAX];
};

/**
 * qmp_listen_unix() - bind the unix socket @l->lc names, with its mode and
 * group, replacing a stale socket file; records the file's identity in @l
 * so that only this file is removed later
 * Return: the bound, non-blocking socket (not yet listening), or -1
 */
int qmp_listen_unix(struct qmp_listener *l, struct nh_error **errp);

/* qmp_listen_tcp() - the same for TCP; an address other than loopback is
 * refused unless the config says remote=on (then a warning is logged) */
int qmp_listen_tcp(struct qmp_listener *l, struct nh_error **errp);

#endif /* NH_QMP_INTERNAL_H */
