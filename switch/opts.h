/* SPDX-License-Identifier: MIT */
/* opts.h - option syntax: QEMU's key=value lists, their JSON form, and typed
 * access to the resulting option objects
 *
 * A -netdev argument is either QEMU's keyval form
 *     socket,id=vms,listen=:5555     (first item without '=' is the type;
 *                                     ",," is a literal comma)
 * or, when it starts with '{' (after optional whitespace), a JSON object.
 * Both become a JSON object; keyval values stay strings (they are typed when
 * read), JSON values keep their JSON type.  The getters accept either form
 * and produce QEMU's messages on a bad value.
 *
 * Every key of an object returned here is 1 to OPTS_KEY_MAX_BYTES bytes of
 * [A-Za-z0-9_.-], and no key appears twice.  Dots are plain characters:
 * "a.b=1" is the key "a.b", not a nested object (QemuOpts, which -netdev
 * uses for this form, does not nest either).
 */
#ifndef NH_OPTS_H
#define NH_OPTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* Longest key, as in QEMU's keyval parser (key fragments of 1..127) */
#define OPTS_KEY_MAX_BYTES 127
/* Longest argument opts_parse() reads, keyval or JSON */
#define OPTS_TEXT_MAX_BYTES (64 * 1024)
/* Largest --config file opts_load_config() reads */
#define OPTS_CONFIG_MAX_BYTES (1024 * 1024)

/**
 * opts_parse() - parse a -netdev style argument into a JSON object
 * @text:	"TYPE,key=value,..." or a JSON object; at most
 *		OPTS_TEXT_MAX_BYTES bytes
 * @implied:	key for a leading item without '=' ("type"), or NULL: then a
 *		leading item without '=' is a flag like any other
 * @errp:	error out
 *
 * Keyval form, as QEMU's QemuOpts reads it:
 *  - items are separated by ','; ",," is a literal comma in a value (and in
 *    the implied value);
 *  - the first item without '=' is @implied=ITEM; it must not be empty;
 *  - any other item without '=' is a flag: "name" means name="on".  QEMU's
 *    deprecated "noname" for name="off" is not special here: it is the key
 *    "noname", which opts_check_keys() then reports as unexpected;
 *  - one trailing ',' is allowed (QEMU allows it too); "" is the empty
 *    object; an empty item anywhere else (",id=a", ",") is an empty key;
 *  - a key given more than once collects its values into an array, in
 *    order: QemuOpts' way of giving a list ("hostfwd=A,hostfwd=B").  For
 *    any key that is not a list it is refused later, by opts_check_keys()
 *    or a getter, as "Parameter 'X' is duplicated" (QEMU lets the last
 *    one win; a repeated scalar on a command line is almost always a
 *    mistake).
 *
 * Text starting with '{' or '[' (after whitespace) is JSON and must be an
 * object; duplicate keys are refused there too.
 *
 * Return: a new object (caller owns), or NULL with errp set:
 *  "Invalid parameter 'X'" (empty key or a character outside
 *  [A-Za-z0-9_.-]), "Parameter 'X...' is too long (at most 127 bytes)",
 *  "Parameter 'X' is duplicated" (JSON form only), "Value of parameter 'X' is not valid
 *  UTF-8", "JSON parse error at line L, column C: TEXT" (jansson's text),
 *  "JSON argument must be an object, not an array",
 *  "Argument is too long (more than 65536 bytes)".
 */
json_t *opts_parse(const char *text, const char *implied,
		   struct nh_error **errp);

/**
 * opts_check_keys() - every key of @opts must be in @known (NULL-ended)
 * @opts:	the options (borrowed)
 * @known:	accepted keys, NULL-terminated; "KEY[]" accepts KEY as one
 *		value or a list (a repeated key), plain "KEY" one value only
 * @errp:	error out
 *
 * Keys are checked in the object's order, which jansson (>= 2.8) keeps as
 * insertion order: for opts_parse() results, the order of the text.  The
 * first unknown key is reported.
 *
 * Errors: "Parameter 'X' is unexpected", "Parameter 'X' is duplicated"
 */
bool opts_check_keys(const json_t *opts, const char *const *known,
		     struct nh_error **errp);

/**
 * opts_repeated() - whether @v, the value of @key, is a key repeated in the
 * keyval form (a list of two or more strings); then @errp is set to
 * "Parameter 'KEY' is duplicated".  For drivers that check their keys
 * without opts_check_keys().
 */
bool opts_repeated(const json_t *v, const char *key, struct nh_error **errp);

/* opts_has() - @key is present (with any value, even null) */
bool opts_has(const json_t *opts, const char *key);

/**
 * opts_get_str() - string option
 * Return: the string (borrowed from @opts), @def when absent, NULL with
 * errp "Invalid parameter type for 'X', expected: string" on a non-string.
 * On success *errp is untouched; check with opts_has() to tell absent.
 */
const char *opts_get_str(const json_t *opts, const char *key, const char *def,
			 struct nh_error **errp);

/**
 * opts_get_opt_str() - an optional string option into *@out (borrowed;
 * NULL when absent)
 * Return: false only for a value that is not a string (errp as above)
 */
bool opts_get_opt_str(const json_t *opts, const char *key, const char **out,
		      struct nh_error **errp);

/**
 * opts_get_bool() - on/yes/true/y or off/no/false/n (strings, as QEMU's
 * qapi_bool_parse() takes them), or a JSON boolean
 * Return: false on error, with errp "Parameter 'X' expects 'on' or 'off'"
 *         or "Invalid parameter type for 'X', expected: boolean";
 *         true with *out untouched when absent (keeps the default).
 */
bool opts_get_bool(const json_t *opts, const char *key, bool *out,
		   struct nh_error **errp);

/**
 * opts_get_int() - an integer within [@min, @max]
 *
 * A string is read as QEMU reads integers (strtoll base 0): decimal, 0x hex,
 * or a leading 0 for octal ("010" is 8, "08" is an error); optional leading
 * whitespace and sign.  A JSON integer is taken as is; a JSON real (even
 * 5.0) or any other type is a type error.
 *
 * Return: true with *out set, true with *out untouched when absent, false
 * with errp: "Parameter 'X' expects a number" (QemuOpts' wording),
 * "Parameter 'X' expects a value between MIN and MAX",
 * "Invalid parameter type for 'X', expected: integer".
 */
bool opts_get_int(const json_t *opts, const char *key, int64_t min,
		  int64_t max, int64_t *out, struct nh_error **errp);

/**
 * opts_get_size() - a size (string, see opts_parse_size()) or a JSON
 * integer >= 0
 *
 * Return: true with *out set, true with *out untouched when absent, false
 * with errp:
 *  - a bad string: QEMU's message and hint, on three lines:
 *    "Parameter 'X' expects a non-negative number below 2^64\n
 *     Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-,
 *     peta-\nand exabytes, respectively."
 *  - a string over 2^64-1: "Value 'V' is out of range for parameter 'X'"
 *  - a negative JSON integer: the first line above alone
 *  - another JSON type: "Invalid parameter type for 'X', expected: integer"
 */
bool opts_get_size(const json_t *opts, const char *key, uint64_t *out,
		   struct nh_error **errp);

/**
 * opts_parse_size() - the size syntax alone, for command-line flags
 *
 * QEMU's qemu_strtosz(): decimal digits, an optional fraction, an optional
 * suffix B, k, M, G, T, P, E (either case; powers of 1024; none means
 * bytes); or 0x hex without fraction or suffix.  A fraction needs a suffix
 * above B ("1.5k" is 1536, "1.5" is refused, "1.0" is 1) and is rounded to
 * the nearest byte, halves up.  No octal ("010" is 10), no exponent, no
 * sign but '+'; leading whitespace is skipped.  QEMU still accepts, with a
 * deprecation warning, hex with a suffix ("0x10k"); we refuse it.
 *
 * Return: false if @s is not a size or is above 2^64-1
 */
bool opts_parse_size(const char *s, uint64_t *out);

/**
 * opts_parse_bool() - the boolean words alone
 * Return: false if @s is none of on/yes/true/y/off/no/false/n
 */
bool opts_parse_bool(const char *s, bool *out);

/* opts_hex_digit() - the value of hex digit @c (either case), or -1 */
int opts_hex_digit(char c);

/**
 * opts_load_config() - read --config FILE: a JSON array of netdev_add
 * argument objects, at most OPTS_CONFIG_MAX_BYTES
 *
 * Each element's keys follow the rules opts_parse() applies.
 *
 * Return: the array (caller owns) or NULL with errp:
 *  "FILE: cannot open: STRERROR", "FILE: cannot read: STRERROR",
 *  "FILE: larger than 1048576 bytes", "FILE:LINE:COLUMN: TEXT" (jansson's
 *  syntax error), "FILE: expected a JSON array of netdev objects",
 *  "FILE: element N is not an object", "FILE: element N: KEY ERROR"
 *  (N counts from 0, as JSON array indexes do).
 */
json_t *opts_load_config(const char *path, struct nh_error **errp);

#endif /* NH_OPTS_H */
