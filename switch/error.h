/* SPDX-License-Identifier: MIT */
/* error.h - structured errors for the control path (QMP class + message)
 *
 * The rules are QEMU's: a control-path function takes `struct nh_error **errp`
 * as its last argument, returns a success value of its own (bool, pointer,
 * int), never reads *errp and never sets it on success.  errp may be NULL when
 * the caller does not care about the text.  The first error set wins.
 */
#ifndef NH_ERROR_H
#define NH_ERROR_H

#include <stdarg.h>

/* QMP error classes, in QEMU's names */
enum nh_error_class {
	NH_ERR_GENERIC,
	NH_ERR_COMMAND_NOT_FOUND,
	NH_ERR_DEVICE_NOT_ACTIVE,
	NH_ERR_DEVICE_NOT_FOUND,
	NH_ERR_KVM_MISSING_CAP,
};

#define NH_ERROR_MSG_MAX 512

struct nh_error {
	enum nh_error_class cls;
	char msg[NH_ERROR_MSG_MAX];
};

/**
 * nh_error_set() - fill *errp with a new error, unless errp is NULL or
 *                  *errp is already set (the first error is the one reported)
 * @errp:	where to store it; may be NULL
 * @cls:	QMP error class
 * @fmt:	printf-style message: names what was wrong, no trailing newline
 */
void nh_error_set(struct nh_error **errp, enum nh_error_class cls,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Shorthand for a GenericError */
#define nh_error_setg(errp, ...) nh_error_set(errp, NH_ERR_GENERIC, __VA_ARGS__)

/**
 * nh_error_prepend() - put "prefix" in front of an existing error's message
 * @errp:	error to extend; nothing happens if errp or *errp is NULL
 */
void nh_error_prepend(struct nh_error **errp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* nh_error_class_name() - QMP name of a class, e.g. "GenericError" */
const char *nh_error_class_name(enum nh_error_class cls);

/* nh_error_free() - free an error; NULL is fine */
void nh_error_free(struct nh_error *err);

#endif /* NH_ERROR_H */
