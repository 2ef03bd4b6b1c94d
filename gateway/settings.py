"""Gateway settings: where the sources and the catalogue are, how tokens are checked, limits.

`govgate demo` builds them from a data folder; `govgate serve --config FILE` reads a TOML file
(documented in docs/deploy-config.md). Settings are frozen and validated at construction.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gateway.errors import GatewayError
from gateway.keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key
from policies.catalog import SHIPPED_CATALOG
from policies.rules import default_rules_path
from sources.engines import SourceOptions, default_urls, parse_source_urls
from sources.errors import SourceConfigError

__all__ = ["ConfigError", "Limits", "Settings", "load_settings", "section"]


class ConfigError(GatewayError):
    """The configuration file cannot be used; the message says what to change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what one request may ask (QUERY_TOO_COMPLEX past them)."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_page_size: int = 100
    max_batch: int = 10
    max_body_bytes: int = 100_000
    max_verifications: int = 5

    def __post_init__(self) -> None:
        names = ("max_depth", "max_aliases", "max_tokens", "max_page_size", "max_batch",
                 "max_verifications", "max_body_bytes")  # fmt: skip
        for name in names:
            if getattr(self, name) < 1:
                raise ConfigError(f"limits.{name} must be at least 1.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything `govgate serve` needs."""

    sources: dict[str, str]
    catalog: Path = SHIPPED_CATALOG
    rules: Path | None = None
    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    algorithms: tuple[str, ...] = ("EdDSA",)
    public_keys: dict[str, str] = field(default_factory=dict)
    jwks_url: str | None = None
    #: Refuse tokens that do not name the acting officer (`act`, Art. 29, 34): OFFICER_REQUIRED.
    #: Off by default so agency systems without per-person tokens keep working; turn it on
    #: once the identity provider issues them.
    require_officer: bool = False
    limits: Limits = field(default_factory=Limits)
    host: str = "127.0.0.1"
    port: int = 8000
    #: Pool sizes and time limits per source (`[source_options]`); defaults where absent.
    source_options: dict[str, SourceOptions] = field(default_factory=dict)
    #: The audit store (Art. 28, 34): SQLite by default, PostgreSQL in a deployment.
    audit_url: str = "sqlite+aiosqlite:///data/audit.db"
    #: Folder of the gateway's own signing keys (vouchers, audit checkpoints); see
    #: gateway.signing. Created with a first key when missing.
    signing_keys: Path = Path("data/keys/gateway")

    @classmethod
    def demo(cls, data_dir: Path, *, host: str = "127.0.0.1", port: int = 8000) -> Settings:
        """The demo deployment: SQLite sources and the dev signing key in `data_dir`."""
        key = dev_signing_key(data_dir)
        rules = default_rules_path(SHIPPED_CATALOG)
        return cls(
            sources=default_urls(data_dir),
            rules=rules if rules.exists() else None,
            public_keys={key.kid: key.public_pem()},
            host=host,
            port=port,
            audit_url=f"sqlite+aiosqlite:///{data_dir / 'audit.db'}",
            signing_keys=data_dir / "keys" / "gateway",
        )


_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    list: "a list",
    dict: "a table",
    bool: "true or false",
}

_Section = TypeVar("_Section")


def section(path: Path, cls: type[_Section], table: dict[str, Any], name: str) -> _Section:
    """Build the frozen dataclass `cls` from the TOML table `[name]`.

    A key that is not one of `cls`'s fields is refused naming itself and every valid key (a
    misspelling must not pass silently, nor show Python internals); a value the class refuses
    is reported with the table's name.
    """
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            raise ConfigError(
                f"{path}: [{name}] {key!r} is an unknown setting; the settings of [{name}] "
                f"are {', '.join(sorted(known))} (docs/deploy-config.md)."
            )
    try:
        return cls(**table)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: [{name}] {error}") from None


def _get(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if value is not None and not isinstance(value, kind):
        place = f"{where}.{key}" if where else f"[{key}]"
        raise ConfigError(f"{place} must be {_KIND_NAMES[kind]}, not {value!r}.")
    return value


def _relative_sqlite(url: object, base: Path) -> str:
    """A relative SQLite path in the file is relative to the file, not to the working folder."""
    text = str(url)
    prefix = "sqlite+aiosqlite:///"
    if text.startswith(prefix) and not text.startswith(prefix + "/"):
        return prefix + str((base / text.removeprefix(prefix)).resolve())
    return text


def _source_options(
    path: Path, table: dict[str, Any], urls: dict[str, str]
) -> dict[str, SourceOptions]:
    """`[source_options]`: keys for every source, and `[source_options.NAME]` for one."""
    shared = {k: v for k, v in table.items() if not isinstance(v, dict)}
    unknown = sorted({k for k, v in table.items() if isinstance(v, dict)} - set(urls))
    if unknown:
        raise ConfigError(
            f"{path}: [source_options.{unknown[0]}] names no source; the sources are "
            f"{', '.join(sorted(urls))}."
        )
    options = {}
    for name in urls:
        given = {**shared, **(table.get(name) or {})}
        try:
            options[name] = SourceOptions(**given)
        except TypeError as error:
            raise ConfigError(
                f"{path}: [source_options] unknown setting ({error}); see docs/deploy-config.md."
            ) from None
        except SourceConfigError as error:
            raise ConfigError(f"{path}: [source_options] for {name}: {error}") from None
    return options


def load_settings(path: str | Path) -> Settings:
    """Read a TOML deployment file; raises ConfigError naming what is wrong."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; pass the deployment's TOML file.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path} cannot be read as TOML: {error}") from None
    base = path.parent
    sources = _get(document, "sources", dict, "") or {}
    try:
        urls = parse_source_urls(f"{k}={_relative_sqlite(v, base)}" for k, v in sources.items())
    except SourceConfigError as error:
        raise ConfigError(f"{path}: [sources] {error}") from None
    missing = {"persons", "entities", "land", "licenses"} - set(urls)
    if missing:
        raise ConfigError(
            f"{path}: [sources] lacks {', '.join(sorted(missing))}; give every source a URL."
        )
    policy = _get(document, "policy", dict, "") or {}
    catalog = (base / (_get(policy, "catalog", str, "policy") or str(SHIPPED_CATALOG))).resolve()
    rules_text = _get(policy, "rules", str, "policy")
    identity = _get(document, "identity", dict, "") or {}
    keys: dict[str, str] = {}
    for kid, key_path in (_get(identity, "public_keys", dict, "identity") or {}).items():
        try:
            keys[kid] = (base / key_path).read_text("utf-8")
        except OSError as error:
            raise ConfigError(
                f"{path}: identity.public_keys.{kid}: cannot read {key_path} ({error.strerror})."
            ) from None
    options = _source_options(path, _get(document, "source_options", dict, "") or {}, urls)
    limits = _get(document, "limits", dict, "") or {}
    audit = _get(document, "audit", dict, "") or {}
    signing = _get(document, "signing", dict, "") or {}
    server = _get(document, "server", dict, "") or {}
    try:
        return Settings(
            sources=urls,
            catalog=catalog,
            rules=(base / rules_text).resolve() if rules_text else None,
            issuer=_get(identity, "issuer", str, "identity") or DEV_ISSUER,
            audience=_get(identity, "audience", str, "identity") or DEV_AUDIENCE,
            algorithms=tuple(_get(identity, "algorithms", list, "identity") or ("EdDSA",)),
            public_keys=keys,
            jwks_url=_get(identity, "jwks_url", str, "identity"),
            require_officer=bool(_get(identity, "require_officer", bool, "identity")),
            limits=section(path, Limits, limits, "limits"),
            source_options=options,
            host=_get(server, "host", str, "server") or "127.0.0.1",
            port=_get(server, "port", int, "server") or 8000,
            audit_url=_relative_sqlite(
                _get(audit, "url", str, "audit") or "sqlite+aiosqlite:///audit.db", base
            ),
            signing_keys=(base / (_get(signing, "keys", str, "signing") or "keys")).resolve(),
        )
    except TypeError as error:
        raise ConfigError(
            f"{path}: unknown setting ({error}); see docs/deploy-config.md."
        ) from None
