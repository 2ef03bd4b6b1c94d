"""GraphQL types and resolvers: column-pruned, row-scoped SQL and per-request DataLoaders.

Resolvers never decide permissions: they read the caller's `Grants` from `policies`.
"""

from resolvers.context import RequestContext
from resolvers.errors import InvalidArgumentError, ResolverError, TooComplexError
from resolvers.root import Query

__all__ = ["InvalidArgumentError", "Query", "RequestContext", "ResolverError", "TooComplexError"]
