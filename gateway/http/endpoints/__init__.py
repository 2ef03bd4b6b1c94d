"""The routes' endpoints, one module each; module-level functions that take the `Gateway` from
`request.app.state.gateway` and the request's `Trail` from the audit middleware.

    health    GET /healthz (alive, the policy served) and /readyz (every database answers)
    graphql   POST /graphql: operations; GET: the GraphiQL page for browsers
    reload    POST /admin/policy/reload: the administrator puts new files into force
    _request  what they share: who is asking, the JSON body, and answering a refusal

An endpoint refuses by raising a `WireError` (gateway.errors): `answering` records it on the
trail and writes it out (gateway.http.responses), so no endpoint builds an error body by hand.
"""

__all__: list[str] = []
