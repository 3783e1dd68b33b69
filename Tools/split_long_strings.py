#!/usr/bin/env python3
"""Shortens Swift lines over 140 characters that are long because of a single-line string literal.

Usage: Tools/split_long_strings.py FILE.swift ...  (`make format` runs it between two passes of
`swift format`). The longest literal of such a line becomes a multi-line literal whose lines end
in a backslash, which is the same string value (a backslash at a line's end joins the lines), cut
at spaces outside interpolations. Lines with raw or multi-line literals, and comments, are left as
they are.
"""
import sys

LIMIT = 140


def literals(line):
    """(start, end) of each top-level single-line string literal: line[start] == '"', line[end] == '"'."""
    spans = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if line.startswith('//', i):
            break
        if c == '"':
            if line.startswith('"""', i) or (i > 0 and line[i - 1] == '#'):
                return []  # multi-line or raw literal on this line: leave it
            j = skip_string(line, i)
            if j is None:
                return []
            spans.append((i, j))
            i = j + 1
            continue
        i += 1
    return spans


def skip_string(line, i):
    """Index of the closing quote of the literal opening at i (interpolations may nest strings)."""
    j = i + 1
    n = len(line)
    while j < n:
        c = line[j]
        if c == '\\':
            if j + 1 < n and line[j + 1] == '(':
                j = skip_interpolation(line, j + 2)
                if j is None:
                    return None
                continue
            j += 2
            continue
        if c == '"':
            return j
        j += 1
    return None


def skip_interpolation(line, j):
    depth = 1
    n = len(line)
    while j < n:
        c = line[j]
        if c == '"':
            k = skip_string(line, j)
            if k is None:
                return None
            j = k + 1
            continue
        if c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None


def break_points(content):
    """Indices of spaces in content outside interpolations and escapes."""
    points = []
    i, n = 0, len(content)
    while i < n:
        c = content[i]
        if c == '\\':
            if i + 1 < n and content[i + 1] == '(':
                k = skip_interpolation(content, i + 2)
                if k is None:
                    return []
                i = k
                continue
            i += 2
            continue
        if c == ' ':
            points.append(i)
        i += 1
    return points


def split_content(content, width):
    points = break_points(content)
    parts, start = [], 0
    while len(content) - start > width:
        candidates = [p for p in points if start < p and p - start + 1 <= width]
        if not candidates:
            later = [p for p in points if p > start]
            if not later:
                break
            cut = later[0]
        else:
            cut = candidates[-1]
        parts.append(content[start:cut + 1])
        start = cut + 1
    parts.append(content[start:])
    return parts


def rewrite(line):
    if len(line) <= LIMIT or line.lstrip().startswith('//'):
        return None
    spans = literals(line)
    if not spans:
        return None
    start, end = max(spans, key=lambda s: s[1] - s[0])
    content = line[start + 1:end]
    if len(content) < 40 or '"""' in content:
        return None
    indent = line[:len(line) - len(line.lstrip())]
    inner = indent + '    '
    width = LIMIT - len(inner) - 2
    parts = split_content(content, width)
    if len(parts) < 2:
        return None
    # A content line must not begin with whitespace that the closing delimiter's indentation would eat
    # (only the indentation itself is removed, so extra leading spaces are kept): fine as it is.
    head = line[:start].rstrip()
    tail = line[end + 1:]
    out = [head] if head else []
    out.append(inner + '"""')
    for k, part in enumerate(parts):
        out.append(inner + part + (' \\' if k < len(parts) - 1 and not part.endswith(' ') else '\\' if k < len(parts) - 1 else ''))
    out.append(inner + '"""' + tail)
    return out


def main(paths):
    changed = 0
    for path in paths:
        with open(path, encoding='utf-8') as f:
            lines = f.read().split('\n')
        result, touched = [], False
        in_multiline = False
        for line in lines:
            if line.count('"""') % 2 == 1:
                in_multiline = not in_multiline
                result.append(line)
                continue
            new = None if in_multiline else rewrite(line)
            if new:
                result.extend(new)
                touched = True
                changed += 1
            else:
                result.append(line)
        if touched:
            with open(path, 'w', encoding='utf-8') as f:
                f.write('\n'.join(result))
    print(f'{changed} lines rewritten')


if __name__ == '__main__':
    main(sys.argv[1:])
