from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from bot.orders.deps import DatabaseDep, Now, SettingsDep
from bot.orders.rules import utc_date
from bot.orders.schemas import ProblemBody, SeedReport, problem_example
from bot.orders.seed import seed

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/seed",
    summary="Seed the demo orders (only into an empty database, only when ENVIRONMENT=local)",
    response_model=SeedReport,
    responses={
        403: {
            "model": ProblemBody,
            "description": "ENVIRONMENT is not `local`: demo orders are refused.",
            "content": {
                "application/json": {
                    "example": problem_example(
                        "seed_disabled", "Demo orders are seeded only when ENVIRONMENT is 'local'."
                    )
                }
            },
        }
    },
)
def seed_demo_orders(settings: SettingsDep, db: DatabaseDep, now: Now) -> SeedReport:
    if settings.environment != "local":
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail={
                "reason": "seed_disabled",
                "message": "Demo orders are seeded only when ENVIRONMENT is 'local'.",
            },
        )
    result = seed(db.write_sessions, utc_date(now))
    return SeedReport(seeded=result.seeded, orders=result.orders, message=result.message)
