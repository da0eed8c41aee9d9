/* SPDX-License-Identifier: MIT */
/* schema.h - nethub's QMP schema at run time: validation and introspection
 *
 * The files in ctl/qapi/ are nethub's schema, written QAPI-style.  At build
 * time ctl/qapi-gen.py turns it into (a) schema-data.c, the schema as compact
 * JSON embedded in the binary, and (b) docs/qmp-reference.md.  This module
 * loads (a) once and answers from it; nothing else describes a command's
 * arguments, so validation, query-qmp-schema, query-commands and the
 * reference cannot drift apart.
 */
#ifndef NH_SCHEMA_H
#define NH_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

/**
 * schema_init() - load the embedded schema and check its shape
 *
 * Idempotent; the other functions call it on first use anyway.
 * Return: false if the model is broken (a build bug), with what is wrong.
 */
bool schema_init(struct nh_error **errp);

/* schema_fini() - free the loaded model (schema_init() may load it again) */
void schema_fini(void);

/* schema_has_command() - is @name a command of the schema */
bool schema_has_command(const char *name);

/**
 * schema_check_args() - check a command's arguments against its schema
 * @command:	a command of the schema (anything else: CommandNotFound,
 *		"The command X has not been found")
 * @args:	its "arguments" object (NULL: none given, same as {}); a
 *		boxed command's arguments object is the boxed type itself
 *
 * Members are checked in schema order, each completely (nested objects
 * and lists included) before the next, and members the type does not have
 * are reported after its own members: the first problem found is reported,
 * in QEMU's words, as GenericError:
 *   Parameter 'X' is missing
 *   Parameter 'X' is unexpected
 *   Invalid parameter type for 'X', expected: integer|number|string|
 *	boolean|object|array|null
 *   Parameter 'X' expects uint64             (not an integer where an
 *	unsigned one belongs, size included; as in QEMU, any integer is
 *	taken, a negative one modulo 2^64)
 *   Parameter 'X' does not accept value 'V'  (enums, union tags)
 *   Parameter 'X' expects uint16_t           (out of range; and uint8_t,
 *	uint32_t, int8_t, int16_t, int32_t)
 *   Invalid parameter type for 'X', expected: ALT  (no branch of the
 *	alternate ALT takes that JSON type)
 * X is the member's path ("addr.port", "dnssearch[0].str") except in the
 * last three, where QEMU names the member alone ("port", and "null" for a
 * list element).  Unions are checked by their discriminator: the base
 * members, then those of the chosen variant; members of other variants are
 * unexpected.  Arguments given to a command without any are unexpected.
 * A non-object @args: "QMP input member 'arguments' must be an object".
 */
bool schema_check_args(const char *command, const json_t *args,
		       struct nh_error **errp);

/**
 * schema_check_type() - the same check for a value of a type (for -netdev
 * in its JSON form, and tests)
 * @type:	a type of the schema ("Netdev"), a built-in ("uint16"), or
 *		"[T]"; implicit argument types are "q_obj_NAME-arg"
 * @what:	names the value itself in errors about it as a whole (its
 *		members are named by their paths, without it); NULL:
 *		"<anonymous>", as QEMU says
 */
bool schema_check_type(const char *type, const json_t *value,
		       const char *what, struct nh_error **errp);

/**
 * schema_introspect() - the query-qmp-schema answer: an array of
 * SchemaInfo objects as QEMU gives them (commands and events by name, in
 * schema order, then the types they use, other types under masked names
 * "0", "1", ..., builtins by name, integer types as "int", arrays as
 * "[T]", optional members with "default": null).  The same on every call.
 * Return: a new reference.
 */
json_t *schema_introspect(void);

/* schema_command_list() - the query-commands answer: [{"name": N}, ...],
 * every command of the schema; a new reference */
json_t *schema_command_list(void);

#endif /* NH_SCHEMA_H */
