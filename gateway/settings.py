"""Gateway settings: where the sources and the catalogue are, how tokens are checked, limits.

`govgate demo` builds them from a data folder; `govgate serve --config FILE` reads a TOML file
(documented in docs/deploy-config.md). Settings are frozen and validated at construction.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.errors import GatewayError
from gateway.keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key
from policies.catalog import SHIPPED_CATALOG
from policies.rules import default_rules_path
from sources.engines import SourceOptions, default_urls, parse_source_urls
from sources.errors import SourceConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AgencyRateLimits",
    "ConfigError",
    "Limits",
    "RateLimits",
    "Settings",
    "Witnessing",
    "load_settings",
    "section",
]


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
    #: Field selections of a document once its fragments are expanded (gateway.document_bounds).
    max_expanded_fields: int = 2_000
    #: Pairs of selections merged into one response name, which validation compares.
    max_merge_pairs: int = 2_000
    #: Estimated cost of a request, a batch's operations added up (docs/security.md).
    max_cost: int = 20_000
    #: Records a link list (`Person.licenses`...) is assumed to hold when estimating the cost.
    records_per_link: int = 10
    #: Bytes of a response body; a larger answer is withheld (QUERY_TOO_COMPLEX).
    max_response_bytes: int = 4_000_000

    def __post_init__(self) -> None:
        names = ("max_depth", "max_aliases", "max_tokens", "max_page_size", "max_batch",
                 "max_verifications", "max_body_bytes", "max_expanded_fields",
                 "max_merge_pairs", "max_cost", "records_per_link",
                 "max_response_bytes")  # fmt: skip
        for name in names:
            if getattr(self, name) < 1:
                raise ConfigError(f"limits.{name} must be at least 1.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Witnessing:
    """Where and how often the gateway publishes its signed audit head (`[audit]`, Art. 28).

    Defaults: no witness (a deployment must name one it cannot rewrite: docs/deploy.md); when
    there is one, a head every 1,000 records or 5 seconds, so a rewrite with the gateway's own
    key can hide at most the last few seconds of records.
    """

    #: Database URLs (an insert-only role) and/or paths of append-only files.
    witnesses: tuple[str, ...] = ()
    witness_every: int = 1_000
    witness_interval_s: float = 5.0
    #: How long one publication (or reading the head) may take before it counts as failed.
    witness_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        given: object = self.witnesses
        if (
            isinstance(given, str)
            or not isinstance(given, (list, tuple))
            or not all(isinstance(w, str) and w for w in given)
        ):
            raise ConfigError(
                "witnesses must be a list of database URLs or file paths, "
                'e.g. ["/var/lib/govgate-witness/heads.jsonl"].'
            )
        object.__setattr__(self, "witnesses", tuple(given))
        every: object = self.witness_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"witness_every must be a record count of 1 or more, not {every!r}.")
        for name in ("witness_interval_s", "witness_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name} must be a number of seconds above 0, not {value!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgencyRateLimits:
    """Sliding windows over one agency's traffic (RATE_LIMITED past them; docs/security.md).

    0 switches a limit off. The request quota is off by default: it is a share of capacity
    each deployment sizes for itself. The verification limits are on: without them
    verification is an oracle that reads values by guessing (Art. 24, 34(4)).
    """

    #: Requests per minute (the per-agency request quota); 0: no quota.
    requests_per_minute: int = 0
    #: Verification fields run per minute and per hour, summed over every worker and machine.
    verifications_per_minute: int = 60
    verifications_per_hour: int = 1_000
    #: Distinct claims tried against one subject (an ID number) within `subject_window_seconds`;
    #: one more refuses every verification of that subject until older claims age out.
    subject_candidates: int = 5
    subject_window_seconds: int = 86_400

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "verifications_per_minute", "verifications_per_hour",
                     "subject_candidates"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a whole number, 0 or more (0: no limit).")
        window = self.subject_window_seconds
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigError(
                "subject_window_seconds must be a whole number of seconds, 1 or more."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """`[rate_limits]`: the deployment's windows, and `[rate_limits.agencies.CODE]` overrides."""

    default: AgencyRateLimits = field(default_factory=AgencyRateLimits)
    agencies: Mapping[str, AgencyRateLimits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "agencies", MappingProxyType(dict(self.agencies)))

    def for_agency(self, code: str) -> AgencyRateLimits:
        """The windows that apply to agency `code`."""
        return self.agencies.get(code, self.default)


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
    limits: Limits = field(default_factory=Limits)
    #: Sliding-window limits per agency and per verified subject (`[rate_limits]`).
    rate_limits: RateLimits = field(default_factory=RateLimits)
    #: The longest lifetime (`exp - iat`, seconds) an accepted token may have.
    max_token_lifetime: int = 86_400
    #: Whether tokens must carry a `jti` (revocation by `govgate token revoke` needs one).
    require_jti: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    #: Pool sizes and time limits per source (`[source_options]`); defaults where absent.
    source_options: dict[str, SourceOptions] = field(default_factory=dict)
    #: The audit store (Art. 28, 34): SQLite by default, PostgreSQL in a deployment.
    audit_url: str = "sqlite+aiosqlite:///data/audit.db"
    #: Folder of the gateway's own signing keys (vouchers, audit checkpoints); see
    #: gateway.signing. Created with a first key when missing.
    signing_keys: Path = Path("data/keys/gateway")
    #: Witnesses of the audit chain's signed head (`[audit] witnesses`, docs/security.md).
    witnessing: Witnessing = field(default_factory=Witnessing)

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


def _positive(path: Path, value: int | None, default: int, name: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or value < 1:
        raise ConfigError(f"{path}: {name} must be a whole number of seconds, 1 or more.")
    return value


_Section = TypeVar("_Section")


def section(
    path: Path, cls: type[_Section], table: dict[str, Any], name: str, *, also: tuple[str, ...] = ()
) -> _Section:
    """Build the frozen dataclass `cls` from the TOML table `[name]`.

    A key that is not one of `cls`'s fields is refused naming itself and every valid key (a
    misspelling must not pass silently, nor show Python internals); a value the class refuses
    is reported with the table's name. `also` names keys of the table read elsewhere (valid,
    but not `cls`'s); they are left out of `cls`.
    """
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in table:
        if key not in known and key not in also:
            raise ConfigError(
                f"{path}: [{name}] {key!r} is an unknown setting; the settings of [{name}] "
                f"are {', '.join(sorted([*known, *also]))} (docs/deploy-config.md)."
            )
    try:
        return cls(**{k: v for k, v in table.items() if k not in also})
    except (TypeError, ValueError, ConfigError) as error:
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


def _witnessing(path: Path, audit: dict[str, Any], base: Path) -> Witnessing:
    """`[audit]`'s witness keys; relative files and SQLite paths are relative to the file."""
    witnessing = section(path, Witnessing, audit, "audit", also=("url",))
    resolved = tuple(
        _relative_sqlite(w, base) if "://" in w else str((base / w).resolve())
        for w in witnessing.witnesses
    )
    return dataclasses.replace(witnessing, witnesses=resolved)


def _rate_limits(path: Path, table: dict[str, Any]) -> RateLimits:
    """`[rate_limits]`, and `[rate_limits.agencies.CODE]`: an agency's table overrides keys of
    the deployment's, the rest it inherits."""
    shared = {k: v for k, v in table.items() if k != "agencies"}
    agencies = _get(table, "agencies", dict, "rate_limits") or {}
    default = section(path, AgencyRateLimits, shared, "rate_limits")
    overrides = {}
    for code, own in agencies.items():
        if not isinstance(own, dict):
            raise ConfigError(
                f"{path}: rate_limits.agencies.{code} must be a table of limits, e.g. "
                f"[rate_limits.agencies.{code}] verifications_per_hour = 5000."
            )
        name = f"rate_limits.agencies.{code}"
        overrides[code] = section(path, AgencyRateLimits, {**shared, **own}, name)
    return RateLimits(default=default, agencies=overrides)


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
            limits=section(path, Limits, limits, "limits"),
            rate_limits=_rate_limits(path, _get(document, "rate_limits", dict, "") or {}),
            max_token_lifetime=_positive(
                path,
                _get(identity, "max_token_lifetime", int, "identity"),
                86_400,
                "identity.max_token_lifetime",
            ),
            require_jti=_get(identity, "require_jti", bool, "identity") is not False,
            source_options=options,
            host=_get(server, "host", str, "server") or "127.0.0.1",
            port=_get(server, "port", int, "server") or 8000,
            audit_url=_relative_sqlite(
                _get(audit, "url", str, "audit") or "sqlite+aiosqlite:///audit.db", base
            ),
            signing_keys=(base / (_get(signing, "keys", str, "signing") or "keys")).resolve(),
            witnessing=_witnessing(path, audit, base),
        )
    except TypeError as error:
        raise ConfigError(
            f"{path}: unknown setting ({error}); see docs/deploy-config.md."
        ) from None
