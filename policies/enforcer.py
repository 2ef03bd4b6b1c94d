"""Building pycasbin enforcers from compiled policy text or files.

A policy in force is never edited: a reload builds a new enforcer and swaps it in (pycasbin's
live-clearing path races with readers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import casbin
from casbin.persist.adapter import Adapter, load_policy_line

from policies.compiler import CompiledPolicy
from policies.errors import PolicyError

__all__ = ["build_enforcer", "read_compiled"]


class _TextAdapter(Adapter):  # type: ignore[misc]  # pycasbin is untyped
    """Loads policy lines from a string instead of a file."""

    def __init__(self, text: str) -> None:
        self._text = text

    def load_policy(self, model: Any) -> None:
        # Split on "\n" alone, exactly as Casbin's file adapters (pycasbin, node-casbin) do.
        for line in self._text.split("\n"):
            load_policy_line(line.strip(), model)


def build_enforcer(compiled: CompiledPolicy) -> casbin.Enforcer:
    """A new pycasbin enforcer for the compiled model and policy.

    Raises PolicyError when the files are not a loadable Casbin model and policy.
    """
    try:
        model = casbin.Enforcer.new_model(text=compiled.model)
        return casbin.Enforcer(model, _TextAdapter(compiled.policy))
    except Exception as error:  # pycasbin raises bare Exception, RuntimeError, IndexError...
        raise PolicyError(
            f"The compiled policy cannot be loaded by Casbin ({type(error).__name__}: {error}); "
            "compile it again with `govgate policy compile`."
        ) from None


def read_compiled(directory: str | Path) -> CompiledPolicy:
    """Read `model.conf` and `policy.csv` from a directory written by `govgate policy compile`."""
    directory = Path(directory)
    texts: list[str] = []
    for name in ("model.conf", "policy.csv"):
        try:
            texts.append((directory / name).read_text("utf-8"))
        except OSError as error:
            raise PolicyError(
                f"Cannot read {directory / name} ({error.strerror}); run "
                f"`govgate policy compile --out {directory}` first."
            ) from None
    return CompiledPolicy(model=texts[0], policy=texts[1])
