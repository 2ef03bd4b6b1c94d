"""Plans by (policy version, grant set and row scopes, document hash, operation name): bounded.

A plan depends on the agency's schema (its grant signature), its row scopes (written into the
statements, Art. 21), the policy in force and the operation; never on the variables, which
bind per request. Agencies with the same grants and scopes share plans. Operations that are
not plannable are remembered too (as None), so an introspection query is examined once.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from graphql.language import Lexer, Source, TokenKind

from gateway import tracing
from gateway.graphql.plan.compiler import compile_plan

if TYPE_CHECKING:
    from graphql import DocumentNode

    from gateway.graphql.plan.model import Plan
    from gateway.graphql.schemas import AgencySchema
    from policies.grants import Grants

__all__ = ["PlanCache"]

log = logging.getLogger("govgate.gateway")


class PlanCache:
    """The most recently used plans of one process, at most `size` of them."""

    #: Like the schemas' cache of validated documents: queries are mostly a few fixed texts.
    SIZE = 512

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        #: False: every operation runs on the resolver path (the plans' off switch).
        self.enabled = True
        self._plans: OrderedDict[tuple[Any, ...], Plan | None] = OrderedDict()
        #: Operations compiled, and plans that failed at run time (the resolvers answered).
        self.compiled = 0
        self.fallbacks = 0
        self._version = ""
        #: Traced plans' hashes (value-free: `shape_hash`), by document hash and operation.
        self._shapes: dict[tuple[bytes, str | None], str] = {}

    def plan_for(
        self,
        schema: AgencySchema,
        document: DocumentNode,
        *,
        query: str,
        operation_name: str | None,
        grants: Grants,
        policy_version: str,
    ) -> Plan | None:
        """The plan of `operation_name` in `query` (whose validated document is `document`) for
        `grants`, compiled on first use; None when it is not plannable."""
        key = (
            policy_version,
            grants.signature,
            tuple((entity, s.kind, s.division) for entity, s in grants.scopes.items()),
            hashlib.sha256(query.encode()).digest(),
            operation_name,
        )
        if tracing.recording():
            tracing.note("plan.hash", self._shape(key[3], query, operation_name))
        if policy_version != self._version:
            # Plans of another policy would only keep its schemas in memory (a request still
            # running on the old one compiles its plan again: a few milliseconds, once).
            self._plans.clear()
            self._version = policy_version
        try:
            plan = self._plans[key]
        except KeyError:
            pass
        else:
            self._plans.move_to_end(key)
            tracing.note("plan.cache", "hit")
            return plan
        tracing.note("plan.cache", "compile")
        try:
            plan = compile_plan(schema, document, operation_name, grants)
        except Exception:  # a bug in the compiler must cost speed, never an answer
            log.exception("the plan compiler failed; the resolvers answer this operation")
            plan = None
        self.compiled += 1
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return plan

    def _shape(self, digest: bytes, query: str, operation_name: str | None) -> str:
        if len(self._shapes) >= self.size:
            self._shapes.clear()
        found = self._shapes.get((digest, operation_name))
        if found is None:
            found = self._shapes[digest, operation_name] = shape_hash(query, operation_name)
        return found

    def clear(self) -> None:
        """Forget every plan."""
        self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)


#: Tokens whose text is a value the caller chose: a hash over it could be searched for one.
_VALUES = frozenset({TokenKind.STRING, TokenKind.BLOCK_STRING, TokenKind.INT, TokenKind.FLOAT})


def shape_hash(query: str, operation_name: str | None) -> str:
    """A plan's name in traces: 16 hex digits of SHA-256 over the document's tokens with every
    literal value blanked, and the operation's name. The same whatever literal is written
    inline (an ID number in `person(id: "...")`, which a plain hash of the text would let
    anyone with the trace confirm by trying candidates: docs/security.md)."""
    digest = hashlib.sha256((operation_name or "").encode())
    lexer = Lexer(Source(query))
    token = lexer.advance()
    while token.kind is not TokenKind.EOF:
        text = token.kind.value if token.kind in _VALUES else (token.value or token.kind.value)
        digest.update(b"\0" + text.encode())
        token = lexer.advance()
    return digest.hexdigest()[:16]
