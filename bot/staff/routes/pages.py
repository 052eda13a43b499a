"""The console's pages and their files (widget/staff/), with strict security headers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from bot.settings import PROJECT_ROOT
from bot.staff.deps import COOKIE, ConsoleDep

router = APIRouter(include_in_schema=False)

ASSETS = PROJECT_ROOT / "widget" / "staff"
PAGES = {"": "console.html", "email": "email.html", "insights": "insights.html"}
MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The console runs only its own scripts and styles, talks only to its own origin, and is
# never framed (clickjacking a "send" button would speak to a shopper).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(name: str, media_type: str) -> FileResponse:
    return FileResponse(ASSETS / name, media_type=media_type, headers=SECURITY_HEADERS)


async def _logged_in(request: Request, console: Any) -> bool:
    token = request.cookies.get(COOKIE)
    return bool(token) and await console.db(console.accounts.session, token) is not None


@router.get("/staff/login")
async def login_page() -> FileResponse:
    return _file("login.html", "text/html; charset=utf-8")


@router.get("/staff")
@router.get("/staff/{page}")
async def page(request: Request, console: ConsoleDep, page: str = "") -> Response:
    name = PAGES.get(page)
    if name is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    if not await _logged_in(request, console):
        # Back to this page after logging in (the login page follows only /staff paths).
        target = "/staff/login" if not page else f"/staff/login?next=/staff/{page}"
        return RedirectResponse(target, status_code=303)
    return _file(name, "text/html; charset=utf-8")


@router.get("/staff/assets/{name}")
async def asset(name: str) -> Response:
    path = ASSETS / name
    media = MEDIA.get(path.suffix)
    # Only plain file names of this folder: no "..", no sub-folders, no other types.
    if media is None or "/" in name or name.startswith(".") or not path.is_file():
        return Response("Not found", status_code=404, media_type="text/plain")
    return _file(name, media)
