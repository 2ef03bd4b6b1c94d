"""A plan's statements announced to its engine's listeners, as SQLAlchemy announces its own.

Drivers that bypass SQLAlchemy would otherwise be invisible to what listens on the engine's
`before_cursor_execute` and `after_cursor_execute` events: the gateway's metrics
(`govgate_sql_statements_total`, `govgate_sql_statement_duration_seconds`), the benchmark's
statement counts and the tests' SQL captures. Listeners get no connection and no cursor (a
plan's statement has neither in SQLAlchemy's sense); the execution context is a plain object
on which a listener may keep its own attributes, as the metrics keep a statement's start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Engine

__all__ = ["StatementContext", "after", "before"]


class StatementContext:
    """What listeners receive as the execution context of a plan's statement."""


def before(
    engine: Engine | None, statement: str, parameters: Sequence[Any]
) -> StatementContext | None:
    """Announce a statement about to run; the context to hand to `after` (None: no listener)."""
    if engine is None:
        return None
    dispatch = engine.dispatch
    if not dispatch.before_cursor_execute and not dispatch.after_cursor_execute:
        return None
    context = StatementContext()
    dispatch.before_cursor_execute(None, None, statement, parameters, context, False)
    return context


def after(
    engine: Engine | None, context: StatementContext | None, statement: str,
    parameters: Sequence[Any],
) -> None:  # fmt: skip
    """Announce that a statement returned its rows (a statement that raised is not timed)."""
    if engine is not None and context is not None:
        engine.dispatch.after_cursor_execute(None, None, statement, parameters, context, False)
