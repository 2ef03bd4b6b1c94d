"""`govgate serve`: serve a deployment from its TOML file (and `serve_settings` for demo)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli._options import fail
from gateway.errors import GatewayError
from gateway.policy.history import approval_reference
from policies.errors import PolicyError
from sources.errors import SourceError

if TYPE_CHECKING:
    from gateway.http.logs import LogFormat
    from gateway.settings import Settings

__all__ = ["serve_command", "serve_settings"]


def serve_settings(
    settings: Settings,
    *,
    workers: int = 1,
    config: Path | None = None,
    log_format: LogFormat = "text",
    approval: str | None = None,
) -> None:
    from gateway.http.logs import configure_logging, log_config  # noqa: PLC0415
    from gateway.http.serving import serve  # noqa: PLC0415 (only serving needs uvicorn)

    configure_logging(json=log_format == "json")
    # uvicorn applies it again in each worker process, to its own loggers and to govgate's.
    logs = log_config(log_format)
    try:
        started = serve(settings, workers=workers, config=config, log_config=logs,
                        approval=approval)  # fmt: skip
    except (PolicyError, GatewayError, SourceError) as error:
        fail(str(error))
    if not started:
        sys.exit(3)  # as uvicorn.run does: it has logged why (an address in use, say)


@click.command("serve")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The deployment's TOML file (see docs/deploy-config.md).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes; they share one policy and one audit store, a chain each "
    "(docs/deploy.md).",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="Logs on stderr: one JSON object per line, or text for a terminal (docs/gateway.md).",
)
@click.option(
    "--approval",
    default=None,
    metavar="REF",
    help="The government's approval reference, when the catalogue or rules remove shared "
    "information relative to the published policy (Art. 9). Without it such files are not put "
    "into force: the published policy is served and the refusal logged.",
)
def serve_command(
    config_path: Path, workers: int, log_format: LogFormat, approval: str | None
) -> None:
    """Serve a deployment: sources by URL, catalogue and rules, keys and limits from --config."""
    from gateway.settings import load_settings  # noqa: PLC0415

    try:
        settings = load_settings(config_path)
        approval = None if approval is None else approval_reference(approval)
    except GatewayError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"--approval: {error}")
    serve_settings(settings, workers=workers, config=config_path, log_format=log_format,
           approval=approval)  # fmt: skip
