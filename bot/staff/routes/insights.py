"""What shoppers ask and how the hand-offs go, for the Insights page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bot.staff.deps import ConsoleDep, StaffDep

router = APIRouter(prefix="/api/staff", tags=["staff"])


@router.get("/insights")
async def insights(
    _: StaffDep, console: ConsoleDep, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> Any:
    """Conversations per day, share resolved by the bot, fallback rate, hand-offs by
    reason, waits, thumbs, suggestion use, and the top unanswered questions grouped by
    similarity; personal data redacted."""
    from bot.staff.insights import compute_insights
    from bot.staff.redact import Redactor

    def run(engine: Any, nlp: Any) -> Any:
        return compute_insights(
            console.settings.database_url,
            days=days,
            engine=engine,
            redactor=Redactor(nlp),
            corpus_dir=console.settings.faq_corpus_dir,
        )

    return await console.nlp.run(run)
