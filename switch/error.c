// SPDX-License-Identifier: MIT
/* error.c - structured control-path errors: allocation, formatting, names */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void nh_error_set(struct nh_error **errp, enum nh_error_class cls,
		  const char *fmt, ...)
{
	struct nh_error *err;
	va_list ap;

	if (!errp || *errp)
		return;
	err = calloc(1, sizeof(*err));
	if (!err)
		abort();
	err->cls = cls;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	*errp = err;
}

void nh_error_prepend(struct nh_error **errp, const char *fmt, ...)
{
	char prefix[NH_ERROR_MSG_MAX], old[NH_ERROR_MSG_MAX];
	va_list ap;

	if (!errp || !*errp)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, (*errp)->msg, sizeof(old));
	/* Truncation is fine: the message stays a terminated string */
	size_t plen = strnlen(prefix, sizeof((*errp)->msg) - 1);

	memcpy((*errp)->msg, prefix, plen);
	size_t room = sizeof((*errp)->msg) - 1 - plen;
	size_t olen = strnlen(old, room);

	memcpy((*errp)->msg + plen, old, olen);
	(*errp)->msg[plen + olen] = '\0';
}

const char *nh_error_class_name(enum nh_error_class cls)
{
	switch (cls) {
	case NH_ERR_COMMAND_NOT_FOUND:
		return "CommandNotFound";
	case NH_ERR_DEVICE_NOT_ACTIVE:
		return "DeviceNotActive";
	case NH_ERR_DEVICE_NOT_FOUND:
		return "DeviceNotFound";
	case NH_ERR_KVM_MISSING_CAP:
		return "KVMMissingCap";
	case NH_ERR_GENERIC:
		break;
	}
	return "GenericError";
}

void nh_error_free(struct nh_error *err)
{
	free(err);
}
