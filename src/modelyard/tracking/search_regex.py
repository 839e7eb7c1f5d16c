"""The search filters' one regex dialect: RE2 syntax, matched in linear time (docs/search.md).

SQLite (through its REGEXP function) and the in-memory searches match with google-re2, whose
time grows linearly with the text whatever the pattern. PostgreSQL matches with its own engine,
so ``to_postgres`` rewrites a pattern into PostgreSQL's syntax with the same meaning, or refuses
the few RE2 constructs that PostgreSQL would read differently.

Every pattern is compiled with ``.`` matching a newline too (PostgreSQL's default), and without
captures: a search only asks whether a value matches.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

CACHE_SIZE = 256  # compiled patterns kept per process (each RE2 object is capped by _MAX_MEM)
_MAX_MEM = 2 << 20  # bytes per compiled pattern (past it RE2 uses a slower, still linear NFA)
POSTGRES_MAX_REPEAT = 255  # PostgreSQL refuses a counted repetition above this


class PatternError(ValueError):
    """A pattern outside the dialect (or, for PostgreSQL, outside its subset); the message says why."""


def _options(*, ignore_case: bool = False) -> Any:
    options = re2.Options()
    options.dot_nl = True
    options.never_capture = True
    options.log_errors = False
    options.max_mem = _MAX_MEM
    options.case_sensitive = not ignore_case
    return options


_DEFAULT = _options()
_IGNORE_CASE = _options(ignore_case=True)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compiled(pattern: str, ignore_case: bool = False) -> Any:
    try:
        return re2.compile(pattern, _IGNORE_CASE if ignore_case else _DEFAULT)
    except re2.error as exc:
        raise PatternError(_message(exc)) from exc
    except UnicodeEncodeError as exc:
        raise PatternError("the pattern is not valid Unicode (a lone surrogate)") from exc


def _message(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if re.search(r"invalid escape sequence: \\[1-9]|invalid perl operator: \(\?[=!<]", text):
        text += " (RE2 has no backreferences or lookaround)"
    return text


def check(pattern: str) -> None:
    """Raise PatternError unless ``pattern`` compiles as RE2."""
    _compiled(pattern)


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text`` (linear in ``len(text)``)."""
    return _compiled(pattern).search(text.encode("utf-8", "surrogatepass")) is not None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _like_to_re2(pattern: str) -> str:
    """A LIKE pattern (``%`` any run, ``_`` one character, no escape) as an anchored RE2 pattern."""
    parts = ["^"]
    for c in pattern:
        parts.append(".*" if c == "%" else "." if c == "_" else re2.escape(c))
    parts.append("$")
    return "".join(parts)


def like(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """SQL LIKE (or ILIKE) in linear time: Python's re backtracks on many ``%`` wildcards."""
    compiled = _compiled(_like_to_re2(pattern), ignore_case)
    return compiled.search(text.encode("utf-8", "surrogatepass")) is not None


def sqlite_regexp(pattern: str | None, value: object) -> bool | None:
    """SQLite's ``regexp(pattern, value)``, behind ``value REGEXP pattern``; NULL stays NULL."""
    if pattern is None or value is None:
        return None
    return search(pattern, value if isinstance(value, str) else str(value))


# -- PostgreSQL: the same meaning in its ARE syntax, or a refusal naming the construct.

_PERL_CLASSES = {"d": "0-9", "s": r"\t\n\f\r ", "w": "0-9A-Za-z_"}
_POSIX_CLASSES = {  # RE2's (ASCII) meaning of each [:name:]
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": r"\u0001-\u007f",  # PostgreSQL text never holds NUL
    "blank": r"\t ",
    "cntrl": r"\u0001-\u001f\u007f",
    "digit": "0-9",
    "graph": r"\u0021-\u007e",
    "lower": "a-z",
    "print": r"\u0020-\u007e",
    "punct": r"\u0021-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007e",
    "space": r"\t\n\u000b\f\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_CONTROL_ESCAPES = frozenset("afnrtv")
_BOUND = re.compile(r"\{(\d+)(,(\d*))?\}")
_HEX = re.compile(r"x(\{[0-9A-Fa-f]+\}|[0-9A-Fa-f]{2})")
_FLAGS = re.compile(r"\(\?([imsU-]*)([:)])")
_NAMED_GROUP = re.compile(r"\(\?P?<\w+>")
_REFUSED_ESCAPES = {
    "b": r"\b (PostgreSQL reads it as a backspace; its word boundary \y is not RE2's)",
    "B": r"\B (PostgreSQL reads it as a backslash)",
    "C": r"\C (any byte)",
    "Q": r"\Q...\E (escape each character instead)",
    "p": r"\p (Unicode classes)",
    "P": r"\P (Unicode classes)",
}


def _literal(c: str) -> str:
    """One character as PostgreSQL reads it literally, inside or outside brackets."""
    return "\\" + c if c.isascii() and not c.isalnum() and c.isprintable() else c


class _Translator:
    """Walks a pattern that RE2 accepted, as RE2's parser does, writing PostgreSQL's syntax."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.repeatable = False  # whether the last piece written may take a quantifier

    def refuse(self, what: str) -> PatternError:
        return PatternError(f"{what} at offset {self.i} of the pattern")

    def run(self) -> str:
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            if c == "\\":
                self.repeatable = p[self.i + 1] not in "Az"  # \A and \z are anchors
                self.out.append(self.escape(in_class=False))
            elif c == "[":
                self.out.append(self.bracket())
                self.repeatable = True
            elif c == "(":
                self.group()
            elif c in "*+?":
                self.quantifier(c)
            elif c == "{":
                bound = _BOUND.match(p, self.i)
                if bound is None:
                    self.out.append(r"\{")  # RE2 reads a brace that starts no bound literally
                    self.i += 1
                    self.repeatable = True
                else:
                    self.quantifier(bound.group())
            else:
                self.out.append(c)
                self.i += 1
                self.repeatable = c not in "^$|"
        return "".join(self.out)

    def quantifier(self, text: str) -> None:
        if not self.repeatable:
            raise self.refuse(f"a quantifier {text!r} on an anchor")
        counts = re.findall(r"\d+", text)
        if any(int(n) > POSTGRES_MAX_REPEAT for n in counts):
            raise self.refuse(f"a repetition count above {POSTGRES_MAX_REPEAT} ({text})")
        self.i += len(text)
        if self.p.startswith("?", self.i):  # non-greedy: the same answer to "does it match?"
            self.i += 1
        self.out.append(text)

    def group(self) -> None:
        p, start = self.p, self.i
        named = _NAMED_GROUP.match(p, start)
        flags = _FLAGS.match(p, start)
        self.repeatable = False  # the closing ')', copied by run(), makes the group repeatable
        if p.startswith("(?:", start):
            self.out.append("(?:")
            self.i += 3
        elif named is not None:
            self.out.append("(")
            self.i = named.end()
        elif flags is not None:
            letters, end = flags.groups()
            meaningful = set(letters) - {"s", "U"}  # s is on already; U never changes a match
            if end == ":" and meaningful:
                raise self.refuse(f"scoped flags {flags.group()!r}")
            if end == ")" and meaningful and (meaningful != {"i"} or start != 0):
                raise self.refuse(f"the flags {flags.group()!r} (only (?i), at the very start)")
            self.out.append("(?:" if end == ":" else "(?i)" if meaningful else "")
            self.i = flags.end()
        else:
            self.out.append("(")
            self.i += 1

    def escape(self, *, in_class: bool) -> str:
        p = self.p
        c = p[self.i + 1]
        if c in "dswDSW":
            if in_class and c.isupper():
                raise self.refuse(f"\\{c} inside brackets")
            ranges = _PERL_CLASSES[c.lower()]
            self.i += 2
            if in_class:
                return ranges
            return f"[^{ranges}]" if c.isupper() else f"[{ranges}]"
        if c in _REFUSED_ESCAPES:
            raise self.refuse(_REFUSED_ESCAPES[c])
        if c.isdigit():
            raise self.refuse("octal escapes (write the character itself)")
        if c == "x":
            hexa = _HEX.match(p, self.i + 1)
            assert hexa is not None  # RE2 accepted the pattern
            self.i = hexa.end()
            return f"\\U{int(hexa.group(1).strip('{}'), 16):08x}"
        if c == "A" and not in_class:
            self.i += 2
            return r"\A"
        if c == "z" and not in_class:
            self.i += 2
            return r"\Z"
        if c in _CONTROL_ESCAPES:
            self.i += 2
            return "\\" + c
        if c.isalnum() or c == "_":
            if c == "_":
                self.i += 2
                return "_"
            raise self.refuse(f"the escape \\{c}")  # pragma: no cover - RE2 refuses it first
        self.i += 2
        return _literal(c)

    def bracket(self) -> str:
        p = self.p
        self.i += 1
        out = ["["]
        if p.startswith("^", self.i):
            out.append("^")
            self.i += 1
        first = True
        while first or p[self.i] != "]":
            first = False
            if p.startswith("[:", self.i):
                end = p.find(":]", self.i + 2)
                if end != -1:
                    name = p[self.i + 2 : end]
                    if name.startswith("^"):
                        raise self.refuse(f"a negated class [:{name}:] inside brackets")
                    out.append(_POSIX_CLASSES[name])  # RE2 refuses unknown names
                    self.i = end + 2
                    continue
            if p[self.i] == "\\" and p[self.i + 1] in "dswDSW":
                out.append(self.escape(in_class=True))
                continue
            out.append(self.bracket_char())
            if p.startswith("-", self.i) and not p.startswith("-]", self.i):
                self.i += 1
                out.append("-")
                out.append(self.bracket_char())
        self.i += 1
        out.append("]")
        return "".join(out)

    def bracket_char(self) -> str:
        c = self.p[self.i]
        if c == "\\":
            return self.escape(in_class=True)
        self.i += 1
        return _literal(c)


def to_postgres(pattern: str) -> str:
    """The pattern in PostgreSQL's syntax with RE2's meaning; PatternError for the few it lacks.

    Class shorthands and POSIX classes become explicit ASCII ranges, as RE2 reads them (PostgreSQL
    would follow the database's locale), ``\\z`` becomes ``\\Z``, ``\\x41`` becomes ``\\U00000041``.
    """
    check(pattern)
    return _Translator(pattern).run()
