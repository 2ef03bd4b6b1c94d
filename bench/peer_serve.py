"""`govgate serve` at log level warning, for the peer benchmark (bench/peer.sh).

    .venv/bin/python bench/peer_serve.py --config FILE --workers N

The product's own command, unchanged (`gateway.cli.main(["serve", ...])`: the same workers,
pools, audit writer and vouchers), with one difference: `govgate serve` has no log-level
option and logs an access line per request (uvicorn.access at INFO), which PostGraphile with
--disable-query-log does not. Here uvicorn runs at log level warning and govgate's own loggers
at WARNING, so neither system writes a line per request. Errors and warnings still go to
standard error.
"""

from __future__ import annotations

import sys
from typing import Any


def _quiet() -> None:
    import uvicorn  # noqa: PLC0415

    import gateway.http.logs  # noqa: PLC0415

    product_config = gateway.http.logs.log_config

    def log_config(log_format: Any) -> dict[str, Any]:
        config: dict[str, Any] = product_config(log_format)
        for logger in config["loggers"].values():
            if "level" in logger:
                logger["level"] = "WARNING"
        return config

    gateway.http.logs.log_config = log_config
    product_run = uvicorn.run

    def run(*args: Any, **kwargs: Any) -> None:
        kwargs["log_level"] = "warning"  # passed on to the worker processes in uvicorn's config
        product_run(*args, **kwargs)

    uvicorn.run = run


def main() -> None:
    _quiet()
    from gateway.cli import main as cli  # noqa: PLC0415

    cli(["serve", "--log-format", "text", *sys.argv[1:]])


if __name__ == "__main__":
    main()
