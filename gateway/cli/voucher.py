"""`govgate voucher ...`: verify a voucher, rotate the signing key, print the public keys.

    govgate voucher verify --response FILE [--voucher FILE] [--keys FILE] DEPLOYMENT
    govgate voucher rotate-key DEPLOYMENT
    govgate voucher keys DEPLOYMENT

where DEPLOYMENT is `--data DIR` (a demo folder) or `--config FILE` (a deployment file).

`verify` exits 0 when the voucher holds, 1 when anything does not (each mismatch printed), 2
when a file cannot be read or the store cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from gateway.cli._options import deployment_options, fail
from gateway.trust.errors import VoucherError
from gateway.trust.keyring import Keyring, PublicKeyring
from gateway.trust.vouchers.store import VoucherStore
from gateway.trust.vouchers.voucher import Voucher, check, differences
from sources.engines import sqlite_path

if TYPE_CHECKING:
    from gateway.settings import Settings

__all__ = ["voucher_group"]

#: The members of a whole GraphQL response (anything else is taken to be its `data`).
_RESPONSE_MEMBERS = {"data", "errors", "extensions"}


@click.group("voucher")
def voucher_group() -> None:
    """Vouchers: signed proof of exactly what data went to which agency, when (Art. 23)."""


_FILE = click.Path(dir_okay=False, path_type=Path)


@voucher_group.command("verify")
@click.option(
    "--response",
    "response_path",
    type=_FILE,
    required=True,
    help='The GraphQL response as the agency received it ({"data": ..., "extensions": '
    '{"voucher": ...}}), or just its data.',
)
@click.option(
    "--voucher",
    "voucher_path",
    type=_FILE,
    default=None,
    help="The voucher JSON. Default: extensions.voucher in the response file.",
)
@click.option(
    "--keys",
    "keys_path",
    type=_FILE,
    default=None,
    help="The keys file `govgate voucher keys` printed. Default: the keys the gateway "
    "recorded, and its signing-keys folder.",
)
@deployment_options
def verify_command(
    *, settings: Settings, response_path: Path, voucher_path: Path | None, keys_path: Path | None
) -> None:
    """Check a voucher: its signature, the data's hash, and the gateway's record of it."""
    data, embedded = _split_response(_read_json(response_path, "the GraphQL response"))
    if voucher_path is not None:
        document, source = _read_json(voucher_path, "the voucher"), str(voucher_path)
    elif embedded is not None:
        document, source = embedded, f"{response_path} (extensions.voucher)"
    else:
        fail(f"{response_path} has no extensions.voucher; pass the voucher with --voucher FILE.")
    try:
        voucher = Voucher.from_json(document)
    except VoucherError as error:
        fail(f"{source}: {error}")
    path = sqlite_path(settings.audit_url)
    if path is not None and not path.is_file():
        fail(
            f"there is no audit store at {path}; pass the --data folder or --config file of the "
            "gateway that issued the voucher."
        )
    try:
        recorded, store_keys = asyncio.run(_read_store(settings.audit_url, voucher.id))
        # Only keys the auditor holds apart from the database are trusted: someone who can
        # write to the store could add a key of their own there and sign what they like.
        del store_keys
        keys = (
            PublicKeyring.from_file(keys_path)
            if keys_path is not None
            else PublicKeyring.from_folder(settings.signing_keys)
        )
    except VoucherError as error:
        fail(str(error))
    problems = check(voucher, data, keys)
    if recorded is None:
        problems.append(
            f"the gateway recorded no voucher {voucher.id}: it was not issued by this "
            "deployment (check --data / --config), or its id was altered"
        )
    else:
        problems.extend(differences(voucher, recorded))
    if problems:
        click.echo(f"NOT verified: voucher {voucher.id}")
        for problem in problems:
            click.echo(f"  - {problem}")
        raise SystemExit(1)
    datasets = ", ".join(voucher.datasets) or "none"
    click.echo(
        f"verified: voucher {voucher.id} — exactly this data was returned to {voucher.agency} "
        f"at {voucher.issued_at} (datasets {datasets})"
    )


@voucher_group.command("rotate-key")
@deployment_options
def rotate_key_command(*, settings: Settings) -> None:
    """Add a new signing key and make it current; old keys stay so old vouchers verify."""
    try:
        keyring = Keyring.open(settings.signing_keys)
        old = keyring.current.kid
        new = keyring.rotate()
    except VoucherError as error:
        fail(str(error))
    click.echo(f"signing key rotated: {old} -> {new}")
    click.echo(
        f"{old} stays in {keyring.folder}, so the vouchers it signed still verify. Restart "
        f"the gateway to sign with {new}, and publish the keys again (govgate voucher keys)."
    )


@voucher_group.command("keys")
@deployment_options
def keys_command(*, settings: Settings) -> None:
    """Print the gateway's public signing keys as JSON, for auditors to keep (--keys FILE)."""
    folder = settings.signing_keys
    try:
        keys = PublicKeyring.from_folder(folder) if folder.is_dir() else PublicKeyring()
    except VoucherError as error:
        fail(str(error))
    if not keys:
        fail(
            f"{folder} holds no signing keys yet; the gateway creates its first key when it "
            "starts (or run `govgate voucher rotate-key`)."
        )
    click.echo(json.dumps(keys.to_json(), indent=2, sort_keys=True))


# -- helpers ----------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> object:
    """The JSON document in `path`, strictly (no NaN, no duplicate members); exit 2 if not."""
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        fail(f"cannot read {path} ({error.strerror}); pass the file holding {what}.")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text; pass the file holding {what}, as JSON.")
    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except ValueError as error:
        fail(f"{path} is not valid JSON ({error}); pass the file holding {what}, unchanged.")


def _no_constant(name: str) -> NoReturn:
    # NaN and Infinity are not JSON: no canonical form, so no gateway response holds them.
    raise ValueError(f"{name} is not a JSON value")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Two members with one name read differently in different JSON parsers: refuse the file
    # rather than verify a reading of it.
    document: dict[str, object] = {}
    for name, value in pairs:
        if name in document:
            raise ValueError(f"the member {name!r} appears twice in one object")
        document[name] = value
    return document


def _split_response(document: object) -> tuple[object, object | None]:
    """(data, extensions.voucher or None) of a whole response; (document, None) for bare data."""
    if isinstance(document, dict) and "data" in document and set(document) <= _RESPONSE_MEMBERS:
        extensions = document.get("extensions")
        voucher = extensions.get("voucher") if isinstance(extensions, dict) else None
        return document["data"], voucher
    return document, None


async def _read_store(url: str, voucher_id: str) -> tuple[Voucher | None, dict[str, str]]:
    """The gateway's record of the voucher, and the signing keys it recorded."""
    store = VoucherStore(url)
    try:
        if not await store.has_tables():
            return None, {}
        return await store.get(voucher_id), await store.public_keys()
    finally:
        await store.close()
