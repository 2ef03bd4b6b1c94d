"""What every `govgate` command shares: failing with a message, finding the deployment, and
the options several groups take (each declared here once).

Commands that read a deployment take `--data DIR` (the folder `govgate demo --data DIR` serves
from) or `--config FILE` (a `govgate serve` deployment); `deployment_options` adds both and
hands the command one `Settings`. `--catalog`, `--rules`, `--date`, `--policy` and `--duty` are
the policy questions' options (`govgate policy ...`, `govgate token`).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gateway.errors import GatewayError
from policies.catalog import SHIPPED_CATALOG, load_catalog
from policies.rules import default_rules_path, load_rules

if TYPE_CHECKING:
    from collections.abc import Callable

    from policies.catalog import Catalog
    from policies.rules import AuthorRule


__all__ = [
    "DEFAULT_DATA",
    "catalog_option",
    "config_option",
    "data_option",
    "date_option",
    "deployment_options",
    "duty_option",
    "fail",
    "load_inputs",
    "policy_option",
    "rules_option",
]

DEFAULT_DATA = Path("data")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` to stderr and exit with `code` (2: the input was wrong)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def data_option(
    help_text: str, *, default: Path | None = DEFAULT_DATA
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`--data DIR`: the folder of the SQLite sources, compiled policy and development key
    (`default` None: no folder unless given)."""
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


#: `--config FILE`: a `govgate serve` deployment file.
config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="A `govgate serve` deployment file (instead of --data).",
)  # fmt: skip


def deployment_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add `--data DIR` / `--config FILE` and pass the command `settings` instead."""

    @config_option
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


catalog_option = click.option(
    "--catalog", "catalog_path", type=click.Path(dir_okay=False, path_type=Path),
    default=SHIPPED_CATALOG, show_default="the shipped catalog/guangzhou.yaml",
    help="The sharing catalogue (YAML).",
)  # fmt: skip
rules_option = click.option(
    "--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Author rules to merge. Default: <catalogue>.rules.csv beside it, if present.",
)  # fmt: skip


def load_inputs(
    catalog_path: Path, rules_path: Path | None
) -> tuple[Catalog, tuple[AuthorRule, ...]]:
    """The catalogue and its author rules (`--rules`, or `<catalogue>.rules.csv` beside it)."""
    catalog = load_catalog(catalog_path)
    if rules_path is None:
        candidate = default_rules_path(catalog_path)
        rules_path = candidate if candidate.exists() else None
    rules = load_rules(rules_path, catalog) if rules_path else ()
    return catalog, rules


date_option = click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None,
    help="Decide as of this day (temporary rules end). Default: today.",
)  # fmt: skip
policy_option = click.option(
    "--policy", "policy_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Use the compiled files in this folder instead of compiling the catalogue now.",
)  # fmt: skip
duty_option = click.option(
    "--duty", default=None, metavar="DUTY",
    help="Decide for a request naming this duty (Govgate-Duty, Art. 18, 21): only what it "
    "grants the agency.",
)  # fmt: skip
