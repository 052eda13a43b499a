"""The staff's tables in the app database: accounts, sessions and failed logins.

Created by the migration bot/migrations/versions/0002_staff_console.py.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Table

from bot.db import app_metadata

staff_users = Table(
    "staff_users",
    app_metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-case
    Column("name", String(120), nullable=False),
    Column("password_hash", String(255), nullable=False),  # argon2id, never the password
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
)

staff_sessions = Table(
    "staff_sessions",
    app_metadata,
    # SHA-256 of the cookie's random token: a database leak gives no usable session.
    Column("id", String(64), primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff_users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Counted per e-mail address as typed (lower-case), whether or not an account has it, so
# the lock-out answer never tells which addresses are staff accounts.
staff_login_failures = Table(
    "staff_login_failures",
    app_metadata,
    Column("email", String(254), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failed_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True), nullable=True),
)

# One row per hand-off of a conversation to a person: a conversation handed back to the
# bot and handed off again later has two. The open one (ended_at NULL) is the live one.
chat_handoffs = Table(
    "chat_handoffs",
    app_metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "conversation_id",
        String(64),
        ForeignKey("chat_conversations.id"),
        nullable=False,
        index=True,
    ),
    # shopper_asked | faq_unanswered | verification_failed | order_system_down | ...
    Column("reason", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("claimed_by", Integer, ForeignKey("staff_users.id"), nullable=True),
    Column("first_reply_at", DateTime(timezone=True), nullable=True),
    # When the shopper was told nobody is free (nobody online, or unclaimed too long).
    Column("unavailable_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(16), nullable=True),  # handed_back | closed
    Column("ended_by", Integer, ForeignKey("staff_users.id"), nullable=True),
)
