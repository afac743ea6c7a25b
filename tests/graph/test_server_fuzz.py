"""Hypothesis over the wire format: any frame or bytecode gets an answer, and only allow-listed names run."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from gremlin_python.driver.request import RequestMessage
from gremlin_python.driver.serializer import GraphSONSerializersV3d0
from gremlin_python.process.traversal import Bytecode, Order, P, Pop, Scope, T, TextP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.embedded import EmbeddedStore
from graph.graphbinary import graph_binary_serializer
from graph.server import GremlinServer
from graph.translate import ALLOWED_SOURCE_STEPS, ALLOWED_STEPS, ALLOWED_TOKENS, P_OPERATORS, TEXTP_OPERATORS, Script

KNOWN_STATUSES = {200, 204, 206, 401, 407, 498, 499, 500, 597, 598, 599}
SCRIPT_WORDS = (ALLOWED_STEPS | ALLOWED_SOURCE_STEPS | P_OPERATORS | TEXTP_OPERATORS | set(ALLOWED_TOKENS)
                | {"g", "__", "P", "TextP", "parse_json", "with", "all", "global", "sumLong", "addAll", "normSack",
                   "onCreate", "onMatch", "outV", "inV", "sum", "and", "or", "any", "list", "set", "out", "in",
                   "both", "id", "max", "min"}
                | {m for members in ALLOWED_TOKENS.values() for m in members})


class RecordingStore(EmbeddedStore):
    """The real in-memory store, remembering every script it was given."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.scripts: list[str] = []

    def run(self, script: Script, **options: Any) -> list[Any]:
        self.scripts.append(script.text)
        return super().run(script, **options)


@pytest.fixture(scope="module")
def server() -> Iterator[GremlinServer]:
    store = RecordingStore()
    yield GremlinServer(store, evaluation_timeout_ms=200, max_results=1000)
    store.close()


names = st.one_of(st.sampled_from(sorted(ALLOWED_STEPS)), st.sampled_from(["io", "drop().iterate();g.V", "call",
                                                                         "program", "x`y", "V"]), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**31, 2**31 - 1), st.floats(allow_nan=True),
                    st.text(max_size=20))
tokens = st.sampled_from([T.id, T.label, Order.desc, Scope.local, Pop.all_, Scope.global_])
predicates = st.builds(P, st.sampled_from(["eq", "gt", "within", "eq).drop(", "lt"]), scalars) | \
    st.builds(TextP, st.sampled_from(["containing", "regex", "x;y"]), st.text(max_size=8))


def _bytecode(steps: list[list[Any]], source: list[list[Any]]) -> Bytecode:
    bytecode = Bytecode()
    bytecode.step_instructions = steps
    bytecode.source_instructions = source
    return bytecode


arguments = st.recursive(
    scalars | tokens | predicates,
    lambda inner: st.lists(inner, max_size=3) | st.builds(
        _bytecode, st.lists(st.lists(names, min_size=1, max_size=1).flatmap(
            lambda n: st.lists(inner, max_size=2).map(lambda a: n + a)), max_size=3), st.just([])),
    max_leaves=6)
instructions = st.tuples(names, st.lists(arguments, max_size=3)).map(lambda t: [t[0], *t[1]])
bytecodes = st.builds(_bytecode, st.lists(instructions, min_size=1, max_size=5),
                      st.lists(st.tuples(st.sampled_from(["withSideEffect", "withStrategies", "evil"]),
                                         scalars).map(list), max_size=1))


def _check_scripts(store: RecordingStore) -> None:
    for text in store.scripts:
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r'"evaluationTimeout"', "", text)))
        unknown = {w for w in words if not re.fullmatch(r"p\d+|q_\d+", w)} - SCRIPT_WORDS  # bound parameters
        assert not unknown, f"script {text!r} holds names off the allow-lists: {unknown}"
        assert '"' not in text.replace('"evaluationTimeout"', ""), text
    store.scripts.clear()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bytecode=bytecodes, graphson=st.booleans())
def test_any_bytecode_is_answered_and_only_allowed_names_reach_the_engine(server: GremlinServer, bytecode: Bytecode,
                                                                          graphson: bool) -> None:
    codec = GraphSONSerializersV3d0() if graphson else graph_binary_serializer()
    request_id = uuid.uuid4()
    try:
        frame = codec.serialize_message(str(request_id) if graphson else request_id, RequestMessage(
            "traversal", "bytecode", {"gremlin": bytecode, "aliases": {"g": "g"}}))
    except Exception:  # noqa: BLE001 - values gremlinpython itself cannot encode never reach a server
        return
    answers = [codec.deserialize_message(f) for f in server.respond(frame)]
    assert answers and {a["status"]["code"] for a in answers} <= KNOWN_STATUSES
    assert {a["requestId"] for a in answers} == {str(request_id)}
    _check_scripts(server.store)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=st.one_of(st.binary(max_size=200), st.text(max_size=200),
                       st.binary(max_size=120).map(lambda b: b"\x21application/vnd.gremlin-v3.0+json" + b),
                       st.binary(max_size=120).map(lambda b: b"\x20application/vnd.graphbinary-v1.0\x81" + b)))
def test_any_frame_gets_an_answer_never_a_crash(server: GremlinServer, frame: bytes | str) -> None:
    answers = server.respond(frame)
    assert len(answers) >= 1
    for answer in answers:
        decoded = (GraphSONSerializersV3d0() if isinstance(answer, str) else graph_binary_serializer()) \
            .deserialize_message(answer)
        assert decoded["status"]["code"] in KNOWN_STATUSES
    _check_scripts(server.store)  # type: ignore[arg-type]
