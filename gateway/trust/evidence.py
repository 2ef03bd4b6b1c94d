"""The gateway's evidence: signed vouchers for documentary data (Art. 23) and freshness (Art. 17).

`GatewayEvidence` is what resolvers see through `RequestContext.evidence` (voucher look-up,
canonical hashing, newest record times). `settle` is where an operation's answer comes to trust
on its way out: a voucher and any stale-data warnings are attached, and everything it disclosed
is noted on the request's trail, whose record is committed before the answer is released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from gateway.tracing import span
from gateway.trust.freshness import FreshnessMonitor, stale_warnings
from gateway.trust.vouchers import (
    CanonicalFormError,
    Keyring,
    Voucher,
    VoucherStore,
    data_sha256,
    issue,
    verify_signature,
)
from gateway.trust.vouchers.store import voucher_row, vouchers
from resolvers.errors import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.settings import Settings
    from gateway.trust.trail import Trail
    from policies.catalog import Catalog
    from policies.grants import Grants

__all__ = ["Disclosure", "GatewayEvidence", "documentary_datasets"]


class Disclosure(Protocol):
    """One operation's answer as trust sees it (gateway.graphql.execution.Answer is one)."""

    @property
    def response(self) -> dict[str, Any]:
        """The GraphQL response: `data`, `errors`, `extensions`."""

    @property
    def fields(self) -> frozenset[str]:
        """The `Type.field`s it read."""

    @property
    def records(self) -> tuple[tuple[str, str], ...]:
        """The records it returned, as (type, key)."""

    @property
    def flags(self) -> tuple[str, ...]:
        """What an auditor should look at."""


def documentary_datasets(
    catalog: Catalog, fields: Iterable[str], entities: Iterable[str]
) -> list[str]:
    """Documentary datasets (licences, documents) a response drew on: it read one of their fields
    and returned at least one record of their type. Such a response earns a voucher (Art. 23)."""
    read, returned = set(fields), set(entities)
    return [
        d.id for d in catalog.datasets
        if d.documentary and d.entity in returned and any(s.ref in read for s in d.fields)
    ]  # fmt: skip


class GatewayEvidence:
    """Vouchers (store and signing key) and freshness, for one gateway process."""

    def __init__(self, settings: Settings, engines: Mapping[str, AsyncEngine]) -> None:
        self.keyring = Keyring.open(settings.signing_keys)
        self.store = VoucherStore(settings.audit_url)
        self.monitor = FreshnessMonitor(engines)

    async def start(self) -> None:
        """Create the voucher tables if missing; record the current key's public half."""
        await self.store.create()
        current = self.keyring.current
        await self.store.record_key(current.kid, current.public_key_b64)

    async def close(self) -> None:
        """Release the store's connections."""
        await self.store.close()

    async def voucher(self, voucher_id: str) -> dict[str, Any] | None:
        """A stored voucher as JSON plus `signatureValid` (by the store's or keyring's keys)."""
        found = await self.store.get(voucher_id)
        if found is None:
            return None
        # The keyring folder's keys only: the store's key table is writable by whoever can
        # write to the database, so it cannot vouch for a signature.
        key = self.keyring.public_keys().get(found.key_id)
        valid = key is not None and verify_signature(key, found.signed_payload(), found.signature)
        return {**found.to_json(), "signatureValid": valid}

    def data_sha256(self, data: object) -> str:
        """SHA-256 of the canonical (RFC 8785) form of `data`; InvalidArgumentError (the
        client's to fix, BAD_USER_INPUT) for what JSON cannot carry exactly: NaN, 1e400,
        integers beyond 2**53, lone surrogates."""
        try:
            return data_sha256(data)
        except CanonicalFormError as error:
            raise InvalidArgumentError(
                f"`data` cannot be what a voucher covers: {error} Send the answer's `data` "
                "member exactly as received."
            ) from None

    async def newest(self, grants: Grants) -> Mapping[str, datetime | None]:
        """Each source's newest `updated_at` within the caller's row scope (cached)."""
        return await self.monitor.newest(grants)

    async def attach(
        self,
        response: dict[str, Any],
        *,
        catalog: Catalog,
        grants: Grants,
        request_id: str,
        fields: set[str],
        entities: set[str],
        now: datetime,
    ) -> Voucher | None:
        """Add `extensions.voucher` and `extensions.warnings` to `response` where due; the
        voucher issued, if any. The caller records it with the request's audit record, in the
        same transaction, before the response is released (Art. 23)."""
        if response.get("data") is None or not entities:
            return None
        extensions: dict[str, Any] = {}
        newest = await self.monitor.newest(grants)
        warnings = stale_warnings(
            catalog, grants, fields=fields, entities=entities, newest=newest, now=now
        )
        if warnings:
            extensions["warnings"] = warnings
        datasets = documentary_datasets(catalog, fields, entities)
        voucher = None
        if datasets:
            voucher = issue(self.keyring, agency=grants.agency.code, request_id=request_id,
                            datasets=datasets, data=response["data"], issued_at=now)  # fmt: skip
            extensions["voucher"] = voucher.to_json()
        if extensions:
            response.setdefault("extensions", {}).update(extensions)
        return voucher

    async def settle(
        self, trail: Trail, answer: Disclosure, *, catalog: Catalog, grants: Grants, now: datetime
    ) -> None:
        """Vouch for one operation's answer and note what it disclosed on `trail`.

        Raises CanonicalFormError (and notes nothing) when the data cannot be fixed in a
        voucher: such an answer must not be released (Art. 23).
        """
        with span("vouchers") as traced:  # freshness warnings and the voucher, signed
            voucher = await self.attach(
                answer.response,
                catalog=catalog,
                grants=grants,
                request_id=trail.request_id,
                fields=set(answer.fields),
                entities={entity for entity, _ in answer.records},
                now=now,
            )
            traced.set("voucher.issued", voucher is not None)
        trail.result(answer.response)
        trail.fields |= answer.fields
        trail.records += [f"{entity}:{key}" for entity, key in answer.records]
        trail.flags += answer.flags
        if voucher is not None:
            trail.vouchers.append(voucher.id)
            trail.evidence.append((vouchers, voucher_row(voucher)))
