"""Everything that serves agencies, in rooms (docs/architecture.md draws them):

    cli/          the `govgate` command: one module per command group
    http/         the ASGI app (wiring), the Gateway state, endpoints, middleware, serving
    provision/    PostgreSQL roles over every room's tables
    policy/       the policy in force, published to every process and followed
    graphql/      agency schemas, bounds, validation rules, execution, plans
    trust/        the audit log, vouchers, the signing keyring, the one canonical form, the trail
    identity/     tokens: who is calling
    documents/    trusted documents: persisted queries, approved documents only per agency
    ratelimit/    sliding windows per agency and per verified subject
    backup/       backup and restore
    workflows/    access requests, objections, corrections, working days
    settings/     the deployment's settings
    errors, codes, files, follow: the base every room may import

The arrows point down: cli -> http -> {policy -> graphql, identity, ratelimit, trust,
documents};
graphql and trust never import http or cli, nor each other; every room may import settings and
the base; nothing below `gateway` imports it (tests/test_architecture.py). Entry points:
`gateway.http.app.create_app(settings)`, `gateway.settings.Settings` / `load_settings(path)`,
and the `govgate` command (`gateway.cli:main`). This package re-exports nothing on purpose:
importing the ASGI stack here would slow every CLI command that never serves.
"""

__all__: list[str] = []
