"""What every `govgate` command shares: failing with a message, and finding the deployment.

Commands that read a deployment take `--data DIR` (the folder `govgate demo --data DIR` serves
from) or `--config FILE` (a `govgate serve` deployment); `deployment_options` adds both and
hands the command one `Settings`.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = ["DEFAULT_DATA", "data_option", "deployment_options", "fail"]

DEFAULT_DATA = Path("data")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` to stderr and exit with `code` (2: the input was wrong)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def data_option(help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`--data DIR`: the folder of the SQLite sources, compiled policy and development key."""
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_DATA,
        show_default=True,
        help=help_text,
    )


def deployment_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add `--data DIR` / `--config FILE` and pass the command `settings` instead."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="A `govgate serve` deployment file (instead of --data).",
    )
    @data_option("The folder `govgate demo --data DIR` serves from.")
    @functools.wraps(command)
    def wrapper(*args: Any, data_dir: Path, config_path: Path | None, **kwargs: Any) -> None:
        from gateway.settings import Settings, load_settings  # noqa: PLC0415

        if config_path is not None:
            try:
                settings = load_settings(config_path)
            except GatewayError as error:
                fail(str(error))
        elif not data_dir.is_dir():
            fail(f"{data_dir} is not a folder; pass the folder `govgate demo --data DIR` "
                 "serves from, or --config FILE.")  # fmt: skip
        else:
            settings = Settings.demo(data_dir)
        command(*args, settings=settings, **kwargs)

    return wrapper
