#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""qapi-gen.py - nethub's schema compiler.

Reads nethub's QMP schema (ctl/qapi/nethub.json and the files it includes,
written in QAPI style: Python-like literals with '#' comments and '##' doc
blocks), checks it, and writes:

  --c FILE    C source defining `const char schema_data_json[]`, a compact
              JSON model of every type, command and event that ctl/schema.c
              loads at start-up: the model validation walks, the
              query-qmp-schema answer (computed here, as QEMU computes it),
              and the doc examples (so a unit test can check them);
  --doc FILE  the QMP reference in Markdown (committed as
              docs/qmp-reference.md).

A schema that is wrong in any way (unknown type, duplicate name, bad
discriminator, undocumented member, example that is not JSON, ...) is
reported as FILE:LINE: what is wrong, and the exit status is 1, so a
broken schema fails the build.  Output is deterministic: the same schema
gives the same bytes.  Python 3 standard library only.
"""

import argparse
import json
import os
import re
import sys

# Built-in types and the JSON type each stands for (QEMU's names)
BUILTINS = {
    'str': 'string',
    'int': 'int', 'int8': 'int', 'int16': 'int', 'int32': 'int',
    'int64': 'int', 'uint8': 'int', 'uint16': 'int', 'uint32': 'int',
    'uint64': 'int', 'size': 'int',
    'number': 'number',
    'bool': 'boolean',
    'any': 'value',
    'null': 'null',
}

# Which JSON values may select an alternate's branch of each built-in type
ALT_CATEGORY = {'string': 'string', 'int': 'number', 'number': 'number',
                'boolean': 'boolean', 'null': 'null'}

SECTION_TAGS = ('Returns', 'Errors', 'Example', 'Note')
EXTENSION_LINE = 'nethub extension'
EXTENSION_MEMBER_PREFIX = '(nethub extension)'

NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_-]*$')
EVENT_RE = re.compile(r'^[A-Z][A-Z0-9_]*$')
COMMAND_RE = re.compile(r'^[a-z][a-z0-9_-]*$')


class SchemaError(Exception):
    """A problem in the schema, located at FILE:LINE"""

    def __init__(self, where, msg):
        super().__init__('%s: %s' % (where, msg))


class Where:
    def __init__(self, path, line):
        self.path = path
        self.line = line

    def __str__(self):
        return '%s:%d' % (self.path, self.line)


# ---------------------------------------------------------------------------
# Reading: tokens, expressions, doc blocks

class Doc:
    """One '##' doc block: a definition's documentation or free-form text"""

    def __init__(self, where):
        self.where = where
        self.symbol = None        # '@Name:' blocks: the name documented
        self.title = None         # free-form '= Title' blocks
        self.text = []            # free-form text lines
        self.body = []            # definition: description lines
        self.members = {}         # '@member:' descriptions
        self.member_where = {}
        self.sections = []        # (tag, [lines]) in order
        self.extension = False


def parse_doc(lines, where):
    doc = Doc(where)
    if not lines:
        raise SchemaError(where, 'empty doc comment')
    first = lines[0]
    if not first.startswith('@'):
        if first.startswith('= '):
            doc.title = first[2:].strip()
            lines = lines[1:]
        doc.text = trim_blank(lines)
        return doc
    m = re.match(r'^@([A-Za-z0-9_-]+):$', first)
    if not m:
        raise SchemaError(where, "a definition's doc comment starts with "
                          "'@Name:' alone on its line")
    doc.symbol = m.group(1)
    state = 'body'
    member = None
    section = None
    for i, line in enumerate(lines[1:], start=1):
        lwhere = Where(where.path, where.line + i + 1)
        mm = re.match(r'^@([A-Za-z0-9_-]+):(.*)$', line)
        tm = re.match(r'^(%s):(.*)$' % '|'.join(SECTION_TAGS), line)
        if mm and state != 'section':
            name = mm.group(1)
            if name in doc.members:
                raise SchemaError(lwhere, "'@%s' is described twice" % name)
            doc.members[name] = [mm.group(2).strip()]
            doc.member_where[name] = lwhere
            member = name
            state = 'members'
        elif mm:
            raise SchemaError(lwhere, "'@%s:' after a section; member "
                              "descriptions come before Returns:, Errors:, "
                              "Example: and Note:" % mm.group(1))
        elif tm:
            section = (tm.group(1), [])
            rest = tm.group(2).strip()
            if rest:
                section[1].append(rest)
            doc.sections.append(section)
            state = 'section'
        elif state == 'body':
            if line.strip() == EXTENSION_LINE:
                doc.extension = True
            else:
                doc.body.append(line)
        elif state == 'members':
            if not line.strip():
                member = None
            elif member is None:
                raise SchemaError(lwhere, 'text after the member descriptions '
                                  'belongs in a section (Returns:, Errors:, '
                                  'Example:, Note:)')
            else:
                doc.members[member].append(line.strip())
        else:
            section[1].append(line)
    doc.body = trim_blank(doc.body)
    doc.members = {k: ' '.join(v).strip() for k, v in doc.members.items()}
    doc.sections = [(tag, trim_blank(text)) for tag, text in doc.sections]
    return doc


def trim_blank(lines):
    lines = list(lines)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


class Reader:
    """Tokenizes one schema file into a list of items: ('doc', Doc) and
    ('expr', dict, Where)"""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, encoding='utf-8') as f:
                self.text = f.read()
        except OSError as e:
            raise SchemaError(Where(path, 0), 'cannot read: %s' % e.strerror)
        self.pos = 0
        self.line = 1
        self.tok = None
        self.tok_val = None
        self.tok_line = 1
        self.docs = []

    def where(self, line=None):
        return Where(self.path, self.line if line is None else line)

    def error(self, msg, line=None):
        return SchemaError(self.where(line), msg)

    def read_doc_block(self):
        """At a line '##': read the block up to the closing '##' line"""
        start = self.line
        lines = []
        end = self.text.find('\n', self.pos)
        self.pos = len(self.text) if end < 0 else end + 1
        self.line += 1
        while True:
            if self.pos >= len(self.text):
                raise self.error('doc comment not closed by a line "##"',
                                 start)
            end = self.text.find('\n', self.pos)
            if end < 0:
                end = len(self.text)
            line = self.text[self.pos:end]
            self.pos = end + 1
            self.line += 1
            if line.rstrip() == '##':
                break
            if not line.startswith('#'):
                raise self.error('doc comment line does not start with "#"',
                                 self.line - 1)
            if line.startswith('# '):
                line = line[2:]
            elif line.rstrip() == '#':
                line = ''
            else:
                raise self.error('doc comment line should start with "# "',
                                 self.line - 1)
            lines.append(line.rstrip())
        return parse_doc(lines, Where(self.path, start))

    def next_token(self):
        text = self.text
        while True:
            if self.pos >= len(text):
                self.tok = None
                return
            c = text[self.pos]
            if c == '#':
                bol = text.rfind('\n', 0, self.pos) + 1
                eol = text.find('\n', self.pos)
                eol = len(text) if eol < 0 else eol
                if (text[bol:self.pos].strip() == '' and
                        text[self.pos:eol].rstrip() == '##'):
                    self.docs.append(self.read_doc_block())
                    continue
                self.pos = eol
                continue
            if c == '\n':
                self.line += 1
                self.pos += 1
                continue
            if c in ' \t\r':
                self.pos += 1
                continue
            self.tok_line = self.line
            if c in '{}[],:':
                self.tok = c
                self.pos += 1
                return
            if c == "'":
                self.pos += 1
                out = []
                while True:
                    if self.pos >= len(text) or text[self.pos] == '\n':
                        raise self.error('string not closed')
                    ch = text[self.pos]
                    self.pos += 1
                    if ch == "'":
                        break
                    if ch == '\\':
                        raise self.error('escapes are not allowed in strings')
                    out.append(ch)
                self.tok = 'str'
                self.tok_val = ''.join(out)
                return
            for word, val in (('true', True), ('false', False)):
                if text.startswith(word, self.pos):
                    self.pos += len(word)
                    self.tok = 'bool'
                    self.tok_val = val
                    return
            raise self.error("unexpected character %r" % c)

    def value(self):
        if self.tok == '{':
            obj = {}
            self.next_token()
            if self.tok == '}':
                self.next_token()
                return obj
            while True:
                if self.tok != 'str':
                    raise self.error('expected a string key', self.tok_line)
                key = self.tok_val
                if key in obj:
                    raise self.error("duplicate key '%s'" % key, self.tok_line)
                self.next_token()
                if self.tok != ':':
                    raise self.error("expected ':'", self.tok_line)
                self.next_token()
                obj[key] = self.value()
                if self.tok == '}':
                    self.next_token()
                    return obj
                if self.tok != ',':
                    raise self.error("expected ',' or '}'", self.tok_line)
                self.next_token()
        if self.tok == '[':
            arr = []
            self.next_token()
            if self.tok == ']':
                self.next_token()
                return arr
            while True:
                arr.append(self.value())
                if self.tok == ']':
                    self.next_token()
                    return arr
                if self.tok != ',':
                    raise self.error("expected ',' or ']'", self.tok_line)
                self.next_token()
        if self.tok in ('str', 'bool'):
            val = self.tok_val
            self.next_token()
            return val
        raise self.error('expected a value', self.tok_line)

    def items(self):
        """Every top-level expression with the docs before it"""
        out = []
        self.next_token()
        while True:
            docs, self.docs = self.docs, []
            if self.tok is None:
                out.extend(('doc', d) for d in docs)
                return out
            line = self.tok_line
            if self.tok != '{':
                raise self.error('expected a definition { ... }', line)
            expr = self.value()
            # the doc block right before a definition documents it; the
            # blocks before that one are free-form text
            defdoc = None
            if docs and docs[-1].symbol is not None:
                defdoc = docs.pop()
            for d in docs:
                if d.symbol is not None:
                    raise SchemaError(d.where, "doc comment for '%s' is not "
                                      "followed by its definition" % d.symbol)
            out.extend(('doc', d) for d in docs)
            out.append(('expr', expr, Where(self.path, line), defdoc))


def read_schema(top):
    """Expand includes; return [('doc', Doc) | ('expr', dict, Where, Doc)]"""
    seen = set()
    out = []

    def read(path, stack):
        real = os.path.realpath(path)
        if real in stack:
            raise SchemaError(Where(path, 0), 'include cycle')
        if real in seen:
            return
        seen.add(real)
        for item in Reader(path).items():
            if item[0] == 'expr' and 'include' in item[1]:
                expr, where = item[1], item[2]
                if set(expr) != {'include'} or not isinstance(
                        expr['include'], str):
                    raise SchemaError(where, "an include is { 'include': "
                                      "'FILE' } and nothing else")
                if item[3] is not None:
                    raise SchemaError(item[3].where,
                                      'an include has no doc comment')
                inc = os.path.join(os.path.dirname(path), expr['include'])
                if not os.path.isfile(inc):
                    raise SchemaError(where, "cannot include '%s': no such "
                                      'file' % expr['include'])
                read(inc, stack | {real})
            else:
                out.append(item)

    read(top, frozenset())
    return out, sorted(seen)


# ---------------------------------------------------------------------------
# The schema model

class Member:
    def __init__(self, name, typ, optional, where, doc=None):
        self.name = name
        self.type = typ           # a type reference: 'T' or '[T]'
        self.optional = optional
        self.where = where
        self.doc = doc or ''


class Entity:
    def __init__(self, kind, name, where, doc, section):
        self.kind = kind          # enum struct union alternate command event
        self.name = name
        self.where = where
        self.doc = doc
        self.section = section
        self.implicit = False
        # types
        self.values = []          # enum
        self.members = []         # struct/union own members (Member)
        self.base = None          # struct: base type name; union: base name
        self.tag = None           # union discriminator
        self.variants = {}        # union: case -> type name (as written)
        self.branches = []        # alternate: Member(name, type)
        # commands / events
        self.arg_type = None
        self.ret_type = None
        self.boxed = False
        self.allow_oob = False


def check_keys(expr, where, allowed, required):
    for k in required:
        if k not in expr:
            raise SchemaError(where, "missing '%s'" % k)
    for k in expr:
        if k not in allowed:
            raise SchemaError(where, "unknown key '%s'" % k)


def type_ref(value, where, what):
    if isinstance(value, str):
        return value
    if (isinstance(value, list) and len(value) == 1 and
            isinstance(value[0], str)):
        return '[' + value[0] + ']'
    raise SchemaError(where, "%s must be a type name or ['TYPE']" % what)


def members_of(data, where, what):
    if not isinstance(data, dict):
        raise SchemaError(where, '%s must be an object of members' % what)
    out = []
    for key, val in data.items():
        optional = key.startswith('*')
        name = key[1:] if optional else key
        if not NAME_RE.match(name):
            raise SchemaError(where, "%s: bad member name '%s'" % (what, key))
        out.append(Member(name, type_ref(val, where, "member '%s'" % name),
                          optional, where))
    return out


class Schema:
    def __init__(self, top):
        self.entities = []        # definitions in order (incl. implicit)
        self.types = {}           # name -> Entity (objects, enums, alts)
        self.byname = {}          # every definition's name
        self.sections = []        # [title, Doc text, [entities]]
        self.intro = []           # free-form text before the first title
        items, self.files = read_schema(top)
        self._build(items)
        self._check()

    # ---- building

    def _define(self, ent):
        if ent.name in self.byname or ent.name in BUILTINS:
            prev = self.byname.get(ent.name)
            raise SchemaError(ent.where, "'%s' is already defined%s" % (
                ent.name, ' at %s' % prev.where if prev else ' (built in)'))
        self.byname[ent.name] = ent
        if ent.kind in ('enum', 'struct', 'union', 'alternate'):
            self.types[ent.name] = ent
        self.entities.append(ent)

    def _implicit(self, name, members, where, owner=None):
        ent = Entity('struct', name, where, None, None)
        ent.members = members
        ent.implicit = True
        ent.owner = owner
        self.types[name] = ent
        self.byname[name] = ent
        return ent

    def _build(self, items):
        self._implicit('q_empty', [], Where('<built in>', 0))
        section = None
        for item in items:
            if item[0] == 'doc':
                doc = item[1]
                if doc.title:
                    section = self._section(doc.title)
                    if doc.text:
                        section[1].extend(doc.text)
                elif section is None:
                    self.intro.extend(doc.text + [''])
                else:
                    raise SchemaError(doc.where, 'free-form doc text belongs '
                                      "under a '= Title' line")
                continue
            expr, where, doc = item[1], item[2], item[3]
            self._definition(expr, where, doc, section)

    def _section(self, title):
        for s in self.sections:
            if s[0] == title:
                return s
        s = [title, [], []]
        self.sections.append(s)
        return s

    def _definition(self, expr, where, doc, section):
        kinds = [k for k in ('enum', 'struct', 'union', 'alternate',
                             'command', 'event') if k in expr]
        if len(kinds) != 1:
            raise SchemaError(where, 'a definition names exactly one of enum, '
                              'struct, union, alternate, command, event')
        kind = kinds[0]
        name = expr[kind]
        if not isinstance(name, str):
            raise SchemaError(where, '%s name must be a string' % kind)
        pattern = {'event': EVENT_RE, 'command': COMMAND_RE}.get(kind, NAME_RE)
        if not pattern.match(name) or name.startswith('q_'):
            raise SchemaError(where, "bad %s name '%s'" % (kind, name))
        if doc is None:
            raise SchemaError(where, "'%s' has no doc comment" % name)
        if doc.symbol != name:
            raise SchemaError(doc.where, "doc comment names '%s' but "
                              "documents '%s'" % (doc.symbol, name))
        if section is None:
            raise SchemaError(where, "'%s' comes before any '= Title' doc "
                              'section' % name)
        ent = Entity(kind, name, where, doc, section)
        getattr(self, '_def_' + kind)(ent, expr, where)
        self._define(ent)
        section[2].append(ent)

    def _def_enum(self, ent, expr, where):
        check_keys(expr, where, ('enum', 'data'), ('data',))
        data = expr['data']
        if not isinstance(data, list) or not data:
            raise SchemaError(where, "enum 'data' must be a list of values")
        for v in data:
            if not isinstance(v, str) or not NAME_RE.match(v):
                raise SchemaError(where, 'bad enum value %r' % (v,))
            if v in ent.values:
                raise SchemaError(where, "duplicate enum value '%s'" % v)
            ent.values.append(v)

    def _def_struct(self, ent, expr, where):
        check_keys(expr, where, ('struct', 'data', 'base'), ('data',))
        ent.members = members_of(expr['data'], where, "'data'")
        if 'base' in expr:
            if not isinstance(expr['base'], str):
                raise SchemaError(where, "struct 'base' must be a type name")
            ent.base = expr['base']

    def _def_union(self, ent, expr, where):
        check_keys(expr, where, ('union', 'base', 'discriminator', 'data'),
                   ('base', 'discriminator', 'data'))
        base = expr['base']
        if isinstance(base, dict):
            implicit = self._implicit('q_obj_%s-base' % ent.name,
                                      members_of(base, where, "'base'"),
                                      where, "'%s' base" % ent.name)
            ent.base = implicit.name
            ent.members = implicit.members
        elif isinstance(base, str):
            ent.base = base
        else:
            raise SchemaError(where, "union 'base' must be a type name or "
                              'an object of members')
        if not isinstance(expr['discriminator'], str):
            raise SchemaError(where, "'discriminator' must be a member name")
        ent.tag = expr['discriminator']
        if not isinstance(expr['data'], dict) or not expr['data']:
            raise SchemaError(where, "union 'data' must map the "
                              "discriminator's values to types")
        for case, typ in expr['data'].items():
            if not isinstance(typ, str):
                raise SchemaError(where, "union branch '%s' must name a "
                                  'struct type' % case)
            ent.variants[case] = typ

    def _def_alternate(self, ent, expr, where):
        check_keys(expr, where, ('alternate', 'data'), ('data',))
        data = expr['data']
        if not isinstance(data, dict) or len(data) < 2:
            raise SchemaError(where, "alternate 'data' needs two branches or "
                              'more')
        for key, typ in data.items():
            if not NAME_RE.match(key) or not isinstance(typ, str):
                raise SchemaError(where, "alternate branch '%s' must name a "
                                  'type' % key)
            ent.branches.append(Member(key, typ, False, where))

    def _data_arg(self, ent, expr, where):
        if 'data' not in expr:
            if ent.boxed:
                raise SchemaError(where, "'boxed' needs 'data' naming a type")
            return None
        data = expr['data']
        if isinstance(data, dict):
            if ent.boxed:
                raise SchemaError(where, "'boxed' needs 'data' naming a type")
            if not data:
                return None
            return self._implicit('q_obj_%s-arg' % ent.name,
                                  members_of(data, where, "'data'"),
                                  where, "'%s'" % ent.name).name
        if isinstance(data, str):
            return data
        raise SchemaError(where, "'data' must be a type name or an object of "
                          'members')

    def _def_command(self, ent, expr, where):
        check_keys(expr, where, ('command', 'data', 'returns', 'boxed',
                                 'allow-oob'), ())
        for flag in ('boxed', 'allow-oob'):
            if flag in expr and not isinstance(expr[flag], bool):
                raise SchemaError(where, "'%s' must be true or false" % flag)
        ent.boxed = expr.get('boxed', False)
        ent.allow_oob = expr.get('allow-oob', False)
        ent.arg_type = self._data_arg(ent, expr, where)
        if 'returns' in expr:
            ent.ret_type = type_ref(expr['returns'], where, "'returns'")

    def _def_event(self, ent, expr, where):
        check_keys(expr, where, ('event', 'data', 'boxed'), ())
        if 'boxed' in expr and not isinstance(expr['boxed'], bool):
            raise SchemaError(where, "'boxed' must be true or false")
        ent.boxed = expr.get('boxed', False)
        ent.arg_type = self._data_arg(ent, expr, where)

    # ---- checking

    def resolve(self, ref, where, what):
        """The Entity (or builtin name) a reference names; errors if none"""
        if ref.startswith('['):
            inner = ref[1:-1]
            if inner.startswith('['):
                raise SchemaError(where, '%s: lists of lists are not '
                                  'supported' % what)
            self.resolve(inner, where, what)
            return ref
        if ref in BUILTINS:
            return ref
        ent = self.types.get(ref)
        if ent is None:
            if ref in self.byname:
                raise SchemaError(where, "%s: '%s' is a %s, not a type" % (
                    what, ref, self.byname[ref].kind))
            raise SchemaError(where, "%s: unknown type '%s'" % (what, ref))
        return ent

    def json_type(self, ref):
        if ref.startswith('['):
            return 'array'
        if ref in BUILTINS:
            return BUILTINS[ref]
        kind = self.types[ref].kind
        return {'enum': 'string', 'struct': 'object', 'union': 'object',
                'alternate': 'alternate'}[kind]

    def flat_members(self, ent, seen=()):
        """A struct's or union's members, its base's first"""
        if ent.name in seen:
            raise SchemaError(ent.where, "'%s' is its own base" % ent.name)
        out = []
        if ent.base:
            base = self.resolve(ent.base, ent.where, "'%s' base" % ent.name)
            if isinstance(base, str) or base.kind != 'struct':
                raise SchemaError(ent.where, "'%s': base '%s' must be a "
                                  'struct' % (ent.name, ent.base))
            out = self.flat_members(base, seen + (ent.name,))
        if ent.kind == 'union':
            # a union's own members are those of its (implicit) base
            return out
        return out + ent.members

    def _check(self):
        for ent in list(self.types.values()):
            what = getattr(ent, 'owner', None) or "'%s'" % ent.name
            for m in ent.members + ent.branches:
                self.resolve(m.type, m.where,
                             "%s member '%s'" % (what, m.name))
            if ent.kind in ('struct', 'union'):
                self.flat_members(ent)
            if ent.kind == 'union':
                self._check_union(ent)
            if ent.kind == 'alternate':
                self._check_alternate(ent)
        for ent in self.types.values():
            if ent.kind in ('struct', 'union'):
                self._check_clashes(ent)
        for ent in self.entities:
            if ent.kind not in ('command', 'event'):
                continue
            what = "'%s'" % ent.name
            if ent.arg_type:
                t = self.resolve(ent.arg_type, ent.where, '%s data' % what)
                if isinstance(t, str) or t.kind not in ('struct', 'union'):
                    raise SchemaError(ent.where, "%s: 'data' must name an "
                                      'object type' % what)
                if t.kind == 'union' and not ent.boxed:
                    raise SchemaError(ent.where, "%s: a union as 'data' needs "
                                      "'boxed': true" % what)
            if ent.ret_type:
                t = self.resolve(ent.ret_type, ent.where, '%s returns' % what)
                if not (ent.ret_type.startswith('[') or (
                        not isinstance(t, str) and t.kind in
                        ('struct', 'union'))):
                    raise SchemaError(ent.where, "%s: 'returns' must be an "
                                      'object type or a list' % what)
        for ent in self.entities:
            self._check_doc(ent)

    def _check_union(self, ent):
        what = "union '%s'" % ent.name
        tag = [m for m in self.flat_members(ent) if m.name == ent.tag]
        if not tag:
            raise SchemaError(ent.where, "%s: discriminator '%s' is not a "
                              'member of its base' % (what, ent.tag))
        tag = tag[0]
        enum = self.types.get(tag.type)
        if tag.optional or enum is None or enum.kind != 'enum':
            raise SchemaError(ent.where, "%s: discriminator '%s' must be a "
                              'required member of an enum type' % (
                                  what, ent.tag))
        for case, typ in ent.variants.items():
            if case not in enum.values:
                raise SchemaError(ent.where, "%s: branch '%s' is not a value "
                                  "of '%s'" % (what, case, enum.name))
            t = self.resolve(typ, ent.where, "%s branch '%s'" % (what, case))
            if isinstance(t, str) or t.kind != 'struct':
                raise SchemaError(ent.where, "%s: branch '%s' must be a "
                                  'struct' % (what, case))
        ent.tag_enum = enum

    def _check_alternate(self, ent):
        seen = {}
        for b in ent.branches:
            self.resolve(b.type, b.where, "alternate '%s' branch '%s'" % (
                ent.name, b.name))
            jt = self.json_type(b.type)
            if jt in ('value', 'alternate'):
                raise SchemaError(ent.where, "alternate '%s': branch '%s' "
                                  'cannot be told apart by its JSON type' % (
                                      ent.name, b.name))
            cat = ALT_CATEGORY.get(jt, jt)
            if cat in seen:
                raise SchemaError(ent.where, "alternate '%s': branches '%s' "
                                  "and '%s' take the same JSON values" % (
                                      ent.name, seen[cat], b.name))
            seen[cat] = b.name

    def _check_clashes(self, ent):
        names = {}
        members = self.flat_members(ent)
        for m in members:
            if m.name in names:
                raise SchemaError(ent.where, "'%s': member '%s' is defined "
                                  'twice' % (ent.name, m.name))
            names[m.name] = m
        for case, typ in ent.variants.items():
            for m in self.flat_members(self.types[typ]):
                if m.name in names:
                    raise SchemaError(ent.where, "'%s': member '%s' of branch "
                                      "'%s' clashes with a base member" % (
                                          ent.name, m.name, case))

    def _check_doc(self, ent):
        doc = ent.doc
        if ent.kind == 'enum':
            want = list(ent.values)
        elif ent.kind == 'struct':
            want = [m.name for m in ent.members]
        elif ent.kind == 'union':
            want = ([m.name for m in ent.members]
                    if self.types[ent.base].implicit else [])
        elif ent.kind == 'alternate':
            want = [b.name for b in ent.branches]
        elif ent.arg_type and self.types[ent.arg_type].implicit:
            want = [m.name for m in self.types[ent.arg_type].members]
        else:
            want = []
        for name in want:
            if name not in doc.members:
                raise SchemaError(doc.where, "'%s': '@%s' is not documented" %
                                  (ent.name, name))
        for name in doc.members:
            if name not in want:
                raise SchemaError(doc.member_where[name], "'%s' has no member "
                                  "'%s'" % (ent.name, name))
        # member docs travel with the members
        if ent.kind in ('struct', 'union'):
            for m in ent.members:
                m.doc = doc.members.get(m.name, '')
        elif ent.kind == 'alternate':
            for b in ent.branches:
                b.doc = doc.members[b.name]
        elif ent.arg_type and self.types[ent.arg_type].implicit:
            for m in self.types[ent.arg_type].members:
                m.doc = doc.members[m.name]
        if ent.kind not in ('command', 'event') and any(
                tag == 'Returns' for tag, _ in doc.sections):
            raise SchemaError(doc.where, "'%s': only a command has Returns:" %
                              ent.name)
        ent.examples = []
        for tag, text in doc.sections:
            if tag == 'Example':
                ent.examples.append(self._example(ent, text))

    def _example(self, ent, lines):
        """Parse an Example: section: '-> JSON' and '<- JSON' messages"""
        msgs = []
        for line in lines:
            s = line.strip()
            if s.startswith('->') or s.startswith('<-'):
                msgs.append([s[:2], s[2:]])
            elif not s:
                continue
            elif msgs:
                msgs[-1][1] += '\n' + line
            else:
                raise SchemaError(ent.doc.where, "'%s': an example is made of "
                                  "'-> JSON' and '<- JSON' lines" % ent.name)
        if not msgs:
            raise SchemaError(ent.doc.where, "'%s': empty example" % ent.name)
        out = []
        for arrow, text in msgs:
            try:
                msg = json.loads(text)
            except ValueError as e:
                raise SchemaError(ent.doc.where, "'%s': example message is "
                                  'not JSON (%s): %s' % (
                                      ent.name, e, text.strip()))
            if not isinstance(msg, dict):
                raise SchemaError(ent.doc.where, "'%s': example message is "
                                  'not a JSON object' % ent.name)
            out.append((arrow, msg))
        if ent.kind == 'command':
            reqs = [m for a, m in out if a == '->']
            if not reqs or any(m.get('execute') != ent.name for m in reqs):
                raise SchemaError(ent.doc.where, "'%s': an example must "
                                  "execute '%s'" % (ent.name, ent.name))
        if ent.kind == 'event':
            if any(a != '<-' or m.get('event') != ent.name for a, m in out):
                raise SchemaError(ent.doc.where, "'%s': an example must show "
                                  "the event '%s'" % (ent.name, ent.name))
        return {'lines': lines, 'messages': out}


# ---------------------------------------------------------------------------
# The C model

def model_type(schema, ent):
    if ent.kind == 'enum':
        return {'meta': 'enum', 'values': ent.values}
    if ent.kind == 'alternate':
        return {'meta': 'alternate', 'members': [b.type for b in ent.branches]}
    obj = {'meta': 'object', 'members': []}
    for m in schema.flat_members(ent):
        mm = {'name': m.name, 'type': m.type}
        if m.optional:
            mm['optional'] = True
        obj['members'].append(mm)
    if ent.kind == 'union':
        obj['tag'] = ent.tag
        obj['variants'] = {v: ent.variants.get(v, 'q_empty')
                           for v in ent.tag_enum.values}
    return obj


def introspect(schema):
    """query-qmp-schema's answer, computed as QEMU computes it: commands and
    events in definition order, then every type they use (in the order of
    first use), type names masked as "0", "1", ..., integer types as "int"
    """
    used = []
    names = {}

    def mask(name):
        if name not in names:
            names[name] = '%d' % len(names)
        return names[name]

    def use(ref):
        if ref in BUILTINS and BUILTINS[ref] == 'int':
            ref = 'int'
        elif ref.startswith('[') and BUILTINS.get(ref[1:-1]) == 'int':
            ref = '[int]'
        if ref not in used:
            used.append(ref)
        if ref in BUILTINS:
            return ref
        if ref.startswith('['):
            return '[' + use(ref[1:-1]) + ']'
        return mask(ref)

    out = []
    for ent in schema.entities:
        if ent.kind == 'command':
            info = {'name': ent.name, 'meta-type': 'command',
                    'arg-type': use(ent.arg_type or 'q_empty'),
                    'ret-type': use(ent.ret_type or 'q_empty')}
            if ent.allow_oob:
                info['allow-oob'] = True
            out.append(info)
        elif ent.kind == 'event':
            out.append({'name': ent.name, 'meta-type': 'event',
                        'arg-type': use(ent.arg_type or 'q_empty')})
    i = 0
    while i < len(used):
        ref = used[i]
        i += 1
        if ref in BUILTINS:
            out.append({'name': ref, 'meta-type': 'builtin',
                        'json-type': BUILTINS[ref]})
        elif ref.startswith('['):
            elem = use(ref[1:-1])
            out.append({'name': '[' + elem + ']', 'meta-type': 'array',
                        'element-type': elem})
        else:
            ent = schema.types[ref]
            info = {'name': mask(ref)}
            if ent.kind == 'enum':
                info['meta-type'] = 'enum'
                info['values'] = list(ent.values)
                info['members'] = [{'name': v} for v in ent.values]
            elif ent.kind == 'alternate':
                info['meta-type'] = 'alternate'
                info['members'] = [{'type': use(b.type)}
                                   for b in ent.branches]
            else:
                info['meta-type'] = 'object'
                info['members'] = []
                for m in schema.flat_members(ent):
                    mi = {'name': m.name, 'type': use(m.type)}
                    if m.optional:
                        mi['default'] = None
                    info['members'].append(mi)
                if ent.kind == 'union':
                    # QEMU's order: the branches as written, then the tag
                    # values without one (no further members)
                    cases = list(ent.variants) + [
                        v for v in ent.tag_enum.values
                        if v not in ent.variants]
                    info['tag'] = ent.tag
                    info['variants'] = [
                        {'case': v,
                         'type': use(ent.variants.get(v, 'q_empty'))}
                        for v in cases]
            out.append(info)
    return out


def gen_c(schema):
    model = {
        'types': {name: model_type(schema, ent)
                  for name, ent in schema.types.items()},
        'commands': [],
        'events': [],
        'introspection': introspect(schema),
        'examples': [],
    }
    for ent in schema.entities:
        if ent.kind == 'command':
            c = {'name': ent.name}
            if ent.arg_type:
                c['arg-type'] = ent.arg_type
            if ent.ret_type:
                c['ret-type'] = ent.ret_type
            if ent.boxed:
                c['boxed'] = True
            model['commands'].append(c)
        elif ent.kind == 'event':
            e = {'name': ent.name}
            if ent.arg_type:
                e['arg-type'] = ent.arg_type
            model['events'].append(e)
        for ex in getattr(ent, 'examples', []):
            for arrow, msg in ex['messages']:
                model['examples'].append({'of': ent.name, 'kind': ent.kind,
                                          'direction': arrow, 'message': msg})
    text = json.dumps(model, sort_keys=True, separators=(',', ':'),
                      ensure_ascii=True)
    out = ['/* Generated by ctl/qapi-gen.py from ctl/qapi/: do not edit. */',
           '/* The schema model ctl/schema.c loads (see ctl/schema.h). */',
           '',
           'extern const char schema_data_json[];',
           'const char schema_data_json[] =']
    step = 72
    for i in range(0, len(text), step):
        chunk = text[i:i + step].replace('\\', '\\\\').replace('"', '\\"')
        out.append('\t"%s"' % chunk)
    out[-1] += ';'
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------------------
# The Markdown reference

def md_text(lines):
    """Doc text to Markdown: '@name' becomes `name`"""
    return [re.sub(r'(?<![\w`@])@([A-Za-z0-9_-]+)', r'`\1`', ln)
            for ln in lines]


def first_sentence(lines):
    text = ' '.join(ln.strip() for ln in lines if ln.strip())
    m = re.match(r'(.+?\.)(\s|$)', text)
    return md_text([m.group(1) if m else text])[0]


class DocWriter:
    def __init__(self, schema):
        self.s = schema
        self.out = []

    def w(self, *lines):
        self.out.extend(lines)

    def type_md(self, ref):
        if ref.startswith('['):
            return 'list of ' + self.type_md(ref[1:-1])
        if ref in BUILTINS:
            return '`%s`' % ref
        ent = self.s.types[ref]
        if ent.implicit:
            return 'object'
        return '[`%s`](#type-%s)' % (ref, ref.lower())

    def member_rows(self, members):
        self.w('| Name | Type | Presence | Description |',
               '|---|---|---|---|')
        for m in members:
            desc = m.doc
            if desc.startswith(EXTENSION_MEMBER_PREFIX):
                desc = ('*nethub extension.* ' +
                        desc[len(EXTENSION_MEMBER_PREFIX):].strip())
            presence = 'optional' if m.optional else 'required'
            dm = re.search(r'\s*\(default:? ([^)]*)\)', desc)
            if m.optional and dm:
                presence = 'optional, default %s' % dm.group(1)
                desc = desc[:dm.start()] + desc[dm.end():]
            self.w('| `%s` | %s | %s | %s |' % (
                m.name, self.type_md(m.type), md_text([presence])[0],
                md_text([desc])[0].replace('|', '\\|')))
        self.w('')

    def body(self, ent):
        if ent.doc.extension:
            self.w("*nethub extension: not part of QEMU's interface.*", '')
        if ent.doc.body:
            self.w(*md_text(ent.doc.body))
            self.w('')

    def sections(self, ent, skip=()):
        for tag, text in ent.doc.sections:
            if tag in skip:
                continue
            if tag == 'Example':
                self.w('**Example:**', '', '```')
                lines = [ln for ln in text]
                indent = min((len(ln) - len(ln.lstrip())
                              for ln in lines if ln.strip()), default=0)
                self.w(*[ln[indent:] for ln in lines])
                self.w('```', '')
            elif tag == 'Returns':
                continue
            else:
                label = {'Errors': 'Errors', 'Note': 'Note'}[tag]
                self.w('**%s:**' % label, '')
                self.w(*md_text(text))
                self.w('')

    def heading_name(self, ent):
        ext = ' (nethub extension)' if ent.doc.extension else ''
        return '`%s`%s' % (ent.name, ext)

    def command(self, ent):
        self.w('<a id="cmd-%s"></a>' % ent.name.lower(), '',
               '#### %s' % self.heading_name(ent), '')
        self.body(ent)
        self.w('**Arguments:**', '')
        if ent.arg_type is None:
            self.w('None.', '')
        else:
            t = self.s.types[ent.arg_type]
            if t.implicit:
                self.member_rows(t.members)
            else:
                self.w('The members of %s%s.' % (
                    self.type_md(ent.arg_type),
                    ', given directly as the arguments object' if ent.boxed
                    else ''), '')
        ret = [text for tag, text in ent.doc.sections if tag == 'Returns']
        self.w('**Returns:** %s%s' % (
            self.type_md(ent.ret_type) if ent.ret_type else 'an empty object '
            '`{}`', (' — ' + ' '.join(md_text(ret[0]))) if ret else ''), '')
        self.sections(ent)

    def event(self, ent):
        self.w('<a id="event-%s"></a>' % ent.name.lower(), '',
               '### %s' % self.heading_name(ent), '')
        self.body(ent)
        self.w('**Data:**', '')
        if ent.arg_type is None:
            self.w('None.', '')
        else:
            t = self.s.types[ent.arg_type]
            if t.implicit:
                self.member_rows(t.members)
            else:
                self.w('The members of %s.' % self.type_md(ent.arg_type), '')
        self.sections(ent)

    def typ(self, ent):
        kind = {'enum': 'enum', 'struct': 'object', 'union': 'union',
                'alternate': 'alternate'}[ent.kind]
        self.w('<a id="type-%s"></a>' % ent.name.lower(), '',
               '### %s (%s)' % (self.heading_name(ent), kind), '')
        self.body(ent)
        if ent.kind == 'enum':
            self.w('| Value | Description |', '|---|---|')
            for v in ent.values:
                self.w('| `%s` | %s |' % (v, md_text(
                    [ent.doc.members[v]])[0].replace('|', '\\|')))
            self.w('')
        elif ent.kind == 'alternate':
            self.w('One of these, told apart by their JSON type:', '',
                   '| Branch | Type | Description |', '|---|---|---|')
            for b in ent.branches:
                self.w('| `%s` | %s | %s |' % (
                    b.name, self.type_md(b.type),
                    md_text([b.doc])[0].replace('|', '\\|')))
            self.w('')
        else:
            base = self.s.types.get(ent.base) if ent.base else None
            if base is not None and not base.implicit:
                self.w('Base: %s (its members come first).' %
                       self.type_md(ent.base), '')
            members = self.s.flat_members(ent)
            if members:
                self.member_rows(members)
            else:
                self.w('No members.', '')
            if ent.kind == 'union':
                self.w('The members that follow depend on `%s`:' % ent.tag,
                       '', '| `%s` | Further members |' % ent.tag, '|---|---|')
                for v in ent.tag_enum.values:
                    typ = ent.variants.get(v)
                    self.w('| `%s` | %s |' % (
                        v, 'those of ' + self.type_md(typ) if typ
                        else 'none'))
                self.w('')
        self.sections(ent)

    def write(self):
        s = self.s
        self.w('<!-- Generated by ctl/qapi-gen.py from ctl/qapi/*.json: do '
               'not edit; edit the schema. -->', '',
               '# nethub QMP reference', '')
        self.w(*md_text(trim_blank(s.intro)))
        self.w('', '## Contents', '', '- [Commands](#commands)')
        for title, _, ents in s.sections:
            if any(e.kind == 'command' for e in ents):
                self.w('  - [%s](#%s)' % (title, self.anchor(title)))
        self.w('- [Events](#events)', '- [Types](#types)', '')
        self.w('## Commands', '')
        for title, text, ents in s.sections:
            cmds = [e for e in ents if e.kind == 'command']
            if not cmds:
                continue
            self.w('<a id="%s"></a>' % self.anchor(title), '',
                   '### %s' % title, '')
            if text:
                self.w(*md_text(text))
                self.w('')
            self.w('| Command | What it does |', '|---|---|')
            for e in cmds:
                self.w('| [`%s`](#cmd-%s)%s | %s |' % (
                    e.name, e.name.lower(),
                    ' *(ext)*' if e.doc.extension else '',
                    first_sentence(e.doc.body)))
            self.w('')
            for e in cmds:
                self.command(e)
        self.w('## Events', '')
        events = [e for e in s.entities if e.kind == 'event']
        self.w('| Event | When |', '|---|---|')
        for e in events:
            self.w('| [`%s`](#event-%s) | %s |' % (
                e.name, e.name.lower(), first_sentence(e.doc.body)))
        self.w('')
        for e in events:
            self.event(e)
        self.w('## Types', '',
               'The named types the commands and events use, in '
               'alphabetical order.  `query-qmp-schema` describes them too, '
               'under masked names.', '')
        for name in sorted((n for n, t in s.types.items() if not t.implicit),
                           key=str.lower):
            self.typ(s.types[name])
        self.w('## Built-in types', '',
               '| Type | JSON value |', '|---|---|',
               '| `str` | string |',
               '| `int`, `int64` | integer, 64-bit signed |',
               '| `int8`, `int16`, `int32` | integer within the signed '
               'range of that width |',
               '| `uint8`, `uint16`, `uint32` | integer within the unsigned '
               'range of that width |',
               '| `uint64`, `size` | integer (as in QEMU, a negative value is '
               'taken modulo 2^64) |',
               '| `number` | integer or real |',
               '| `bool` | `true` or `false` |',
               '| `any` | any JSON value |',
               '| `null` | `null` |', '')
        text = '\n'.join(self.out)
        text = re.sub(r'\n{3,}', '\n\n', text).rstrip('\n') + '\n'
        return text

    @staticmethod
    def anchor(title):
        return 'sec-' + re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')


def check_listed(schema, listed):
    """The build lists every schema file, so that editing one rebuilds:
    the files read and the files listed must be the same"""
    read = {os.path.realpath(p) for p in schema.files}
    named = {os.path.realpath(p) for p in listed}
    for path in sorted(read - named):
        raise SchemaError(Where(path, 0), 'included but not listed with the '
                          'schema files in the build (ctl/meson.build)')
    for path in sorted(named - read):
        raise SchemaError(Where(path, 0), 'listed as a schema file but never '
                          'included')


def main(argv):
    ap = argparse.ArgumentParser(description='nethub schema compiler')
    ap.add_argument('--c', metavar='FILE', help='write the C model here')
    ap.add_argument('--doc', metavar='FILE',
                    help='write the Markdown reference here')
    ap.add_argument('schema', nargs='+', help='the top schema file (first); '
                    'any further files are the ones it includes, listed for '
                    'the build system only')
    args = ap.parse_args(argv)
    try:
        schema = Schema(args.schema[0])
        if len(args.schema) > 1:
            check_listed(schema, args.schema)
        outputs = []
        if args.c:
            outputs.append((args.c, gen_c(schema)))
        if args.doc:
            outputs.append((args.doc, DocWriter(schema).write()))
    except SchemaError as e:
        print('qapi-gen.py: %s' % e, file=sys.stderr)
        return 1
    for path, text in outputs:
        with open(path, 'w', encoding='utf-8', newline='\n') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
