"""Claiming a row for one run of a task that may run twice (a duplicate delivery, the reconciler)."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q


def claim_row(
    model: type[models.Model],
    *,
    pk,
    queued: str,
    running: str,
    lease: dt.timedelta,
    now: dt.datetime,
    state_field: str = "status",
    started_field: str = "started_at",
    retake_running: bool = False,
    **values,
) -> bool:
    """Move one row from `queued` to `running` in a single conditional UPDATE, stamping `started_field`
    with `now` and setting `values`; True when this call took it. A second run, or a duplicate
    delivery, changes no row and must stop. A row left `running` longer than `lease` belongs to a dead
    worker and is retaken; `retake_running` retakes a running row at once (the broker redelivered the
    task because its worker died)."""
    claimable = Q(**{state_field: queued}) | Q(**{state_field: running, f"{started_field}__lt": now - lease})
    if retake_running:
        claimable |= Q(**{state_field: running})
    changed = model._default_manager.filter(claimable, pk=pk).update(
        **{state_field: running, started_field: now}, **values
    )
    return bool(changed)
