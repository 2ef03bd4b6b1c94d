"""The ASGI gateway, its identity checks, per-agency schemas, settings and the CLI.

Entry points: `gateway.http.app.create_app(settings)`, `gateway.settings.Settings` /
`load_settings(path)`, and the `govgate` command (`gateway.cli:main`). Nothing imports
`gateway`. This package re-exports nothing on purpose: importing the ASGI stack here would slow
every CLI command that never serves.
"""

__all__: list[str] = []
