"""Audit records in the one canonical form (RFC 8785) keep the bytes and hashes they had."""

from __future__ import annotations

import hashlib

from gateway.trust.audit.chain import GENESIS, link_hash
from gateway.trust.audit.entry import AuditEntry, Operation, canonical
from sources.canonical import canonical_json


def test_an_audit_record_keeps_the_bytes_and_hash_it_had_before_the_one_form() -> None:
    # Digests computed with the audit's own json.dumps form before issue 10 (commit a6b46f9):
    # records already in a chain verify as they did.
    entry = AuditEntry(
        at="2026-03-01T08:00:00.123456Z", request_id="req-1", endpoint="/graphql",
        decision="allowed", agency="TH-CA", operations=(Operation("Q", "a" * 64),),
        fields=("Person.idNumber", "Person.name"), records=("Person:440106199001011234",),
        policy_version="v-abc", latency_us=1234, flags=("verify:Person:KEY", '说明\u0001\t"\\'),
        vouchers=("v-1",), duty="户籍", officer="警号 0042",
    )  # fmt: skip
    text = canonical(entry.content())
    assert text == canonical_json(entry.content())
    assert hashlib.sha256(text).hexdigest() == (
        "fb9d593e305d0bd91dc1376f10b6c7086b07bc9aec9cb937a5b2252c7a9d1318"
    )
    assert link_hash(GENESIS, entry.content()) == (
        "039c0f1c19ab1840cbb701caad73c8a7d1dc03f4aafac7a6e48f5d54c022caed"
    )
