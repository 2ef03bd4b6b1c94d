"""Reading a deployment's TOML file into `Settings`: each table into its section, unknown keys
and wrong types refused by name (`section`), relative paths resolved against the file's folder.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, public_key_id
from gateway.identity.token_cache import DEFAULT_TOKEN_CACHE_SIZE
from gateway.settings.deployment import Settings
from gateway.settings.sections import (
    AgencyRateLimits,
    ConfigError,
    DocumentOptions,
    Limits,
    MetricsOptions,
    RateLimits,
    ServerOptions,
    TracingOptions,
    Witnessing,
    WorkflowOptions,
)
from policies.catalog import SHIPPED_CATALOG
from sources.engines import SourceOptions, parse_source_urls
from sources.errors import SourceConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["TABLES", "load_settings", "section"]


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
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE

    def __post_init__(self) -> None:
        if self.max_token_lifetime < 1:
            raise ConfigError(
                "identity.max_token_lifetime must be a whole number of seconds, 1 or more."
            )
        if self.token_cache_size < 0:
            raise ConfigError(
                "identity.token_cache_size must be a whole number, 0 (remember no token) or more."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Audit:
    url: str = "sqlite+aiosqlite:///audit.db"
    witnesses: list[str] = field(default_factory=list)
    witness_every: int = 1_000
    witness_interval_s: float = 5.0
    witness_timeout_s: float = 5.0
    checkpoint_interval_s: float = 1.0

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
            checkpoint_interval_s=self.checkpoint_interval_s,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Signing:
    keys: str = "keys"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Workflows:
    calendar: str | None = None


#: The tables a deployment file may have; anything else is a misspelling.
TABLES = ("audit", "documents", "identity", "limits", "metrics", "policy", "rate_limits",
          "server", "signing", "source_options", "sources", "tracing", "workflows")  # fmt: skip


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
    # [identity] is checked when a gateway is built from it (gateway.http.gateway.Gateway, a
    # ConfigError naming the table): offline tools (audit verify, voucher verify) read files
    # without keys.
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
        token_cache_size=identity.token_cache_size,
        server=section(path, ServerOptions, _table(path, document, "server"), "server"),
        metrics=section(path, MetricsOptions, _table(path, document, "metrics"), "metrics"),
        tracing=section(path, TracingOptions, _table(path, document, "tracing"), "tracing"),
        source_options=_source_options(path, _table(path, document, "source_options"), urls),
        audit_url=_relative_sqlite(audit.url, base),
        signing_keys=(base / signing.keys).resolve(),
        witnessing=audit.witnessing(base),
        documents=section(path, DocumentOptions, _table(path, document, "documents"), "documents"),
        workflows=WorkflowOptions(  # relative to the file, like every path
            calendar=(base / workflows.calendar).resolve() if workflows.calendar else None
        ),
    )
