"""Reading deliveries with their attempts, for ``GET /v4/downloads/{id}/webhooks`` and the like."""

from __future__ import annotations

import sqlalchemy as sa

from dlserve.db.rows import from_row
from dlserve.db.tables import webhook_attempts, webhook_deliveries
from dlserve.webhooks.models import Attempt, Delivery, DeliveryStatus, SubjectType


def delivery_from_row(row: sa.RowMapping, history: tuple[Attempt, ...] = ()) -> Delivery:
    return from_row(
        Delivery,
        row,
        subject_type=SubjectType(row["subject_type"]),
        status=DeliveryStatus(row["status"]),
        history=history,
    )


def deliveries_of(conn: sa.Connection, subject_type: SubjectType, subject_id: str) -> list[Delivery]:
    """The subject's deliveries, oldest first, each with its attempts in order."""
    rows = (
        conn.execute(
            sa.select(webhook_deliveries)
            .where(
                webhook_deliveries.c.subject_type == subject_type.value,
                webhook_deliveries.c.subject_id == subject_id,
            )
            .order_by(webhook_deliveries.c.created_at, webhook_deliveries.c.id)
        )
        .mappings()
        .all()
    )
    if not rows:
        return []
    history: dict[str, list[Attempt]] = {row["id"]: [] for row in rows}
    for attempt in conn.execute(
        sa.select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id.in_(list(history)))
        .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.attempt)
    ).mappings():
        history[attempt["delivery_id"]].append(
            Attempt(
                attempt=attempt["attempt"],
                attempted_at=attempt["attempted_at"],
                status_code=attempt["status_code"],
                error=attempt["error"],
                duration_ms=attempt["duration_ms"],
            )
        )
    return [delivery_from_row(row, tuple(history[row["id"]])) for row in rows]
