"""`govgate voucher verify | rotate-key | keys`, run in-process with click's runner."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, text

from gateway.cli.voucher import voucher_group
from gateway.settings import Settings
from gateway.trust.vouchers import Keyring, Voucher, VoucherStore, data_sha256, issue
from gateway.trust.vouchers.store import signing_keys
from sources.engines import make_engine
from tests.gateway.trust.test_vouchers import DATA, deep_copy

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import Result

WHEN = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)


def govgate_voucher(*args: str | Path) -> Result:
    # catch_exceptions=False: a crash must fail the test, not pass for exit code 1.
    return CliRunner().invoke(voucher_group, [str(a) for a in args], catch_exceptions=False)


def issue_and_save(settings: Settings, **overrides: Any) -> Voucher:
    """A voucher from the deployment's current key, recorded in its store, as the gateway does."""
    keyring = Keyring.open(settings.signing_keys)
    arguments: dict[str, Any] = {"agency": "TH-CA", "request_id": "req-1",
                                 "datasets": ["license-core", "entity-core"], "data": DATA,
                                 "issued_at": WHEN}  # fmt: skip
    voucher = issue(keyring, **{**arguments, **overrides})
    asyncio.run(save(settings.audit_url, voucher, keyring.current.public_key_b64))
    return voucher


async def save(url: str, voucher: Voucher, public_key_b64: str) -> None:
    store = VoucherStore(url)
    try:
        await store.create()
        await store.save(voucher, public_key_b64)
    finally:
        await store.close()


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), "utf-8")
    return path


def response_with(voucher: Voucher, path: Path, data: object = DATA) -> Path:
    """The whole GraphQL response, as the agency received it."""
    return write_json(path, {"data": data, "extensions": {"voucher": voucher.to_json()}})


@dataclass(frozen=True)
class Deployment:
    """A demo data folder whose gateway issued `voucher`, and the response file the agency got."""

    data_dir: Path
    settings: Settings
    voucher: Voucher
    response: Path


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings.demo(data_dir)
    voucher = issue_and_save(settings)
    return Deployment(data_dir, settings, voucher, response_with(voucher, tmp_path / "r.json"))


def verify(deployment: Deployment, *args: str | Path) -> Result:
    return govgate_voucher("verify", "--data", deployment.data_dir, *args)


# -- verify -----------------------------------------------------------------------------------


def test_verify_exits_zero_and_says_what_was_returned_to_whom_and_when(
    deployment: Deployment,
) -> None:
    result = verify(deployment, "--response", deployment.response)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"verified: voucher {deployment.voucher.id} — exactly this data was returned to TH-CA "
        "at 2026-11-26T01:30:00.000000Z (datasets entity-core, license-core)\n"
    )


def test_verify_takes_the_bare_data_and_the_voucher_in_its_own_file(
    deployment: Deployment, tmp_path: Path
) -> None:
    # Another JSON writer: other member order, other spacing, 1500000 for 1500000.0.
    data = deep_copy(DATA)
    data["license"] = dict(reversed(list(data["license"].items())))
    data["license"]["holder"]["registeredCapital"] = 1500000
    bare = tmp_path / "data.json"
    bare.write_text(json.dumps(data, separators=(",", ":")), "utf-8")
    voucher = write_json(tmp_path / "voucher.json", deployment.voucher.to_json())
    result = verify(deployment, "--response", bare, "--voucher", voucher)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"verified: voucher {deployment.voucher.id}")


@pytest.mark.parametrize(
    ("member", "value", "expected"),
    [
        ("agency", "GZ-PSB", ["the voucher's agency is GZ-PSB but the gateway recorded TH-CA"]),
        (
            "issuedAt",
            "2026-11-25T01:30:00.000000Z",
            [
                "the voucher's issue time is 2026-11-25T01:30:00.000000Z but the gateway recorded "
                "2026-11-26T01:30:00.000000Z"
            ],
        ),
        (
            "requestId",
            "req-2",
            ["the voucher's request id is req-2 but the gateway recorded req-1"],
        ),
        (
            "datasets",
            ["license-core"],
            [
                "the voucher's datasets are license-core but the gateway recorded entity-core, "
                "license-core"
            ],
        ),
        (
            "dataSha256",
            "0" * 64,
            [
                "the response's data does not match the voucher: SHA-256 of its canonical form is ",
                f"the voucher's data hash is {'0' * 64} but the gateway recorded ",
            ],
        ),
    ],
)
def test_verify_exits_one_naming_a_member_changed_since_the_gateway_recorded_it(
    deployment: Deployment, tmp_path: Path, member: str, value: object, expected: list[str]
) -> None:
    altered = write_json(tmp_path / "voucher.json", {**deployment.voucher.to_json(), member: value})
    result = verify(deployment, "--response", deployment.response, "--voucher", altered)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"NOT verified: voucher {deployment.voucher.id}"
    assert lines[1] == (
        "  - the voucher's signature does not match its contents: the voucher was altered "
        "(its agency, time, datasets or hash changed)"
    )
    for message in expected:
        assert any(line.startswith(f"  - {message}") for line in lines[2:]), (message, lines)
    assert len(lines) == 2 + len(expected)


def test_verify_exits_one_for_a_voucher_the_gateway_never_recorded(
    deployment: Deployment, tmp_path: Path
) -> None:
    forged_id = "v-" + "0" * 32
    altered = write_json(tmp_path / "v.json", {**deployment.voucher.to_json(), "id": forged_id})
    result = verify(deployment, "--response", deployment.response, "--voucher", altered)
    assert result.exit_code == 1, result.output
    assert f"  - the gateway recorded no voucher {forged_id}: it was not issued" in result.stdout


def test_verify_exits_one_for_a_signature_not_the_one_recorded(
    deployment: Deployment, tmp_path: Path
) -> None:
    other = issue_and_save(deployment.settings)  # a genuine signature, over another voucher
    document = {**deployment.voucher.to_json(), "signature": other.signature}
    result = verify(deployment, "--response", deployment.response,
                    "--voucher", write_json(tmp_path / "v.json", document))  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "  - the voucher's signature does not match its contents" in result.stdout
    assert "  - the voucher's signature differs from the one the gateway recorded" in result.stdout


def test_verify_exits_one_when_one_value_deep_in_the_data_changed(
    deployment: Deployment, tmp_path: Path
) -> None:
    data = deep_copy(DATA)
    data["license"]["holder"]["creditCode"] = "91440106MA59C8KX3Q"
    response = response_with(deployment.voucher, tmp_path / "changed.json", data)
    result = verify(deployment, "--response", response)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[1:] == [
        "  - the response's data does not match the voucher: SHA-256 of its canonical form is "
        f"{data_sha256(data)}, the voucher says {deployment.voucher.data_sha256}"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path} (No such file or directory); pass the file holding"),
        ('{"data": ', "{path} is not valid JSON (Expecting value"),
        ('{"data": {"x": NaN}}', "{path} is not valid JSON (NaN is not a JSON value)"),
        ('{"data": {"x": 1, "x": 2}}', "{path} is not valid JSON (the member 'x' appears twice"),
        ('{"license": null}', "{path} has no extensions.voucher; pass the voucher with --voucher"),
        (
            '{"data": {}, "extensions": {"voucher": {"id": "v-1"}}}',
            "{path} (extensions.voucher): The voucher lacks its `issuedAt` member",
        ),
    ],
)
def test_verify_exits_two_for_a_file_it_cannot_read(
    deployment: Deployment, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "given.json"
    if content is not None:
        path.write_text(content, "utf-8")
    result = verify(deployment, "--response", path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: " + message.format(path=path))


def test_verify_exits_two_when_the_deployment_has_no_audit_store(
    deployment: Deployment, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = govgate_voucher("verify", "--data", elsewhere, "--response", deployment.response)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: there is no audit store at {elsewhere / 'audit.db'}")
    assert not (elsewhere / "audit.db").exists()


# -- keys and rotation ------------------------------------------------------------------------


def test_keys_prints_the_public_keys_only(deployment: Deployment) -> None:
    result = govgate_voucher("keys", "--data", deployment.data_dir)
    assert result.exit_code == 0, result.output
    keyring = Keyring.open(deployment.settings.signing_keys)
    assert json.loads(result.stdout) == {"keys": keyring.public_keys()}
    assert "PRIVATE" not in result.stdout


def test_keys_refuses_a_deployment_without_keys(tmp_path: Path) -> None:
    result = govgate_voucher("keys", "--data", tmp_path)
    assert result.exit_code == 2
    assert "holds no signing keys yet" in result.stderr


def test_after_rotation_old_vouchers_verify_by_the_store_and_by_a_published_keys_file(
    deployment: Deployment, tmp_path: Path
) -> None:
    published = tmp_path / "published.json"
    published.write_text(govgate_voucher("keys", "--data", deployment.data_dir).stdout, "utf-8")
    old = deployment.voucher.key_id

    rotated = govgate_voucher("rotate-key", "--data", deployment.data_dir)
    assert rotated.exit_code == 0, rotated.output
    new = Keyring.open(deployment.settings.signing_keys).current.kid
    assert new != old
    assert rotated.stdout.startswith(f"signing key rotated: {old} -> {new}\n")

    newer = issue_and_save(deployment.settings, agency="GZ-PSB")
    assert newer.key_id == new
    keys = json.loads(govgate_voucher("keys", "--data", deployment.data_dir).stdout)["keys"]
    assert sorted(keys) == sorted([old, new])

    # The published file, kept apart from the deployment, verifies the old voucher only.
    result = verify(deployment, "--response", deployment.response, "--keys", published)
    assert result.exit_code == 0, result.output
    newer_response = response_with(newer, tmp_path / "newer.json")
    result = verify(deployment, "--response", newer_response, "--keys", published)
    assert result.exit_code == 1
    assert f"  - the voucher names key {new} which is not among the gateway's" in result.stdout

    # The keyring folder keeps every key, old and new: it verifies both.
    for response in (deployment.response, newer_response):
        result = verify(deployment, "--response", response)
        assert result.exit_code == 0, result.output


def test_verify_trusts_the_keyring_folder_or_a_keys_file_never_the_stores_key_table(
    deployment: Deployment,
) -> None:
    asyncio.run(forget_recorded_keys(deployment.settings.audit_url))
    result = verify(deployment, "--response", deployment.response)
    assert result.exit_code == 0, result.output
    shutil.rmtree(deployment.settings.signing_keys)
    result = verify(deployment, "--response", deployment.response)
    assert result.exit_code == 2
    assert "is not a folder of signing keys" in result.stderr


async def forget_recorded_keys(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP TRIGGER signing_keys_no_delete"))  # an insider
        await connection.execute(delete(signing_keys))
    await engine.dispose()


def test_verify_refuses_an_altered_keys_file(deployment: Deployment, tmp_path: Path) -> None:
    other = Keyring.open(tmp_path / "other").current.public_key_b64
    keys = write_json(tmp_path / "keys.json", {"keys": {deployment.voucher.key_id: other}})
    result = verify(deployment, "--response", deployment.response, "--keys", keys)
    assert result.exit_code == 2
    assert "is not the key its id names" in result.stderr


@pytest.mark.postgres
def test_verify_reads_a_deployment_whose_store_is_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    sources = "\n".join(f'{name} = "sqlite+aiosqlite:///{name}.db"'
                        for name in ("persons", "entities", "land", "licenses"))  # fmt: skip
    config = tmp_path / "govgate.toml"
    config.write_text(
        f'[sources]\n{sources}\n[audit]\nurl = "{postgres_url}"\n[signing]\nkeys = "keys"\n',
        "utf-8",
    )
    keyring = Keyring.open(tmp_path / "keys")
    voucher = issue(keyring, agency="TH-CA", request_id="req-pg", datasets=["license-core"],
                    data=DATA, issued_at=WHEN)  # fmt: skip
    asyncio.run(save(postgres_url, voucher, keyring.current.public_key_b64))
    response = response_with(voucher, tmp_path / "r.json")
    result = govgate_voucher("verify", "--config", config, "--response", response)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"verified: voucher {voucher.id}")
    altered = write_json(tmp_path / "v.json", {**voucher.to_json(), "agency": "GZ-PSB"})
    result = govgate_voucher("verify", "--config", config, "--response", response,
                             "--voucher", altered)  # fmt: skip
    assert result.exit_code == 1
    assert "  - the voucher's agency is GZ-PSB but the gateway recorded TH-CA" in result.stdout
