"""The `govgate` command line: one module per command group, the shared options once.

    seed      gateway.cli.seed      synthetic base databases
    demo      gateway.cli.demo      seed, compile, print tokens, serve GraphiQL
    serve     gateway.cli.serve     a deployment from its TOML file
    policy    gateway.cli.policy    check, compile, explain, grants, reload
    token     gateway.cli.token     development tokens; revoke a token everywhere
    catalog   gateway.cli.catalog   diff (with impact) and history of catalogue versions
    audit     gateway.cli.audit     verify, head, export; report (gateway.cli.report);
                                    init-roles, init-witness (gateway.cli.roles)
    voucher   gateway.cli.voucher   verify vouchers, print the public keys
    backup    gateway.cli.backup    backup and restore
    documents gateway.cli.documents approve, list and revoke trusted documents

Shared options (`--data`, `--config`, `--catalog`, `--rules`, `--date`, `--policy`, `--duty`)
and `fail` live in gateway.cli._options. Only this package imports click: the server never
loads it (tests/test_architecture.py).
"""

from __future__ import annotations

import click

from gateway.cli import report as _report  # noqa: F401 (adds `audit report` to the group)
from gateway.cli import roles as _roles  # noqa: F401 (adds `audit init-roles | init-witness`)
from gateway.cli.audit import audit_group
from gateway.cli.backup import backup_command, restore_command
from gateway.cli.catalog import catalog_group
from gateway.cli.demo import demo_command
from gateway.cli.documents import documents_group
from gateway.cli.objections import objections_group
from gateway.cli.policy import policy_group
from gateway.cli.requests import requests_group
from gateway.cli.seed import seed_command
from gateway.cli.serve import serve_command
from gateway.cli.token import token_group
from gateway.cli.voucher import voucher_group

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="govgate")
def main() -> None:
    """govgate: share base data between agencies, by duty, as the sharing catalogue says."""


for _command in (
    seed_command, demo_command, serve_command, policy_group, token_group, catalog_group,
    audit_group, voucher_group, backup_command, restore_command, requests_group,
    objections_group, documents_group,
):  # fmt: skip
    main.add_command(_command)
