"""Opening the store and its audit writer for a service, closed with the service.

Both services' composition roots do the same: open the store (unless one is given), start
the batched audit writer with its local-disk spool (unless an audit sink is given), and have
both closed, writer first, when the service stops.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from switchboard.core.audit import AuditSink
from switchboard.store.audit_spool import AuditSpool
from switchboard.store.audit_writer import AuditWriter
from switchboard.store.database import Store
from switchboard.store.settings import StoreSettings


async def open_for_service(
    stack: contextlib.AsyncExitStack,
    settings: StoreSettings,
    data_dir: Path,
    *,
    store: Store | None = None,
    audit: AuditSink | None = None,
) -> tuple[Store, AuditSink]:
    """The store and the audit sink; what this opens is closed by ``stack``."""
    if store is None:
        store = await Store.open(settings, url=settings.url(data_dir))
        stack.push_async_callback(store.close)
    if audit is None:
        spool = AuditSpool(
            settings.audit_spool_dir or data_dir / "audit-spool",
            max_bytes=settings.audit_spool_max_bytes,
        )
        writer = AuditWriter(store.audit, spool=spool)
        writer.start()
        stack.push_async_callback(writer.close)
        audit = writer
    return store, audit
