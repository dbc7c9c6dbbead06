"""The weekly digest's chart in the outbox: drawn when it is uploaded, shown once it is.

The chart of a project's week is one outbox row (`outbox_keys.digest_chart`), queued with the
digests that show it; each digest names it as the row it waits for (`after_key`). The sender
uploads the chart first (its file id is recorded as the row's result), then sends each digest
with that file id in its image block. A crash between the upload and the post leaves the chart
recorded and the digest owed: the digest is sent later with the same file, and nothing is
uploaded twice. A chart that cannot be uploaded (refused, or still failing after `CHART_WAIT`)
does not hold the digest back: it is sent without its picture.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.blocks.digest_chart import has_chart, with_chart_file
from bot.flows.messages import WaitFor
from bot.models import Outbox, OutboxStatus

CHART_WAIT = timedelta(minutes=10)  # how long a digest waits for a chart that keeps failing
ALT_TXT = 1000


def draw_chart(session: Session, row: Outbox, payload: dict[str, Any], first: Outbox | None,
               now: datetime) -> dict[str, Any]:
    """The chart row's upload: the PNG drawn from its stored spec (matplotlib is loaded here)."""
    from bot.reports.charts import ChartSpec, render_png

    spec = ChartSpec.from_payload(payload)
    return {"content": render_png(spec), "filename": spec.filename, "title": spec.title,
            "alt_txt": spec.alt_text[:ALT_TXT]}


def attach_chart(session: Session, row: Outbox, payload: dict[str, Any], first: Outbox | None,
                 now: datetime) -> dict[str, Any]:
    """A digest as sent: its image block shows the uploaded chart, or goes when there is none."""
    if not has_chart(payload):
        return payload
    if first is not None and first.status == OutboxStatus.sent and first.message_ts:
        return with_chart_file(payload, first.message_ts)
    if first is not None and first.status in (OutboxStatus.pending, OutboxStatus.sending):
        if now - row.created_at < CHART_WAIT:
            raise WaitFor(f"waiting for {first.key}")
        # Given up: the digests go without it, and it is not uploaded for nobody later.
        first.status, first.last_error, first.claimed_by = OutboxStatus.skipped, "digest sent without it", None
        session.add(first)
    return with_chart_file(payload, None)
