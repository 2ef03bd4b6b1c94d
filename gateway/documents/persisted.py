"""Automatic persisted queries (Apollo's protocol): an operation sent by the hash of its text.

An operation may carry `extensions.persistedQuery = {"version": 1, "sha256Hash": HEX}`:

- with its `query`: the text must hash to HEX (else BAD_REQUEST); it runs, and once it has
  passed validation it is registered for the agency (unless the agency is in required mode);
- without it: the text registered for the agency under HEX runs; unknown (or registered only
  for another agency, or revoked) answers PERSISTED_QUERY_NOT_FOUND, on which Apollo clients
  send the operation again with its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.documents.errors import DocumentError
from gateway.documents.store import document_hash

if TYPE_CHECKING:
    from gateway.documents.registry import Documents

__all__ = ["Resolved", "resolve"]

_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class Resolved:
    """An operation with its text (`body`); `register`: it came with text and hash, so it is
    registered for the agency once it passes validation."""

    body: object
    register: bool = False
    #: Whether the text was found by its hash (sent without text).
    by_hash: bool = False


def resolve(body: object, agency: str, documents: Documents) -> Resolved:
    """`body` with the text its persisted query names filled in; raises DocumentError refusing
    the operation. Operations without `extensions.persistedQuery` pass unchanged."""
    if not isinstance(body, dict):
        return Resolved(body)  # prepare_operation refuses it with the words for it
    extensions = body.get("extensions")
    if extensions is None:
        return Resolved(body)
    if not isinstance(extensions, dict):
        raise DocumentError("'extensions' must be a JSON object (or left out).", code="BAD_REQUEST")
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return Resolved(body)
    sha256 = _checked(persisted)
    query = body.get("query")
    if query is None:
        row = documents.find(agency, sha256)
        if row is None or row.status == "revoked":
            if row is not None and documents.required(agency):
                documents.admit(agency, row.query, introspection=False)  # says it was revoked
            raise DocumentError(
                f"No document with sha256Hash {sha256} is registered for {agency} "
                "(PersistedQueryNotFound); send the operation again with its 'query' text.",
                code="PERSISTED_QUERY_NOT_FOUND",
            )
        return Resolved({**body, "query": row.query}, by_hash=True)
    if isinstance(query, str) and document_hash(query) != sha256:
        raise DocumentError(
            f"The query's SHA-256 is {document_hash(query)}, not the sha256Hash sent "
            f"({sha256}): hash the exact text sent (UTF-8, lower-case hex), or leave the hash out.",
            code="BAD_REQUEST",
        )
    return Resolved(body, register=isinstance(query, str))


def _checked(persisted: Any) -> str:
    """The hash a `persistedQuery` extension names (lower case); DocumentError otherwise."""
    if not isinstance(persisted, dict):
        raise DocumentError(
            "'extensions.persistedQuery' must be an object: "
            '{"version": 1, "sha256Hash": "<64 hex digits>"}.',
            code="BAD_REQUEST",
        )
    version = persisted.get("version")
    if version != 1 or isinstance(version, bool):
        raise DocumentError(
            f"Persisted query version {version!r} is not supported; send version 1 "
            "(sha256Hash: the SHA-256 of the query text).",
            code="PERSISTED_QUERY_NOT_SUPPORTED",
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _HEX.fullmatch(sha256):
        raise DocumentError(
            "'extensions.persistedQuery.sha256Hash' must be the SHA-256 of the query text, "
            "64 hex digits.",
            code="BAD_REQUEST",
        )
    return sha256.lower()
