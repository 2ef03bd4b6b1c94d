"""`govgate catalog ...`: catalogue versions, what a change does, whom it hurts (Art. 9).

govgate catalog diff OLD NEW [--json] [--impact [--days N]]   exit 0: nothing removed; 1: some
govgate catalog history [--json]                             every published policy

OLD and NEW are catalogue files (their author rules are `<name>.rules.csv` beside them, if
present) or published policies: `@latest`, `@N` (a number `catalog history` lists) or `@` and
the first digits of a version hash. Published policies and `--impact` read the deployment's
database: give `--data DIR` or `--config FILE`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy.exc import SQLAlchemyError

from gateway.cli._options import config_option, data_option, fail
from gateway.cli.audit import audit_store
from gateway.errors import GatewayError
from gateway.policy.history import history, resolve
from gateway.policy.served import PolicyTexts
from gateway.policy.sync import PolicyStore
from gateway.trust.audit.impact import impact
from gateway.trust.audit.report import Period
from policies.catalog import read_policy_file
from policies.diff import diff_policies
from policies.errors import CatalogError, PolicyError, RulesError
from policies.rules import default_rules_path
from sources.engines import make_engine, sqlite_path

if TYPE_CHECKING:
    from datetime import date

    from gateway.policy.history import HistoryEntry
    from gateway.settings import Settings
    from gateway.trust.audit.impact import Use
    from policies.diff import PolicyDiff, Reduction
    from policies.grants import Policy

__all__ = ["catalog_group"]

#: How far back `--impact` looks by default: a quarter, the longest update cycle (Art. 17).
DEFAULT_IMPACT_DAYS = 90


@click.group("catalog")
def catalog_group() -> None:
    """Catalogue versions: what a change adds and removes, and who published what (Art. 9)."""


def _settings(data_dir: Path | None, config_path: Path | None, why: str) -> Settings:
    from gateway.settings import Settings, load_settings  # noqa: PLC0415

    if config_path is not None:
        try:
            return load_settings(config_path)
        except GatewayError as error:
            fail(str(error))
    if data_dir is None:
        fail(f"{why} reads the deployment's database: give --data DIR (the folder `govgate "
             "demo --data DIR` serves from) or --config FILE.")  # fmt: skip
    if not data_dir.is_dir():
        fail(f"{data_dir} is not a folder; pass the folder `govgate demo --data DIR` serves "
             "from, or --config FILE.")  # fmt: skip
    return Settings.demo(data_dir)


def _store(settings: Settings) -> PolicyStore:
    path = sqlite_path(settings.audit_url)
    if path is not None and not path.exists():
        fail(f"there is no gateway database at {path}: the gateway creates it when it first "
             "serves; check --data or the [audit] url in --config.")  # fmt: skip
    return PolicyStore(make_engine(settings.audit_url))


_data_option = data_option(
    "The folder `govgate demo --data DIR` serves from (for @versions and --impact).", default=None
)


# -- diff -------------------------------------------------------------------------------------


@catalog_group.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@click.option("--impact", "with_impact", is_flag=True,
              help="For each removal, count the requests that used it (audit log).")  # fmt: skip
@click.option("--days", type=click.IntRange(1, 3660), default=DEFAULT_IMPACT_DAYS,
              show_default=True, help="How many days back --impact looks.")  # fmt: skip
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The last day (UTC) --impact counts, and the day both policies are decided "
              "on. Default: today.")  # fmt: skip
@_data_option
@config_option
def diff_command(
    *,
    old: str,
    new: str,
    as_json: bool,
    with_impact: bool,
    days: int,
    as_of: datetime | None,
    data_dir: Path | None,
    config_path: Path | None,
) -> None:
    """What NEW adds and removes relative to OLD, per agency and duty; exit 1 if it removes
    anything (Art. 9: that needs the government's approval)."""
    day = as_of.date() if as_of else datetime.now(UTC).date()
    settings = None
    if with_impact or old.startswith("@") or new.startswith("@"):
        why = "--impact" if with_impact else "a published version (@...)"
        settings = _settings(data_dir, config_path, why)
    try:
        diff, labels = asyncio.run(_diff(old, new, day, settings))
        uses = asyncio.run(_impact(settings, diff, day, days)) if settings and with_impact else None
    except (PolicyError, LookupError, ValueError) as error:
        fail(str(error))
    except SQLAlchemyError as error:
        where = settings.audit_url if settings else "the database"
        fail(f"cannot read the gateway database at {where}: {error.__class__.__name__}; check "
             "the URL and that the database is up.")  # fmt: skip
    period = Period(day - timedelta(days=days - 1), day)
    if as_json:
        click.echo(json.dumps(_as_json(diff, labels, uses, period), ensure_ascii=False, indent=2))
    else:
        click.echo(_as_text(diff, labels, uses, period), nl=False)
    sys.exit(1 if diff.reductions else 0)


async def _diff(
    old: str, new: str, day: date, settings: Settings | None
) -> tuple[PolicyDiff, tuple[str, str]]:
    store = _store(settings) if settings is not None else None
    try:
        old_policy, old_label = await _policy(old, day, store)
        new_policy, new_label = await _policy(new, day, store)
    finally:
        if store is not None:
            await store.engine.dispose()
    return diff_policies(old_policy, new_policy), (old_label, new_label)


async def _policy(ref: str, day: date, store: PolicyStore | None) -> tuple[Policy, str]:
    """The policy `ref` names, decided as of `day`, and how to call it."""
    if ref.startswith("@"):
        if store is None:  # _settings made one whenever a reference starts with @
            raise LookupError(f"{ref} names a published policy; give --data or --config.")
        stored = await resolve(store, ref)
        texts, where = stored.texts, f"{ref} (published #{stored.id})"
    else:
        path = Path(ref)
        rules = default_rules_path(path)
        texts = PolicyTexts(
            catalog=read_policy_file(path, CatalogError),
            catalog_name=str(path),
            rules=read_policy_file(rules, RulesError) if rules.exists() else None,
            rules_name=str(rules) if rules.exists() else None,
        )
        where = str(path)
    policy = await asyncio.to_thread(texts.build, day)
    return policy, f"{where}: catalogue {policy.catalog.version}, policy {policy.version}"


async def _impact(settings: Settings, diff: PolicyDiff, day: date, days: int) -> dict[Any, Use]:
    store = audit_store(settings)
    period = Period(day - timedelta(days=days - 1), day)
    try:
        contents = (r.content async for r in store.records(start=period.start, end=period.end))
        return await impact(contents, diff.reductions, period)
    finally:
        await store.close()


def _as_json(
    diff: PolicyDiff, labels: tuple[str, str], uses: dict[Any, Use] | None, period: Period
) -> dict[str, Any]:
    out = {**diff.as_dict(), "fromLabel": labels[0], "toLabel": labels[1]}
    if uses is not None:
        out["impact"] = {"from": period.first.isoformat(), "to": period.last.isoformat()}
        out["removed"] = [
            {**change.as_dict(), "used": uses[change].as_dict()} for change in diff.reductions
        ]
    return out


def _as_text(
    diff: PolicyDiff, labels: tuple[str, str], uses: dict[Any, Use] | None, period: Period
) -> str:
    lines = [f"from {labels[0]}", f"to   {labels[1]}", f"decided as of {diff.day}", ""]
    removed, added = diff.reductions, diff.additions
    if removed:
        lines.append(f"Removed ({len(removed)}; Art. 9: needs the government's approval):")
        for change in removed:
            lines.append(f"  - {change.describe()}")
            if uses is not None:
                lines.append(f"      {_used(change, uses[change], period)}")
    if added:
        lines.append(f"Added ({len(added)}; takes effect at once, Art. 19):")
        lines += [f"  + {change.describe()}" for change in added]
    if diff.catalog:
        lines.append(f"Catalogue entries ({len(diff.catalog)}):")
        lines += [f"  ~ {change.describe()}" for change in diff.catalog]
    if not (removed or added or diff.catalog):
        lines.append("No changes: both grant exactly the same.")
    lines.append("")
    if removed:
        lines.append(f"{len(removed)} removed: put it into force with `govgate policy reload "
                     "--approval REF`, REF naming the government's approval.")  # fmt: skip
    else:
        lines.append("Nothing removed: no approval needed.")
    return "\n".join(lines) + "\n"


def _used(change: Reduction, use: Use, period: Period) -> str:
    if not use.requests:
        return f"used by no request of {change.agency} in {period.label}"
    plural = "request" if use.requests == 1 else "requests"
    return f"used by {change.agency} in {use.requests:,} {plural} in {period.label}, last at " \
        f"{use.last}"  # fmt: skip


# -- history ----------------------------------------------------------------------------------


@catalog_group.command("history")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@_data_option
@config_option
def history_command(*, as_json: bool, data_dir: Path | None, config_path: Path | None) -> None:
    """Every policy put into force: when, by whom, on what approval, removing what."""
    settings = _settings(data_dir, config_path, "catalog history")
    try:
        entries = asyncio.run(_history(_store(settings)))
    except SQLAlchemyError as error:
        fail(f"cannot read the gateway database at {settings.audit_url}: "
             f"{error.__class__.__name__}; check the URL and that the database is up.")  # fmt: skip
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in entries], ensure_ascii=False, indent=2))
        return
    if not entries:
        click.echo("No policy has been published yet: the gateway publishes its policy when it "
                   "first starts.")  # fmt: skip
        return
    click.echo(_history_table(entries), nl=False)


async def _history(store: PolicyStore) -> list[HistoryEntry]:
    try:
        await store.create()  # a store from before publications were recorded gets the table
        return await history(store)
    finally:
        await store.engine.dispose()


def _history_table(entries: list[HistoryEntry]) -> str:
    headers = ("#", "published at (UTC)", "policy", "catalogue", "removed", "added",
               "approval", "by")  # fmt: skip
    rows = [
        (f"@{e.number}", e.published_at, e.version, e.catalog_version or "-",
         str(len(e.removed)), "-" if e.added is None else str(e.added), e.approval or "-", e.who)
        for e in entries
    ]  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
           for row in (headers, tuple("-" * w for w in widths), *rows)]  # fmt: skip
    for entry in (e for e in entries if e.removed):
        out.append("")
        out.append(f"@{entry.number} removed, on approval {entry.approval}:")
        out += [f"  - {_describe(item)}" for item in entry.removed]
    return "\n".join(out) + "\n"


def _describe(item: dict[str, Any]) -> str:
    """A stored reduction (policies.diff `as_dict()`) in words."""
    who = item.get("agency", "?")
    if item.get("duty") and item.get("kind") != "duty":
        who = f"{who} under its duty {item['duty']}"
    if item.get("kind") == "grant":
        return f"{who} may no longer {item.get('method')} {item.get('field')}"
    if item.get("kind") == "scope":
        return f"{who} sees {item.get('type')} records of {item.get('from')}, then {item.get('to')}"
    return f"{who} no longer holds the duty {item.get('duty')}"
