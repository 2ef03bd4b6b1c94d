"""Gateway settings: where the sources and the catalogue are, how tokens are checked, limits.

`govgate demo` builds them from a data folder; `govgate serve --config FILE` reads a TOML file
(documented in docs/deploy-config.md). Settings are frozen and validated at construction.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.errors import GatewayError
from gateway.keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key, public_key_id
from policies.catalog import SHIPPED_CATALOG
from policies.rules import default_rules_path
from sources.engines import SourceOptions, default_urls, parse_source_urls
from sources.errors import SourceConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "AgencyRateLimits",
    "ConfigError",
    "Limits",
    "MetricsOptions",
    "RateLimits",
    "ServerOptions",
    "Settings",
    "Witnessing",
    "WorkflowOptions",
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
class ServerOptions:
    """Where to listen, and how long and how many clients may take (`[server]`).

    A connection that has not sent a request's headers `header_timeout_s` after connecting (or
    after its previous answer) is closed; a body not complete `body_timeout_s` after its
    headers is answered 408 (slowloris, docs/security.md). An idle connection is kept
    `keep_alive_s`. Past `max_connections` open connections a new one is closed at once; past
    `max_requests` requests in progress (per worker) a request is answered 503 `OVERLOADED`.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: int = 5
    max_connections: int = 1_000
    max_requests: int = 200

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65_535:
            raise ConfigError(f"server.port must be 0 to 65535, not {self.port}.")
        for name in ("header_timeout_s", "body_timeout_s", "keep_alive_s"):
            if not 0 < getattr(self, name) <= 3_600:
                raise ConfigError(f"server.{name} must be more than 0 and at most 3600 seconds.")
        for name in ("max_connections", "max_requests"):
            if getattr(self, name) < 1:
                raise ConfigError(f"server.{name} must be at least 1.")


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsOptions:
    """Where Prometheus scrapes `/metrics` (`[metrics]`): never the agencies' port.

    `listen` is `host:port` of a listener of its own, loopback by default because the metrics
    name every agency's call rates; "" turns it off.
    """

    listen: str = "127.0.0.1:9464"

    def __post_init__(self) -> None:
        if self.listen and self.address is None:
            raise ConfigError(
                f'metrics.listen must be host:port (e.g. 127.0.0.1:9464) or "", not '
                f"{self.listen!r}."
            )

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on; None when turned off or malformed."""
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65_535:
            return None
        return host.strip("[]"), int(port)


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


# -- issue 13 hook: [workflows] (gateway.workflows; docs/deploy-config.md) --------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowOptions:
    """`[workflows]`: the working-day file for years `chinese-calendar` does not cover.

    None (the default): those years count Monday to Friday, with a warning beside every
    deadline that counted one (docs/workflows.md). The gateway refuses to start on a file
    with problems rather than count deadlines wrong.
    """

    calendar: Path | None = None


# -- end of the issue 13 hook -----------------------------------------------------------------


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
    #: Refuse tokens that do not name the acting officer (`act`, Art. 29, 34): OFFICER_REQUIRED.
    #: Off by default so agency systems without per-person tokens keep working; turn it on
    #: once the identity provider issues them.
    require_officer: bool = False
    limits: Limits = field(default_factory=Limits)
    #: Sliding-window limits per agency and per verified subject (`[rate_limits]`).
    rate_limits: RateLimits = field(default_factory=RateLimits)
    #: The longest lifetime (`exp - iat`, seconds) an accepted token may have.
    max_token_lifetime: int = 86_400
    #: Whether tokens must carry a `jti` (revocation by `govgate token revoke` needs one).
    require_jti: bool = True
    server: ServerOptions = field(default_factory=ServerOptions)
    metrics: MetricsOptions = field(default_factory=MetricsOptions)
    #: Pool sizes and time limits per source (`[source_options]`); defaults where absent.
    source_options: dict[str, SourceOptions] = field(default_factory=dict)
    #: The audit store (Art. 28, 34): SQLite by default, PostgreSQL in a deployment.
    audit_url: str = "sqlite+aiosqlite:///data/audit.db"
    #: Folder of the gateway's own signing keys (vouchers, audit checkpoints); see
    #: gateway.signing. Created with a first key when missing.
    signing_keys: Path = Path("data/keys/gateway")
    #: Witnesses of the signed audit head (`[audit] witnesses`, Art. 28; docs/security.md).
    witnessing: Witnessing = field(default_factory=Witnessing)
    #: Access requests and objections (`[workflows]`, docs/workflows.md).  (issue 13 hook)
    workflows: WorkflowOptions = field(default_factory=WorkflowOptions)

    @property
    def host(self) -> str:
        """The address the gateway listens on (`server.host`)."""
        return self.server.host

    @property
    def port(self) -> int:
        """The port the gateway listens on (`server.port`)."""
        return self.server.port

    @classmethod
    def demo(cls, data_dir: Path, *, host: str = "127.0.0.1", port: int = 8000) -> Settings:
        """The demo deployment: SQLite sources and the dev signing key in `data_dir`."""
        key = dev_signing_key(data_dir)
        rules = default_rules_path(SHIPPED_CATALOG)
        return cls(
            sources=default_urls(data_dir),
            rules=rules if rules.exists() else None,
            public_keys={key.kid: key.public_pem()},
            server=ServerOptions(host=host, port=port),
            audit_url=f"sqlite+aiosqlite:///{data_dir / 'audit.db'}",
            signing_keys=data_dir / "keys" / "gateway",
        )


_Section = TypeVar("_Section")


def section(path: Path, cls: type[_Section], table: dict[str, Any], name: str) -> _Section:
    """Build the frozen dataclass `cls` from the TOML table `[name]`.

    A key that is not one of `cls`'s fields is refused naming itself and every valid key (a
    misspelling must not pass silently, nor show Python internals); a value of the wrong type
    is refused naming the key and the type; a value the class refuses is reported with the
    file's and the table's name.
    """
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            raise ConfigError(
                f"{path}: [{name}] {key!r} is an unknown setting; the settings of [{name}] "
                f"are {', '.join(sorted(known))} (docs/deploy-config.md)."
            )
    hints = typing.get_type_hints(cls)
    for key, value in table.items():
        if not _fits(value, hints[key]):
            raise ConfigError(
                f"{path}: {name}.{key} must be {_kind(hints[key])}, not {value!r} "
                "(docs/deploy-config.md)."
            )
    try:
        return cls(**table)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: [{name}] {error}") from None


def _fits(value: object, hint: Any) -> bool:
    """Whether a TOML value has the type a settings field declares."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in {typing.Union, types.UnionType}:
        return any(_fits(value, arg) for arg in args)
    if origin is list:
        return isinstance(value, list) and all(_fits(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(_fits(item, args[1]) for item in value.values())
    check = _SCALARS.get(hint)
    return check is None or check(value)


_SCALARS: dict[object, Callable[[object], bool]] = {
    bool: lambda value: isinstance(value, bool),
    int: lambda value: isinstance(value, int) and not isinstance(value, bool),
    float: lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    str: lambda value: isinstance(value, str),
    type(None): lambda value: value is None,
}


def _kind(hint: Any) -> str:
    """A settings field's type, in words."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in {typing.Union, types.UnionType}:
        return " or ".join(_kind(arg) for arg in args if arg is not type(None))
    if origin is list:
        return f"a list of {_kind(args[0]).split(' ', 1)[1]}s"
    if origin is dict:
        return f"a table of {_kind(args[1]).split(' ', 1)[1]}s"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Policy:
    catalog: str | None = None
    rules: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Identity:
    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    algorithms: list[str] = field(default_factory=lambda: ["EdDSA"])
    #: kid -> PEM file.
    public_keys: dict[str, str] = field(default_factory=dict)
    #: Ed25519 PEM files known by govgate's key id (as `govgate token` names them).
    public_key_files: list[str] = field(default_factory=list)
    jwks_url: str | None = None
    max_token_lifetime: int = 86_400
    require_jti: bool = True
    require_officer: bool = False

    def __post_init__(self) -> None:
        if self.max_token_lifetime < 1:
            raise ConfigError(
                "identity.max_token_lifetime must be a whole number of seconds, 1 or more."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Audit:
    url: str = "sqlite+aiosqlite:///audit.db"
    witnesses: list[str] = field(default_factory=list)
    witness_every: int = 1_000
    witness_interval_s: float = 5.0
    witness_timeout_s: float = 5.0

    def witnessing(self, base: Path) -> Witnessing:
        """The witnesses; relative files and SQLite paths are relative to the file."""
        return Witnessing(
            witnesses=tuple(
                _relative_sqlite(w, base) if "://" in w else str((base / w).resolve())
                for w in self.witnesses
            ),
            witness_every=self.witness_every,
            witness_interval_s=self.witness_interval_s,
            witness_timeout_s=self.witness_timeout_s,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Signing:
    keys: str = "keys"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Workflows:  # issue 13 hook
    calendar: str | None = None


#: The tables a deployment file may have; anything else is a misspelling.
TABLES = ("audit", "identity", "limits", "metrics", "policy", "rate_limits", "server",
          "signing", "source_options", "sources", "workflows")  # fmt: skip


def _table(path: Path, document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name} must be a table ([{name}]), not {value!r}.")
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


def _public_keys(path: Path, identity: _Identity) -> dict[str, str]:
    """The PEM text of every key `[identity]` names, by kid."""
    base = path.parent
    keys: dict[str, str] = {}
    named: list[tuple[str | None, str]] = list(identity.public_keys.items())
    named += [(None, file) for file in identity.public_key_files]
    for given, key_path in named:
        where = f"identity.public_keys.{given}" if given else "identity.public_key_files"
        try:
            pem = (base / key_path).read_text("utf-8")
        except OSError as error:
            raise ConfigError(
                f"{path}: {where}: cannot read {key_path} ({error.strerror}); run `govgate "
                "demo --no-serve` for the development key, or name the identity provider's key."
            ) from None
        try:
            kid = given if given is not None else public_key_id(pem)
        except ValueError as error:
            raise ConfigError(f"{path}: {where}: {key_path} {error}") from None
        keys[kid] = pem
    return keys


def _rate_limits(path: Path, table: dict[str, Any]) -> RateLimits:
    """`[rate_limits]`, and `[rate_limits.agencies.CODE]`: an agency's table overrides keys of
    the deployment's, the rest it inherits."""
    shared = {k: v for k, v in table.items() if k != "agencies"}
    agencies = table.get("agencies") or {}
    if not isinstance(agencies, dict):
        raise ConfigError(f"{path}: rate_limits.agencies must be a table of agency codes.")
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
    for name in document:
        if name not in TABLES:
            raise ConfigError(
                f"{path}: [{name}] is an unknown table; the tables are {', '.join(TABLES)} "
                "(docs/deploy-config.md)."
            )
    base = path.parent
    sources = _table(path, document, "sources")
    try:
        urls = parse_source_urls(f"{k}={_relative_sqlite(v, base)}" for k, v in sources.items())
    except SourceConfigError as error:
        raise ConfigError(f"{path}: [sources] {error}") from None
    missing = {"persons", "entities", "land", "licenses"} - set(urls)
    if missing:
        raise ConfigError(
            f"{path}: [sources] lacks {', '.join(sorted(missing))}; give every source a URL."
        )
    policy = section(path, _Policy, _table(path, document, "policy"), "policy")
    identity = section(path, _Identity, _table(path, document, "identity"), "identity")
    audit = section(path, _Audit, _table(path, document, "audit"), "audit")
    signing = section(path, _Signing, _table(path, document, "signing"), "signing")
    workflows = section(path, _Workflows, _table(path, document, "workflows"), "workflows")
    # [identity] is checked when a gateway is built from it (gateway.app.Gateway, a ConfigError
    # naming the table): offline tools (audit verify, voucher verify) read files without keys.
    return Settings(
        sources=urls,
        catalog=(base / (policy.catalog or str(SHIPPED_CATALOG))).resolve(),
        rules=(base / policy.rules).resolve() if policy.rules else None,
        issuer=identity.issuer,
        audience=identity.audience,
        algorithms=tuple(identity.algorithms),
        public_keys=_public_keys(path, identity),
        jwks_url=identity.jwks_url,
        limits=section(path, Limits, _table(path, document, "limits"), "limits"),
        rate_limits=_rate_limits(path, _table(path, document, "rate_limits")),
        max_token_lifetime=identity.max_token_lifetime,
        require_officer=identity.require_officer,
        require_jti=identity.require_jti,
        server=section(path, ServerOptions, _table(path, document, "server"), "server"),
        metrics=section(path, MetricsOptions, _table(path, document, "metrics"), "metrics"),
        source_options=_source_options(path, _table(path, document, "source_options"), urls),
        audit_url=_relative_sqlite(audit.url, base),
        signing_keys=(base / signing.keys).resolve(),
        witnessing=audit.witnessing(base),
        workflows=WorkflowOptions(  # issue 13 hook: relative to the file, like every path
            calendar=(base / workflows.calendar).resolve() if workflows.calendar else None
        ),
    )
