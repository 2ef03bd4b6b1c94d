"""Provision the gateway's own database: PostgreSQL roles and grants over every room's tables.

    roles   `govgate audit init-roles | init-witness`: the gateway's role may append and read,
            an owner role owns every object (Art. 28)

It sits beside http because it knows every room's tables (trust's audit log and vouchers,
policy's published versions, identity's revocations, ratelimit's windows).
"""

__all__: list[str] = []
