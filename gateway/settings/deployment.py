"""`Settings`: everything `govgate serve` needs, and the demo deployment's."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key
from gateway.settings.sections import (
    Limits,
    MetricsOptions,
    RateLimits,
    ServerOptions,
    TracingOptions,
    Witnessing,
    WorkflowOptions,
)
from policies.catalog import SHIPPED_CATALOG
from policies.rules import default_rules_path
from sources.engines import SourceOptions, default_urls

__all__ = ["Settings"]


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
    #: OpenTelemetry traces to a collector (`[tracing]`): off by default.
    tracing: TracingOptions = field(default_factory=TracingOptions)
    #: Pool sizes and time limits per source (`[source_options]`); defaults where absent.
    source_options: dict[str, SourceOptions] = field(default_factory=dict)
    #: The audit store (Art. 28, 34): SQLite by default, PostgreSQL in a deployment.
    audit_url: str = "sqlite+aiosqlite:///data/audit.db"
    #: Folder of the gateway's own signing keys (vouchers, audit checkpoints); see
    #: gateway.trust.keyring. Created with a first key when missing.
    signing_keys: Path = Path("data/keys/gateway")
    #: Witnesses of the signed audit head (`[audit] witnesses`, Art. 28; docs/security.md).
    witnessing: Witnessing = field(default_factory=Witnessing)
    #: Access requests and objections (`[workflows]`, docs/workflows.md).
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
        """The demo deployment: SQLite sources and the dev signing key in `data_dir`.

        The author rules are the demo's own copy (`DATA/policy/guangzhou.rules.csv`, made from the
        shipped file when missing): an approved access request adds a rule to the file served
        (docs/workflows.md), and it must not write into the repository's catalogue folder.
        """
        key = dev_signing_key(data_dir)
        return cls(
            sources=default_urls(data_dir),
            rules=_demo_rules(data_dir),
            public_keys={key.kid: key.public_pem()},
            server=ServerOptions(host=host, port=port),
            audit_url=f"sqlite+aiosqlite:///{data_dir / 'audit.db'}",
            signing_keys=data_dir / "keys" / "gateway",
        )


def _demo_rules(data_dir: Path) -> Path | None:
    """The demo's own author rules file, copied from the shipped one when missing."""
    shipped = default_rules_path(SHIPPED_CATALOG)
    if not shipped.exists():
        return None
    own = data_dir / "policy" / shipped.name  # the same name: rules cite it (`rules:NAME:LINE`)
    if not own.exists():
        own.parent.mkdir(parents=True, exist_ok=True)
        own.write_bytes(shipped.read_bytes())
    return own
