"""Every error the gateway raises sits in the one tree drawn in gateway/errors.py."""

from __future__ import annotations

import importlib
import pkgutil
import re

import gateway
from gateway import errors


def _every_module() -> None:
    for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if ".cli" not in module.name:  # the commands import the rest; click needs no loading
            importlib.import_module(module.name)


def _subclasses(root: type) -> set[type]:
    found: set[type] = set()
    children: list[type] = root.__subclasses__()
    for child in children:
        found |= {child, *_subclasses(child)}
    return found


def test_every_gateway_error_is_drawn_in_the_tree() -> None:
    _every_module()
    drawn = errors.__doc__ or ""
    missing = sorted(
        f"{cls.__module__}.{cls.__name__}"
        for cls in _subclasses(errors.GatewayError)
        if not cls.__name__.startswith("_") and not re.search(rf"── {cls.__name__}\b", drawn)
    )
    assert not missing, f"add them to the tree in gateway/errors.py: {missing}"
