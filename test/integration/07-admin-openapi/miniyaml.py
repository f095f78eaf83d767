# SPDX-License-Identifier: Apache-2.0
"""The block-style YAML subset docs/openapi.yaml is written in, without a YAML library.

Supported: comments, block mappings ("key: value", "key:" + nested block), block sequences
("- value", "- key: value" starting a mapping), flow sequences and mappings ([a, b],
{k: v, k2: [x]}) nested in each other, double- and single-quoted strings, plain scalars
(true/false/null and integers are converted). Anything else (anchors, tags, multi-line
strings, tabs) raises ValueError with the line number, so the document cannot drift into a
form this reader misunderstands.
"""
import re


class _Flow:
    def __init__(self, text, lineno):
        self.s = text
        self.i = 0
        self.lineno = lineno

    def err(self, what):
        raise ValueError("line %d: %s in %r" % (self.lineno, what, self.s))

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def value(self):
        self.ws()
        if self.i >= len(self.s):
            self.err("missing value")
        c = self.s[self.i]
        if c == "[":
            self.i += 1
            out = []
            self.ws()
            if self.s[self.i:self.i + 1] == "]":
                self.i += 1
                return out
            while True:
                out.append(self.value())
                self.ws()
                c = self.s[self.i:self.i + 1]
                self.i += 1
                if c == "]":
                    return out
                if c != ",":
                    self.err("expected , or ]")
        if c == "{":
            self.i += 1
            out = {}
            self.ws()
            if self.s[self.i:self.i + 1] == "}":
                self.i += 1
                return out
            while True:
                self.ws()
                k = self.scalar(stop=":")
                self.ws()
                if self.s[self.i:self.i + 1] != ":":
                    self.err("expected :")
                self.i += 1
                if k in out:
                    self.err("duplicate key %r" % k)
                out[k] = self.value()
                self.ws()
                c = self.s[self.i:self.i + 1]
                self.i += 1
                if c == "}":
                    return out
                if c != ",":
                    self.err("expected , or }")
        return self.scalar(stop=",]}")

    def scalar(self, stop):
        c = self.s[self.i:self.i + 1]
        if c in ("'", '"'):
            v, n = _quoted(self.s, self.i, self.lineno)
            self.i = n
            return v
        j = self.i
        while j < len(self.s) and self.s[j] not in stop:
            j += 1
        v = self.s[self.i:j].strip()
        self.i = j
        return _plain(v, self.lineno)


def _quoted(s, i, lineno):
    q = s[i]
    out = []
    j = i + 1
    while j < len(s):
        c = s[j]
        if q == '"' and c == "\\":
            nxt = s[j + 1:j + 2]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/"}.get(nxt, None)
                       or _fail(lineno, "unknown escape \\%s" % nxt))
            j += 2
            continue
        if c == q:
            if q == "'" and s[j + 1:j + 2] == "'":
                out.append("'")
                j += 2
                continue
            return "".join(out), j + 1
        out.append(c)
        j += 1
    _fail(lineno, "unterminated string")


def _fail(lineno, what):
    raise ValueError("line %d: %s" % (lineno, what))


def _plain(v, lineno):
    if v == "":
        _fail(lineno, "empty value")
    if v[0] in "&*!|>%@`":
        _fail(lineno, "unsupported YAML (%r)" % v)
    if v in ("true", "false"):
        return v == "true"
    if v in ("null", "~"):
        return None
    if re.fullmatch(r"-?[0-9]+", v):
        return int(v)
    return v


def _value(text, lineno):
    text = text.strip()
    if text[:1] in ("[", "{", "'", '"'):
        f = _Flow(text, lineno)
        v = f.value()
        f.ws()
        if f.i != len(text):
            _fail(lineno, "trailing text after value")
        return v
    return _plain(text, lineno)


def _strip_comment(line):
    out = []
    q = None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
            elif c == "\\" and q == '"':
                pass
        elif c in ("'", '"'):
            q = c
        elif c == "#" and (i == 0 or line[i - 1] == " "):
            break
        out.append(c)
    return "".join(out).rstrip()


def _split_key(text, lineno):
    """'key: rest' -> (key, rest or None); None when text is not a mapping entry."""
    if text[:1] in ("'", '"'):
        k, n = _quoted(text, 0, lineno)
        rest = text[n:]
        if not rest.startswith(":"):
            return None
        return k, rest[1:].strip() or None
    m = re.match(r"([^\s:\[{'\"][^:]*?):(?: (.*)|$)", text)
    if not m:
        return None
    return m.group(1).strip(), (m.group(2) or "").strip() or None


def loads(text):
    lines = []
    for n, raw in enumerate(text.split("\n"), 1):
        if "\t" in raw:
            _fail(n, "tab character")
        line = _strip_comment(raw)
        if line.strip():
            lines.append((n, len(line) - len(line.lstrip(" ")), line.strip()))
    pos = [0]

    def block(indent):
        n, ind, t = lines[pos[0]]
        if ind != indent:
            _fail(n, "unexpected indentation")
        if t.startswith("- ") or t == "-":
            out = []
            while pos[0] < len(lines):
                n, ind, t = lines[pos[0]]
                if ind < indent:
                    break
                if ind != indent or not (t.startswith("- ") or t == "-"):
                    _fail(n, "expected '- ' at indentation %d" % indent)
                item = t[1:].strip()
                kv = _split_key(item, n) if item else None
                if kv is not None and item[:1] not in ("[", "{"):
                    # "- key: value" opens a mapping indented two more
                    lines[pos[0]] = (n, indent + 2, item)
                    out.append(mapping(indent + 2))
                elif item:
                    out.append(_value(item, n))
                    pos[0] += 1
                else:
                    pos[0] += 1
                    out.append(block(lines[pos[0]][1]))
            return out
        return mapping(indent)

    def mapping(indent):
        out = {}
        while pos[0] < len(lines):
            n, ind, t = lines[pos[0]]
            if ind < indent:
                break
            if ind != indent:
                _fail(n, "unexpected indentation")
            if t.startswith("- "):
                break
            kv = _split_key(t, n)
            if kv is None:
                _fail(n, "expected 'key: value'")
            k, rest = kv
            if k in out:
                _fail(n, "duplicate key %r" % k)
            pos[0] += 1
            if rest is not None:
                out[k] = _value(rest, n)
            elif pos[0] < len(lines) and lines[pos[0]][1] > indent:
                out[k] = block(lines[pos[0]][1])
            else:
                out[k] = None
        return out

    if not lines:
        return None
    v = block(lines[0][1])
    if pos[0] != len(lines):
        _fail(lines[pos[0]][0], "unexpected content")
    return v
