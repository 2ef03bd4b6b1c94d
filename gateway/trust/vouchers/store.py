"""The gateway's record of every voucher it issued, and of the public keys that signed them.

Vouchers live in the audit database (`Settings.audit_url`: SQLite by default, PostgreSQL in a
deployment) in two tables of their own, beside the audit tables:

    vouchers      id, issued_at, agency, request_id, datasets (JSON array), data_sha256,
                  key_id, signature
    signing_keys  key_id, public_key (standard base64 raw Ed25519), added_at

A key's public half is recorded the first time a voucher signed with it is saved, so the store
alone verifies old vouchers after the signing key was rotated. Times are stored as the
voucher's own ISO 8601 text (fixed width, UTC, `Z`): it reads back byte for byte, and sorts
chronologically as text.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, String, Table, Text, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.trust.audit.schema import ensure_tables
from gateway.trust.errors import VoucherStoreError
from gateway.trust.keyring import key_id
from gateway.trust.vouchers.voucher import Voucher
from sources.engines import make_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Row
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["VoucherStore", "metadata", "signing_keys", "voucher_row", "vouchers"]

#: The voucher tables only: `create()` never touches the audit tables beside them.
metadata = MetaData()

vouchers = Table(
    "vouchers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("issued_at", String(32), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("request_id", String(255), nullable=False),
    Column("datasets", Text, nullable=False),
    Column("data_sha256", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("added_at", String(32), nullable=False),
)

# What an operator can do about a store that cannot be reached.
_REACH = "check that the audit database (audit.url) is reachable and the gateway may write to it"


class VoucherStore:
    """Vouchers and signing public keys in the audit database at `url` (async)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)
        #: Keys known to be recorded, kid -> public key: one look-up per key per process.
        self._recorded: dict[str, str] = {}

    @property
    def _where(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    async def create(self) -> None:
        """Create the voucher tables if they are missing (other tables are left alone)."""
        try:
            async with self._engine.begin() as connection:
                # Evidence is never rewritten; on a store an administrator prepared (`govgate
                # audit init-roles`) this sends no DDL, which the gateway's role may not run.
                await ensure_tables(connection, metadata, ["vouchers", "signing_keys"])
        except (SQLAlchemyError, OSError) as error:
            raise VoucherStoreError(
                f"Cannot create the voucher tables in {self._where} ({_describe(error)}); {_REACH}."
            ) from None

    async def has_tables(self) -> bool:
        """Whether the voucher tables exist (a store no gateway has written to has none)."""
        try:
            async with self._engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: all(
                        inspect(sync).has_table(t.name) for t in metadata.sorted_tables
                    )
                )
        except (SQLAlchemyError, OSError) as error:
            raise VoucherStoreError(
                f"Cannot read {self._where} ({_describe(error)}); {_REACH}."
            ) from None

    async def save(self, voucher: Voucher, public_key_b64: str) -> None:
        """Record `voucher`, and the public key that signed it if not recorded yet.

        Raises VoucherStoreError when `public_key_b64` is not the key the voucher names, the
        store holds another key under that kid, the voucher id is taken, or the database fails.
        """
        if self._recorded.get(voucher.key_id) != public_key_b64:
            await self._record_key(voucher.key_id, public_key_b64)
        row = voucher_row(voucher)
        try:
            async with self._engine.begin() as connection:
                await connection.execute(vouchers.insert(), row)
        except IntegrityError:
            raise VoucherStoreError(
                f"A voucher with id {voucher.id} is already recorded; issue a new voucher "
                "(ids are random and never reused)."
            ) from None
        except (SQLAlchemyError, OSError) as error:
            raise VoucherStoreError(
                f"Cannot record voucher {voucher.id} in {self._where} ({_describe(error)}); "
                f"{_REACH}."
            ) from None

    async def get(self, voucher_id: str) -> Voucher | None:
        """The recorded voucher with this id, or None."""
        try:
            async with self._engine.connect() as connection:
                result = await connection.execute(
                    select(vouchers).where(vouchers.c.id == voucher_id)
                )
                row = result.one_or_none()
        except (SQLAlchemyError, OSError) as error:
            raise VoucherStoreError(
                f"Cannot read vouchers from {self._where} ({_describe(error)}); {_REACH}."
            ) from None
        return None if row is None else _voucher(row)

    async def public_keys(self) -> dict[str, str]:
        """Every recorded signing key: kid -> standard base64 raw Ed25519 public key."""
        try:
            async with self._engine.connect() as connection:
                result = await connection.execute(
                    select(signing_keys.c.key_id, signing_keys.c.public_key).order_by(
                        signing_keys.c.key_id
                    )
                )
                return {str(kid): str(public) for kid, public in result.all()}
        except (SQLAlchemyError, OSError) as error:
            raise VoucherStoreError(
                f"Cannot read signing keys from {self._where} ({_describe(error)}); {_REACH}."
            ) from None

    async def close(self) -> None:
        """Close the store's connections."""
        await self._engine.dispose()

    async def record_key(self, kid: str, public_key_b64: str) -> None:
        """Record the public key `kid` (once); raises VoucherStoreError as `save` does."""
        if self._recorded.get(kid) != public_key_b64:
            await self._record_key(kid, public_key_b64)

    async def _record_key(self, kid: str, public_key_b64: str) -> None:
        try:
            raw = base64.b64decode(public_key_b64.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if key_id(raw) != kid:  # a kid is the hash of its key: this is not that key
            raise VoucherStoreError(
                f"Refusing to record {public_key_b64[:60]!r} as signing key {kid}: it is not "
                "that key; pass the public key of the key that signed the voucher "
                "(keyring.current.public_key_b64)."
            )
        try:
            async with self._engine.begin() as connection:
                recorded = await _recorded_key(connection, kid)
                if recorded is None:
                    added_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    await connection.execute(
                        signing_keys.insert(),
                        {"key_id": kid, "public_key": public_key_b64, "added_at": added_at},
                    )
                    recorded = public_key_b64
        except IntegrityError:
            # Another gateway worker recorded the key between our look-up and insert.
            async with self._engine.connect() as connection:
                recorded = await _recorded_key(connection, kid)
        except (SQLAlchemyError, OSError) as error:
            raise VoucherStoreError(
                f"Cannot record signing key {kid} in {self._where} ({_describe(error)}); {_REACH}."
            ) from None
        if recorded != public_key_b64:
            raise VoucherStoreError(
                f"The store already holds a different public key under {kid}; the "
                "signing_keys table was altered: restore it from a backup before issuing "
                "vouchers."
            )
        self._recorded[kid] = public_key_b64


def voucher_row(voucher: Voucher) -> dict[str, str]:
    """The `vouchers` row of `voucher` (the gateway writes it in the request's audit batch)."""
    return {
        "id": voucher.id,
        "issued_at": voucher.issued_at,
        "agency": voucher.agency,
        "request_id": voucher.request_id,
        "datasets": json.dumps(list(voucher.datasets)),
        "data_sha256": voucher.data_sha256,
        "key_id": voucher.key_id,
        "signature": voucher.signature,
    }


async def _recorded_key(connection: AsyncConnection, kid: str) -> str | None:
    result = await connection.execute(
        select(signing_keys.c.public_key).where(signing_keys.c.key_id == kid)
    )
    value = result.scalar_one_or_none()
    return None if value is None else str(value)


def _voucher(row: Row[tuple[object, ...]]) -> Voucher:
    record = row._mapping
    return Voucher(
        id=str(record["id"]),
        issued_at=str(record["issued_at"]),
        agency=str(record["agency"]),
        request_id=str(record["request_id"]),
        datasets=tuple(str(d) for d in json.loads(str(record["datasets"]))),
        data_sha256=str(record["data_sha256"]),
        key_id=str(record["key_id"]),
        signature=str(record["signature"]),
    )


def _describe(error: BaseException) -> str:
    """The driver's own words for a database error, without the SQL statement."""
    original = getattr(error, "orig", None)
    return str(original or error).strip().splitlines()[0]
