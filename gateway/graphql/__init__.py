"""GraphQL serving: agency schemas, validation and compiled plans (`gateway.graphql.plan`)."""

__all__: list[str] = []
