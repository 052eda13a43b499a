"""Staff accounts and sessions through the real gateway app and the real `bot staff`
command: passwords, lock-out, cookies, CSRF, origins, and the two sides never mixing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import MetaData, create_engine, select
from starlette.websockets import WebSocketDisconnect

from bot.gateway.tokens import TokenSigner
from bot.settings import PROJECT_ROOT
from bot.staff.accounts import AccountError, LoginLocked, StaffAccounts

from .staff_helpers import CONSOLE, PASSWORD, SHOP, Agent, add_agent, gateway, staff_settings


@pytest.fixture
def s(settings, tmp_path):  # type: ignore[no-untyped-def]
    return staff_settings(settings, tmp_path)


def _login(client, email: str, password: str, origin: str | None = CONSOLE):  # type: ignore[no-untyped-def]
    headers = {"origin": origin} if origin else {}
    return client.post(
        "/api/staff/login", json={"email": email, "password": password}, headers=headers
    )


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(s):
    agent = add_agent(s)
    with gateway(s) as client:
        wrong = _login(client, agent.email, "not the password at all")
        unknown = _login(client, "nobody@kntofficial.com", PASSWORD)
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.json()["detail"]["message"] == "Wrong e-mail address or password."
        assert "knt_staff" not in wrong.cookies
        ok = _login(client, agent.email.upper(), PASSWORD)  # addresses are not case-sensitive
        assert ok.status_code == 200
        assert ok.json()["agent"]["first_name"] == "Sophie"
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # ENVIRONMENT=local serves plain http


def test_the_cookie_is_secure_outside_local(s):
    prod = s.model_copy(update={"environment": "production"})
    agent = add_agent(prod)
    with gateway(prod) as client:
        r = _login(client, agent.email, PASSWORD)
        assert r.status_code == 200 and "secure" in r.headers["set-cookie"].lower()


def test_repeated_wrong_passwords_lock_the_login_for_a_while(settings, tmp_path):
    s = staff_settings(settings, tmp_path, staff_lockout_attempts=3, staff_lockout_seconds=1.5)
    agent = add_agent(s)
    with gateway(s) as client:
        for _ in range(2):
            assert _login(client, agent.email, "guess guess guess").status_code == 401
        locked = _login(client, agent.email, "guess guess guess")
        assert locked.status_code == 429
        assert locked.json()["detail"]["code"] == "locked"
        assert 0 < locked.json()["detail"]["retry_after"] <= 2
        # Even the right password waits out the lock-out...
        assert _login(client, agent.email, PASSWORD).status_code == 429
        # ...and an address without an account locks the same way (no account discovery).
        for _ in range(2):
            assert _login(client, "ghost@kntofficial.com", "guess guess guess").status_code == 401
        assert _login(client, "ghost@kntofficial.com", "guess guess guess").status_code == 429
        time.sleep(1.6)
        assert _login(client, agent.email, PASSWORD).status_code == 200


def test_without_a_session_nothing_is_served(s):
    with gateway(s) as client:
        for path in (
            "/api/staff/me",
            "/api/staff/queue",
            "/api/staff/live",
            "/api/staff/insights",
            "/api/staff/conversations/web-x",
            "/api/staff/conversations/web-x/suggestions",
        ):
            r = client.get(path)
            assert r.status_code == 401, path
            assert r.json()["detail"]["code"] == "login_required"
        for path, login in (
            ("/staff", "/staff/login"),
            ("/staff/email", "/staff/login?next=/staff/email"),
            ("/staff/insights", "/staff/login?next=/staff/insights"),
        ):
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == login, path
        login_page = client.get("/staff/login")
        assert login_page.status_code == 200
        assert "frame-ancestors 'none'" in login_page.headers["content-security-policy"]
        r = client.post(
            "/api/staff/conversations/web-x/claim", headers={"origin": CONSOLE, "x-csrf-token": "x"}
        )
        assert r.status_code == 401


def test_an_expired_or_logged_out_session_is_refused(settings, tmp_path):
    s = staff_settings(settings, tmp_path, staff_session_ttl_seconds=1)
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        assert agent.get("/api/staff/me").status_code == 200
        time.sleep(1.2)
        assert agent.get("/api/staff/me").status_code == 401
    s = staff_settings(settings, tmp_path)
    with gateway(s) as client:
        agent = Agent(client, user)
        assert agent.post("/api/staff/logout").status_code == 204
        assert agent.get("/api/staff/me").status_code == 401


def test_state_changes_need_the_csrf_token_and_the_console_origin(s):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        other = Agent(client, add_agent(s, "Marc Dubois"))
        path = "/api/staff/logout"
        cases = [
            ({"origin": CONSOLE}, "bad_csrf"),  # no token
            ({"origin": CONSOLE, "x-csrf-token": "forged"}, "bad_csrf"),
            ({"origin": CONSOLE, "x-csrf-token": other.csrf}, "bad_csrf"),  # another session's
            ({"x-csrf-token": agent.csrf}, "bad_origin"),  # no origin
            ({"origin": "https://evil.example", "x-csrf-token": agent.csrf}, "bad_origin"),
            ({"origin": SHOP, "x-csrf-token": agent.csrf}, "bad_origin"),  # the storefront's
        ]
        for headers, code in cases:
            r = client.post(path, headers=headers | agent.cookie)
            assert r.status_code == 403, headers
            assert r.json()["detail"]["code"] == code, headers
        assert agent.get("/api/staff/me").status_code == 200  # still logged in
        # Logging in from another site is refused too.
        assert (
            _login(client, user.email, PASSWORD, origin="https://evil.example").status_code == 403
        )
        assert _login(client, user.email, PASSWORD, origin=None).status_code == 403


def test_a_shopper_token_never_opens_a_staff_endpoint(s):
    token, _ = TokenSigner(s.gateway_secret.get_secret_value(), 3600).issue()
    with gateway(s) as client:
        for headers in (
            {"authorization": f"Bearer {token}"},
            {"cookie": f"knt_staff={token}"},
            {"cookie": f"knt-chat:token={token}"},
        ):
            assert client.get("/api/staff/queue", headers=headers).status_code == 401
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(
                "/staff/ws", headers={"origin": CONSOLE, "cookie": f"knt_staff={token}"}
            ) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 4401


def test_a_staff_cookie_never_speaks_as_a_shopper(s):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with client.websocket_connect("/ws", headers={"origin": SHOP} | agent.cookie) as ws:
            ws.send_json({"type": "hello", "token": agent.token})  # a staff token as a shopper's
            session = ws.receive_json()
        assert session["type"] == "session"
        assert session["renewed"] is True and session["history"] == []  # a stranger's new chat
        assert agent.token not in session["token"]


def test_the_staff_socket_needs_a_session_and_the_console_origin(s):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        refused_cases = [
            ({"origin": CONSOLE}, 4401),  # no cookie
            ({"origin": "https://evil.example"} | agent.cookie, 4403),
            ({"origin": SHOP} | agent.cookie, 4403),
            (agent.cookie, 4403),  # no origin
        ]
        for headers, code in refused_cases:
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect("/staff/ws", headers=headers) as ws,
            ):
                ws.receive_json()
            assert refused.value.code == code, headers
        with agent.socket() as ws:
            ws.send_json({"type": "ping"})
            assert ws.receive_json()["type"] in ("pong", "agents")


def test_a_disabled_account_is_logged_out_and_cannot_log_in(s):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        StaffAccounts(s.database_url).disable(user.email)
        assert agent.get("/api/staff/me").status_code == 401
        assert _login(client, user.email, PASSWORD).status_code == 401


def test_new_accounts_need_a_real_password_and_a_unique_address(s):
    accounts = StaffAccounts(s.database_url)
    with pytest.raises(AccountError, match="at least 10"):
        accounts.add("a@kntofficial.com", "A", "short")
    with pytest.raises(AccountError, match="not an e-mail"):
        accounts.add("not an address", "A", PASSWORD)
    accounts.add("a@kntofficial.com", "Ann", PASSWORD)
    with pytest.raises(AccountError, match="already has an account"):
        accounts.add("A@kntofficial.com ", "Ann", PASSWORD)


def _bot(args: list[str], s, stdin: str = "") -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": s.database_url},
        timeout=120,
    )


def test_no_password_in_clear_in_the_database_or_the_logs(s, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Tr0ub4dor&3-unique-to-this-test"
    added = _bot(
        ["staff", "add", "zoe@kntofficial.com", "--name", "Zoé Li", "--password-stdin"],
        s,
        secret + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "added zoe@kntofficial.com (Zoé Li)" in added.stdout
    listed = _bot(["staff", "list"], s)
    assert "zoe@kntofficial.com" in listed.stdout and "active" in listed.stdout
    with gateway(s) as client:
        assert _login(client, "zoe@kntofficial.com", secret + "x").status_code == 401
        ok = _login(client, "zoe@kntofficial.com", secret)
        assert ok.status_code == 200
        cookie_token = ok.cookies["knt_staff"]
    disabled = _bot(["staff", "disable", "zoe@kntofficial.com"], s)
    assert disabled.returncode == 0 and "disabled" in disabled.stdout
    assert "disabled" in _bot(["staff", "list"], s).stdout
    missing = _bot(["staff", "disable", "nobody@kntofficial.com"], s)
    assert missing.returncode == 1 and "no staff account" in missing.stderr

    for output in (added.stdout, added.stderr, listed.stdout, caplog.text):
        assert secret not in output
    engine = create_engine(s.database_url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        dump = "\n".join(
            repr(row) for table in meta.sorted_tables for row in conn.execute(select(table))
        )
        stored = conn.execute(select(meta.tables["staff_users"].c.password_hash)).scalar_one()
    engine.dispose()
    assert secret not in dump and "zoe@kntofficial.com" in dump
    assert stored.startswith("$argon2id$")
    # The session cookie's token is kept only as its hash, too.
    assert cookie_token not in dump


def test_attempts_sent_all_at_once_cannot_slip_past_the_lock_out(settings, tmp_path):
    s = staff_settings(settings, tmp_path)
    user = add_agent(s)
    accounts = StaffAccounts(s.database_url, lockout_attempts=5, lockout_seconds=60)
    outcomes: list[str] = []
    barrier = threading.Barrier(24)

    def attempt(password: str) -> None:
        barrier.wait()
        try:
            accounts.authenticate(user.email, password)
            outcomes.append("ok")
        except LoginLocked:
            outcomes.append("locked")
        except AccountError:
            outcomes.append("wrong")

    threads = [threading.Thread(target=attempt, args=(f"guess number {i}",)) for i in range(23)]
    threads.append(threading.Thread(target=attempt, args=(PASSWORD,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # At most five passwords were ever checked; everything after them was locked out.
    assert outcomes.count("wrong") + outcomes.count("ok") <= 5
    assert outcomes.count("locked") >= 19
    if "ok" not in outcomes:
        with pytest.raises(LoginLocked):
            accounts.authenticate(user.email, PASSWORD)
    accounts.unlock(user.email)
    assert accounts.authenticate(user.email, PASSWORD).id == user.id


def test_one_address_may_try_ten_logins_a_minute(s):
    with gateway(s) as client:
        codes = [
            _login(client, f"x{i}@example.com", "whatever it is").status_code for i in range(11)
        ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def test_a_huge_body_is_refused_before_it_is_read(s):
    with gateway(s) as client:
        r = client.post(
            "/api/staff/login",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={"origin": CONSOLE, "content-type": "application/json"},
        )
    assert r.status_code == 413


def test_logging_out_closes_the_live_feed_and_a_typing_frame_for_nothing_is_ignored(s):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with agent.socket() as ws:
            ws.send_json({"type": "typing", "conversation_id": "web-nothing", "on": True})
            ws.send_json({"type": "ping"})
            assert ws.receive_json()["type"] in ("pong", "agents")
            assert agent.post("/api/staff/logout").status_code == 204
            with pytest.raises(WebSocketDisconnect) as closed:
                for _ in range(5):
                    ws.receive_json()
            assert closed.value.code == 4401
