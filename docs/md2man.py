#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""md2man.py - a manual page (roff, man macros) from one of docs/*.md

The documentation is written once, as Markdown in docs/; the manual pages
are made from it at build time, so the two never drift apart.  This reads
the small subset of Markdown the docs use: headings, paragraphs, lists,
indented and fenced code blocks, pipe tables, `code`, **bold**, *italic*
and [links](target).  The page's NAME and SYNOPSIS come from the command
line; the document's own title line is left out, its "##" sections become
the page's sections.

    md2man.py --name nethubd --section 8 --summary TEXT \
        --synopsis 'nethubd [OPTION]...' --version 0.1.0 docs/usage.md out.8
"""

import argparse
import re
import sys


def escape(text):
    """Text as roff shows it literally (no macros, no escapes)."""
    return text.replace('\\', '\\e')


def code_text(text):
    """Literal text in which '-' is a real hyphen-minus (options, paths)."""
    return escape(text).replace('-', '\\-')


INLINE = re.compile(r'`([^`]+)`|\*\*(.+?)\*\*'
                    r'|(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])'
                    r'|!?\[([^\]]+)\]\(([^)\s]+)\)')


def inline(text):
    """One line of Markdown text as roff: fonts for code and emphasis."""
    out, pos = [], 0
    for m in INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append('\\fB' + code_text(m.group(1)) + '\\fR')
        elif m.group(2) is not None:
            out.append('\\fB' + inline(m.group(2)) + '\\fR')
        elif m.group(3) is not None:
            out.append('\\fI' + inline(m.group(3)) + '\\fR')
        else:
            label, target = m.group(4), m.group(5)
            out.append(inline(label))
            if re.match(r'https?://', target):
                out.append(' <' + escape(target) + '>')
        pos = m.end()
    out.append(escape(text[pos:]))
    return ''.join(out)


def safe_line(line):
    """A text line may not start with a control character ('.' or ')."""
    return '\\&' + line if line[:1] in ('.', "'") else line


def split_row(line):
    """The cells of a table row; '|' inside `code` or as '\\|' is text."""
    cells, cell, in_code, i = [], '', False, 0
    body = line.strip()
    if body.startswith('|'):
        body = body[1:]
    if body.endswith('|') and not body.endswith('\\|'):
        body = body[:-1]
    while i < len(body):
        c = body[i]
        if c == '\\' and i + 1 < len(body) and body[i + 1] == '|':
            cell += '|'
            i += 2
            continue
        if c == '`':
            in_code = not in_code
        if c == '|' and not in_code:
            cells.append(cell.strip())
            cell = ''
        else:
            cell += c
        i += 1
    cells.append(cell.strip())
    return cells


def breakable(text):
    """Let a narrow column break long words after '-', ',', '/', '=', '|'
    and '_' (\\: is a break point that prints nothing)."""
    for mark in ('\\-', ',', '/', '=', '|', '_'):
        text = text.replace(mark, mark + '\\:')
    return text


def table(rows):
    """A pipe table as a tbl(1) table; every cell a text block, ragged
    right (narrow columns cannot be justified)."""
    head, body = split_row(rows[0]), [split_row(r) for r in rows[2:]]
    ncol = len(head)
    out = ['.TS', 'allbox tab(\t);',
           ' '.join(['lb'] * ncol),
           ' '.join(['l'] * (ncol - 1) + ['lx']) + '.']
    for cells in [head] + body:
        cells = (cells + [''] * ncol)[:ncol]
        out.append('\t'.join('T{\n.ad l\n' + safe_line(breakable(inline(c)))
                             + '\nT}' for c in cells))
    out.append('.TE')
    return out


def code_block(block):
    """Lines shown as they are, indented."""
    return (['.RS 4', '.nf'] + [safe_line(code_text(b)) for b in block]
            + ['.fi', '.RE'])


LIST_ITEM = re.compile(r'^( {0,3})([-*]|\d+\.) +(.*)$')


def convert(lines):
    """Markdown lines to roff lines."""
    out, i, n = [], 0, len(lines)
    para = []

    def flush():
        if para:
            out.append('.PP')
            out.extend(safe_line(inline(p)) for p in para)
            para.clear()

    while i < n:
        line = lines[i].rstrip('\n')
        if not line.strip():
            flush()
            i += 1
        elif line.startswith('# '):
            flush()
            i += 1  # the document title: the page's NAME says it
        elif line.startswith('## '):
            flush()
            title = inline(line[3:].strip().upper())
            out.append('.SH "' + title.replace('"', '\\(dq') + '"')
            i += 1
        elif re.match(r'^#{3,} ', line):
            flush()
            title = line.lstrip('#').strip()
            out.append('.SS "' + inline(title).replace('"', '\\(dq') + '"')
            i += 1
        elif line.startswith('```'):
            flush()
            i += 1
            block = []
            while i < n and not lines[i].startswith('```'):
                block.append(lines[i].rstrip('\n'))
                i += 1
            i += 1
            out.extend(code_block(block))
        elif line.startswith('    ') and not para:
            block = []
            while i < n and (lines[i].startswith('    ')
                             or not lines[i].strip()):
                block.append(lines[i].rstrip('\n')[4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out.extend(code_block(block))
        elif line.startswith('|'):
            flush()
            rows = []
            while i < n and lines[i].startswith('|'):
                rows.append(lines[i].rstrip('\n'))
                i += 1
            out.extend(table(rows))
        elif LIST_ITEM.match(line) and not para:
            m = LIST_ITEM.match(line)
            mark = '\\(bu' if m.group(2) in '-*' else m.group(2)
            item = [m.group(3)]
            i += 1
            while (i < n and lines[i].strip()
                   and not LIST_ITEM.match(lines[i])
                   and lines[i].startswith(' ')):
                item.append(lines[i].strip())
                i += 1
            out.append('.IP ' + mark + ' 4')
            out.extend(safe_line(inline(t)) for t in item)
        else:
            para.append(line.strip())
            i += 1
    flush()
    return out


def main():
    ap = argparse.ArgumentParser(description='Markdown to a manual page')
    ap.add_argument('--name', required=True)
    ap.add_argument('--section', required=True)
    ap.add_argument('--summary', required=True)
    ap.add_argument('--synopsis', action='append', default=[])
    ap.add_argument('--see-also', default='')
    ap.add_argument('--version', required=True)
    ap.add_argument('input')
    ap.add_argument('output')
    args = ap.parse_args()

    with open(args.input, encoding='utf-8') as f:
        lines = f.readlines()
    manual = {'1': 'User Commands', '8': 'System Administration'}
    page = ["'\\\" t",
            '.\\" Generated from %s by docs/md2man.py; edit that file.'
            % args.input.split('/')[-1],
            '.TH %s %s "" "nethub %s" "%s"' % (
                args.name.upper(), args.section, args.version,
                manual.get(args.section, 'nethub')),
            '.SH NAME',
            '%s \\- %s' % (code_text(args.name), escape(args.summary)),
            '.SH SYNOPSIS', '.nf']
    page += [safe_line(code_text(s)) for s in args.synopsis]
    page += ['.fi']
    page += convert(lines)
    if args.see_also:
        page += ['.SH "SEE ALSO"',
                 ', '.join('\\fB%s\\fR(%s)' % tuple(code_text(p) for p in
                                                   ref.rstrip(')').split('('))
                           for ref in args.see_also.split())]
    with open(args.output, 'w', encoding='utf-8') as f:
        f.write('\n'.join(page) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
