/* SPDX-License-Identifier: MIT */
/* schema.h - nethub's QMP schema at run time: validation and introspection
 *
 * The files in ctl/qapi/ are nethub's schema, written QAPI-style.  At build time
 * ctl/qapi-gen.py turns it into (a) schema-data.c, the schema as compact
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

/* schema_init() - load the embedded schema; false if it is broken (a build
 * bug, reported with what is wrong) */
bool schema_init(struct nh_error **errp);
void schema_fini(void);

/* schema_has_command() - is @name a command of the schema */
bool schema_has_command(const char *name);

/**
 * schema_check_args() - check a command's arguments against its schema
 * @command:	a command of the schema
 * @args:	its "arguments" object (NULL: none given)
 *
 * QEMU's wording, GenericError, naming members by their path ("a.b"):
 *   Parameter 'X' is missing
 *   Parameter 'X' is unexpected
 *   Invalid parameter type for 'X', expected: integer|number|string|
 *	boolean|object|array|null
 *   Parameter 'X' does not accept value 'V'           (enums, union tags)
 *   Parameter 'X' expects uint16_t                     (and the other
 *	fixed-size integer types, out of range)
 * Unions are checked by their discriminator: only the members of the
 * chosen variant (plus the base) are allowed.
 */
bool schema_check_args(const char *command, const json_t *args,
		       struct nh_error **errp);

/* schema_check_type() - the same check for a value of a named type (for
 * -netdev in its JSON form, and tests); @what names the value in errors */
bool schema_check_type(const char *type, const json_t *value,
		       const char *what, struct nh_error **errp);

/**
 * schema_introspect() - the query-qmp-schema answer: an array of
 * SchemaInfo objects as QEMU gives them (commands and events by name,
 * other types under masked names "0", "1", ..., builtins by name, integer
 * types as "int", arrays as "[T]").  New reference.
 */
json_t *schema_introspect(void);

/* schema_command_list() - the query-commands answer: [{"name": N}, ...] */
json_t *schema_command_list(void);

#endif /* NH_SCHEMA_H */
