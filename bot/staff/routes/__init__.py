"""The staff console's HTTP routes (pages under /staff, JSON under /api/staff)."""

from __future__ import annotations

from fastapi import APIRouter

from bot.staff.routes import auth, conversations, insights, live, pages, suggestions


def staff_router() -> APIRouter:
    router = APIRouter()
    for module in (auth, conversations, suggestions, insights, live, pages):
        router.include_router(module.router)
    return router


__all__ = ["staff_router"]
