"""Gremlin text (as notebooks, IDEs and the `eval` op send it) parsed into bytecode.

graphserver never hands a client's script to the engine: a script must be one traversal in
Gremlin's own syntax (TinkerPop's gremlin-language: `g.V().has('name', 'marko').out('knows')`),
which is parsed here into the same bytecode gremlinpython would send, then translated through the
same allow-lists as every other request (graph.translate). Statements, variables assigned in the
script, closures and arbitrary method calls are not Gremlin traversals and are refused with the
column where parsing stopped. Names in the script that are not literals or tokens are looked up in
the request's `bindings`.
"""
from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal
from typing import Any

from gremlin_python.process.traversal import Bytecode, P, TextP, TraversalStrategy

from graph.errors import UnsupportedTraversal
from graph.graphson import ENUMS, token

SOURCE_STEPS = {"withStrategies", "withoutStrategies", "withSideEffect", "with", "withBulk", "withPath",
                "withSack", "withComputer", "tx"}
TEXT_OPERATORS = {"containing", "notContaining", "startingWith", "notStartingWith", "endingWith", "notEndingWith",
                  "regex", "notRegex"}
# predicates written without P. (static imports); none of them is also a step name
BARE_PREDICATES = {"eq", "neq", "lt", "lte", "gt", "gte", "inside", "outside", "between", "within", "without"} \
    | TEXT_OPERATORS
WITH_OPTIONS = {"tokens": "~tinkerpop.valueMap.tokens", "none": 0, "ids": 1, "labels": 2, "keys": 4, "values": 8,
                "all": 15, "indexer": "~tinkerpop.index.indexer", "list": 0, "map": 1}
# a bare token's enum, where the name is not ambiguous (Java names, as Gremlin's static imports give them)
BARE_TOKENS = {name: (enum, name) for enum, names in {
    "T": "id label key value", "Order": "asc desc shuffle", "Scope": "local global", "Pop": "first last all mixed",
    "Column": "keys values", "Direction": "OUT IN BOTH from to", "Merge": "onCreate onMatch outV inV",
    "Cardinality": "single list set", "Operator": "sum sumLong minus mult div min max assign addAll and or",
    "Pick": "any none", "Barrier": "normSack", "DT": "second minute hour day"}.items() for name in names.split()}
STRATEGY_PACKAGE = "org.apache.tinkerpop.gremlin.process.traversal.strategy."
MAX_LENGTH = 1_000_000
MAX_DEPTH = 64
_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[lLdDfFmMnNiIsSbB]?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<punct>[().,\[\]:\-+;])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "$": "$"}


class GremlinSyntaxError(UnsupportedTraversal):
    """A script that is not one Gremlin traversal."""


def parse(script: str, bindings: dict[str, Any] | None = None) -> Bytecode:
    """One traversal starting at `g` as bytecode; `bindings` give values to the names it uses."""
    if not isinstance(script, str):
        raise GremlinSyntaxError("a script must be a string")
    if len(script) > MAX_LENGTH:
        raise GremlinSyntaxError(f"a script may hold at most {MAX_LENGTH} characters")
    parser = _Parser(script, bindings or {})
    bytecode = parser.traversal(source=True)
    parser.expect_end()
    return bytecode


class _Parser:
    def __init__(self, text: str, bindings: dict[str, Any]) -> None:
        self.text = text
        self.bindings = bindings
        self.tokens = list(self._lex(text))
        self.pos = 0
        self.depth = 0

    def _lex(self, text: str) -> Any:
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise GremlinSyntaxError(f"unexpected character {text[pos]!r} at column {pos + 1}")
            kind = match.lastgroup
            if kind != "space":
                yield kind, match.group(), pos
            pos = match.end()

    # ---- token helpers
    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "", len(self.text))

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        tok_kind, tok_value, column = self.peek()
        if (value is not None and tok_value != value) or (kind is not None and tok_kind != kind):
            wanted = repr(value) if value is not None else kind
            found = repr(tok_value) if tok_value else "the end"
            raise GremlinSyntaxError(f"expected {wanted} at column {column + 1}, found {found}")
        self.pos += 1
        return tok_value

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] in {"punct", "name"}

    def expect_end(self) -> None:
        if self.peek()[1] == ";" and self.peek(1)[0] == "end":
            self.pos += 1  # one traversal may end with a semicolon, as Gremlin consoles allow
        kind, value, column = self.peek()
        if kind != "end":
            raise GremlinSyntaxError(f"unexpected {value!r} at column {column + 1}: a script holds one traversal")

    # ---- grammar
    def traversal(self, *, source: bool) -> Bytecode:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GremlinSyntaxError(f"traversals are nested more than {MAX_DEPTH} levels deep")
        bytecode = Bytecode()
        start = self.take(kind="name")
        if source and start != "g":
            raise GremlinSyntaxError(f"a script starts with the traversal source g, not {start!r}")
        if not source and start != "__":
            self.pos -= 1  # an anonymous traversal written without `__.` (statically imported steps)
            self._call(bytecode, source=False)
        in_source = source
        while self.at("."):
            self.take(".")
            name = self.peek()[1]
            in_source = in_source and name in SOURCE_STEPS
            self._call(bytecode, source=in_source)
        self.depth -= 1
        return bytecode

    def _call(self, bytecode: Bytecode, *, source: bool) -> None:
        name = self.take(kind="name")
        args = self._arguments()
        (bytecode.source_instructions if source else bytecode.step_instructions).append([name, *args])

    def _arguments(self) -> list[Any]:
        self.take("(")
        args: list[Any] = []
        while not self.at(")"):
            args.append(self.value())
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return args

    def value(self) -> Any:
        kind, text, column = self.peek()
        if kind == "number":
            self.pos += 1
            return _number(text)
        if kind == "string":
            self.pos += 1
            return _string(text)
        if text in {"-", "+"} and self.peek(1)[1] == "Infinity":
            self.pos += 2
            return float("-inf") if text == "-" else float("inf")
        if text == "[":
            return self._collection()
        if kind == "name":
            return self._named(text)
        raise GremlinSyntaxError(f"unexpected {text or 'end'!r} at column {column + 1}")

    def _named(self, name: str) -> Any:
        following = self.peek(1)[1]
        if name in {"true", "false"}:
            self.pos += 1
            return name == "true"
        if name == "null":
            self.pos += 1
            return None
        if name in {"NaN", "Infinity"}:
            self.pos += 1
            return float("nan") if name == "NaN" else float("inf")
        if name == "__":
            return self.traversal(source=False)
        if name in {"P", "TextP"} and following == ".":
            return self._predicate()
        if name in BARE_PREDICATES and following == "(":
            return self._predicate(bare=True)
        if name in ENUMS and following == ".":
            self.pos += 2
            return token(name, self.take(kind="name"))
        if name == "WithOptions" and following == ".":
            self.pos += 2
            member = self.take(kind="name")
            if member not in WITH_OPTIONS:
                raise GremlinSyntaxError(f"WithOptions.{member} is not an option")
            return WITH_OPTIONS[member]
        if name == "new" or name.endswith("Strategy"):
            return self._strategy()
        if name in {"datetime", "UUID"} and following == "(":
            self.pos += 1
            args = self._arguments()
            return _datetime(args) if name == "datetime" else uuid.UUID(str(args[0] if args else ""))
        if following == "(":
            return self.traversal(source=False)
        self.pos += 1
        if name in self.bindings:
            return self.bindings[name]
        if name in BARE_TOKENS:  # tokens written without their enum, as Gremlin's static imports allow
            return token(*BARE_TOKENS[name])
        raise GremlinSyntaxError(f"unknown name {name!r}: not a token and not in the request's bindings")

    def _predicate(self, *, bare: bool = False) -> P:
        kind = "P" if bare else self.take(kind="name")
        if not bare:
            self.take(".")
        operator = self.take(kind="name")
        args = self._arguments()
        cls = TextP if kind == "TextP" or operator in TEXT_OPERATORS else P
        if operator in {"within", "without"}:
            values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
            predicate: P = P(operator, list(values))
        elif operator in {"between", "inside", "outside"} and len(args) == 2:
            predicate = P(operator, args[0], args[1])
        elif len(args) == 1:
            predicate = cls(operator, args[0])
        else:
            raise GremlinSyntaxError(f"{kind}.{operator}() takes one value here, got {len(args)}")
        while self.at(".") and self.peek(1)[1] in {"and", "or"}:
            self.take(".")
            joiner = self.take(kind="name")
            other = self._arguments()
            if len(other) != 1 or not isinstance(other[0], P):
                raise GremlinSyntaxError(f"{joiner}() joins two predicates")
            predicate = P(joiner, predicate, other[0])
        return predicate

    def _collection(self) -> Any:
        self.take("[")
        if self.at(":"):
            self.take(":")
            self.take("]")
            return {}
        items: list[Any] = []
        entries: dict[Any, Any] = {}
        while not self.at("]"):
            key = self._map_key() if self.peek(1)[1] == ":" or self.at("(") else self.value()
            if self.at(":"):
                self.take(":")
                entries[_hashable(key)] = self.value()
            else:
                items.append(key)
            if not self.at("]"):
                self.take(",")
        self.take("]")
        if entries and items:
            raise GremlinSyntaxError("a collection is either a list or a map, not both")
        return entries if entries else items

    def _map_key(self) -> Any:
        if self.at("("):
            self.take("(")
            key = self.value()
            self.take(")")
            return key
        kind, text, _ = self.peek()
        if kind == "name" and text not in {"true", "false", "null"}:
            self.pos += 1
            return text  # Groovy map keys: a bare name is a string
        return self.value()

    def _strategy(self) -> TraversalStrategy:
        if self.at("new"):
            self.take("new")
        name = self.take(kind="name")
        configuration: dict[str, Any] = {}
        if self.at("("):
            self.take("(")
            while not self.at(")"):
                key = self.take(kind="name")
                self.take(":")
                configuration[key] = self.value()
                if not self.at(")"):
                    self.take(",")
            self.take(")")
        return TraversalStrategy(name, configuration, STRATEGY_PACKAGE + name)


def _number(text: str) -> Any:
    suffix = text[-1].lower() if text[-1].isalpha() else ""
    body = text[:-1] if suffix else text
    if suffix == "m":
        return Decimal(body)
    if suffix in {"d", "f"} or (not suffix and any(c in body for c in ".eE")):
        return float(body)
    if any(c in body for c in ".eE"):
        raise GremlinSyntaxError(f"{text!r} is not an integer")
    return int(body)


def _string(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "u"
                  and len(m.group(1)) == 5 else _ESCAPES.get(m.group(1), m.group(1)), body)


def _datetime(args: list[Any]) -> datetime.datetime:
    if len(args) != 1 or not isinstance(args[0], str):
        raise GremlinSyntaxError("datetime() takes one ISO 8601 string")
    value = datetime.datetime.fromisoformat(args[0].replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise GremlinSyntaxError("map keys must be strings, numbers or tokens")
    return key
