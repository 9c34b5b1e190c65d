"""The accounts service's tables: members (identity, contact details,
password hash) and web sessions."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carpimko.inbox import InboxMixin
from carpimko.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Inbox(InboxMixin, Base):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Member(Base):
    __tablename__ = "members"

    file_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    civility: Mapped[str] = mapped_column(String(8))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    profession: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(32))  # active, retired, survivor
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # set when a mail to this address bounced for good (SMTP 5xx): the member must fix it
    email_bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    prefers_paper: Mapped[bool] = mapped_column(Boolean, default=False)
    address_line1: Mapped[str] = mapped_column(String(120))
    address_line2: Mapped[str | None] = mapped_column(String(120), nullable=True)
    postcode: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(80))
    country: Mapped[str] = mapped_column(String(60), default="France")
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)  # E.164
    # FranceConnect: the linked identity, and the pivot fields not held elsewhere (INSEE codes)
    franceconnect_sub: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True,
                                                          index=True)
    birthplace: Mapped[str | None] = mapped_column(String(5), nullable=True)
    birthcountry: Mapped[str | None] = mapped_column(String(5), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    @property
    def full_name(self) -> str:
        return f"{self.civility} {self.first_name} {self.last_name.upper()}"

    @property
    def address_lines(self) -> list[str]:
        lines = [self.address_line1]
        if self.address_line2:
            lines.append(self.address_line2)
        lines.append(f"{self.postcode} {self.city.upper()}")
        if self.country and self.country.lower() != "france":
            lines.append(self.country.upper())
        return lines


class WebSession(Base):
    """A member's web session. Only the SHA-256 of the token is stored."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_number: Mapped[str] = mapped_column(ForeignKey("members.file_number"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # last request seen (idle timeout); None for sessions opened before it existed
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the FranceConnect ID token of a session opened through it (logout's id_token_hint)
    franceconnect_id_token: Mapped[str | None] = mapped_column(Text, nullable=True)


class PasswordReset(Base):
    """A first-login / forgotten-password request and its one-time secret.

    The request is written when the member asks; the secret (email link token
    or letter code) is issued when the notifications service sends it, and
    only its SHA-256 is kept. Dead once used, superseded, expired or out of
    attempts (``ended_at`` + ``end_reason``)."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(ForeignKey("members.file_number"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # email, post
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class EmailChange(Base):
    """A new email address waiting for its owner to confirm it (link by email,
    24 hours, only its SHA-256 stored); it is used for nothing before."""

    __tablename__ = "email_changes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(ForeignKey("members.file_number"), index=True)
    new_email: Mapped[str] = mapped_column(String(254))
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class FranceConnectState(Base):
    """An authorization request in flight: its ``state`` (hashed) and ``nonce``;
    single use, 10 minutes."""

    __tablename__ = "franceconnect_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FranceConnectPending(Base):
    """A FranceConnect identity matched to no member yet: linked when the member
    next logs in with the file number (token hashed, 15 minutes, single use)."""

    __tablename__ = "franceconnect_pending"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sub: Mapped[str] = mapped_column(String(128))
    id_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginThrottle(Base):
    """Failed logins per file number, for any well-formed file number (registered
    or not, so the throttle and the lock reveal nothing)."""

    __tablename__ = "login_throttle"

    file_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StaffUser(Base):
    """An advisor or an administrator: password (argon2id) and TOTP (RFC 6238)."""

    __tablename__ = "staff_users"

    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))  # advisor, admin
    password_hash: Mapped[str] = mapped_column(Text)
    totp_secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_totp_step: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no replay


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(ForeignKey("staff_users.login"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Append-only log of security events (no code path updates or deletes a row)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    file_number: Mapped[str | None] = mapped_column(String(9), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(40))  # member, system, advisor:<id>
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
