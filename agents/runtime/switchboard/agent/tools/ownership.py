"""Ownership: a tenant acts only for its own end customers, checked here, not by backends.

The customer id comes from the caller (request metadata), so it is a claim, not a fact. Before
any tool runs and before any confirmation is carried out, the runtime checks that the
authenticated tenant owns that customer, from two sources:

* the tenants' configured customers (``customers:`` in the caller tokens file), and
* the tool backend's own data (:meth:`BrightlaneBackend.customer_tenant`).

A customer is the tenant's when at least one source says so and none says it belongs to
another tenant (a tenant with a configured list must also list it). Anything else, an unknown
customer included, is PERMISSION_DENIED (:class:`CustomerDenied`, reason
``customer_not_owned``), audited. A service running open (no caller tokens, so no tenant) has
no tenants to keep apart, and the check does not apply (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from switchboard.agent.tools.backend import BrightlaneBackend
from switchboard.core.auth import CustomerDenied


class CustomerOwnership:
    def __init__(
        self,
        backend: BrightlaneBackend,
        configured: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self._backend = backend
        self._lists = dict(configured or {})
        self._owner = {c: t for t, customers in self._lists.items() for c in customers}

    async def check(self, tenant: str, customer_id: str) -> None:
        """Returns when ``tenant`` may act for ``customer_id``; raises CustomerDenied if not."""
        if not tenant or not customer_id:
            return  # open service (no tenant), or no customer named: nothing to own
        listed = self._lists.get(tenant)
        if listed is not None and customer_id not in listed:
            raise CustomerDenied(tenant, customer_id)
        configured = self._owner.get(customer_id)
        backend = await self._backend.customer_tenant(customer_id)
        owners = {o for o in (configured, backend) if o is not None}
        if owners != {tenant}:
            raise CustomerDenied(tenant, customer_id)
