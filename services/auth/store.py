"""Queries and persistence of the auth service (async; authlib reaches them through the bridge)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.crypto import digest, random_token
from services.auth.domain.throttle import ThrottlePolicy, ThrottleState, after_failure, retry_at
from services.auth.models import (
    AccessToken,
    Account,
    AuthorizationCode,
    Client,
    Invitation,
    LoginSession,
    LoginThrottle,
    Membership,
    PasswordReset,
    RefreshToken,
)
from services.kernel.clock import utcnow

ACTIVE = "active"
INVITED = "invited"
DISABLED = "disabled"


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Principal:
    """A person acting for one structure (or none, for a moderator), as put in a token."""

    account_id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    structure_id: uuid.UUID | None
    roles: tuple[str, ...]
    auth_time: datetime | None = None

    def get_user_id(self) -> str:
        return str(self.account_id)


@dataclass(frozen=True)
class ClientInfo:
    id: uuid.UUID
    client_id: str
    secret_hash: str | None
    name: str
    structure_id: uuid.UUID | None
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    auth_method: str
    first_party: bool = False
    post_logout_redirect_uris: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: Client) -> ClientInfo:
        return cls(
            id=row.id,
            client_id=row.client_id,
            secret_hash=row.secret_hash,
            name=row.name,
            structure_id=row.structure_id,
            scopes=tuple(row.scopes.split()),
            grant_types=tuple(row.grant_types),
            redirect_uris=tuple(row.redirect_uris),
            auth_method=row.auth_method,
            first_party=row.first_party,
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
        )


@dataclass(frozen=True)
class CodeInfo:
    client_id: str
    account_id: uuid.UUID
    structure_id: uuid.UUID | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    family_id: uuid.UUID
    auth_time: datetime


@dataclass(frozen=True)
class RefreshInfo:
    id: uuid.UUID
    family_id: uuid.UUID
    client_id: str
    account_id: uuid.UUID
    structure_id: uuid.UUID | None
    scope: str
    expires_at: datetime


@dataclass
class IssuedToken:
    jti: str
    client_id: str
    account_id: uuid.UUID | None
    structure_id: uuid.UUID | None
    scope: str
    roles: list[str]
    issued_at: datetime
    expires_at: datetime
    family_id: uuid.UUID | None = None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


# --- accounts and memberships -------------------------------------------------------------


async def account_by_email(session: AsyncSession, email: str) -> Account | None:
    result = await session.scalars(
        sa.select(Account).where(Account.email == normalize_email(email))
    )
    return result.first()


async def memberships_of(session: AsyncSession, account_id: uuid.UUID) -> list[Membership]:
    result = await session.scalars(
        sa.select(Membership)
        .where(Membership.account_id == account_id)
        .order_by(Membership.created_at)
    )
    return list(result.all())


async def principal(
    session: AsyncSession,
    account_id: uuid.UUID,
    structure_id: uuid.UUID | None,
    auth_time: datetime | None = None,
) -> Principal | None:
    """The account acting for ``structure_id``; None if inactive or not a member there."""
    account = await session.get(Account, account_id)
    if account is None or account.status != ACTIVE:
        return None
    roles: list[str] = []
    if structure_id is not None:
        membership = (
            await session.scalars(
                sa.select(Membership).where(
                    Membership.account_id == account_id, Membership.structure_id == structure_id
                )
            )
        ).first()
        if membership is None:
            return None
        roles.append(membership.role)
    elif not account.is_moderator:
        return None
    if account.is_moderator:
        roles.append("moderator")
    return Principal(
        account_id=account.id,
        email=account.email,
        name=account.name,
        email_verified=account.email_verified,
        structure_id=structure_id,
        roles=tuple(roles),
        auth_time=auth_time,
    )


async def add_membership(
    session: AsyncSession, account_id: uuid.UUID, structure_id: uuid.UUID, role: str
) -> Membership:
    existing = (
        await session.scalars(
            sa.select(Membership).where(
                Membership.account_id == account_id, Membership.structure_id == structure_id
            )
        )
    ).first()
    if existing is not None:
        if role == "admin":
            existing.role = role
        return existing
    membership = Membership(account_id=account_id, structure_id=structure_id, role=role)
    session.add(membership)
    await session.flush()
    return membership


async def revoked_access_tokens(session: AsyncSession) -> list[str]:
    """The jti of revoked access tokens that have not expired yet (sorted: a stable body)."""
    rows = await session.scalars(
        sa.select(AccessToken.jti)
        .where(AccessToken.revoked_at.is_not(None), AccessToken.expires_at > utcnow())
        .order_by(AccessToken.jti)
    )
    return list(rows.all())


async def revoke_structure_tokens(
    session: AsyncSession, account_id: uuid.UUID, structure_id: uuid.UUID
) -> None:
    """Access tokens an account holds for one structure stop working (membership removed)."""
    await session.execute(
        sa.update(AccessToken)
        .where(
            AccessToken.account_id == account_id,
            AccessToken.structure_id == structure_id,
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


async def revoke_account_grants(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Sessions, refresh tokens and recorded access tokens of an account stop working."""
    now = utcnow()
    await session.execute(sa.delete(LoginSession).where(LoginSession.account_id == account_id))
    await session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        sa.update(AccessToken)
        .where(AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# --- clients --------------------------------------------------------------------------------


async def client_by_id(session: AsyncSession, client_id: str) -> ClientInfo | None:
    row = (
        await session.scalars(
            sa.select(Client).where(Client.client_id == client_id, Client.revoked_at.is_(None))
        )
    ).first()
    return ClientInfo.of(row) if row else None


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    structure_id: uuid.UUID | None,
    scopes: list[str],
    grant_types: list[str],
    redirect_uris: list[str] | None = None,
    public: bool = False,
    created_by: uuid.UUID | None = None,
) -> tuple[Client, str | None]:
    secret = None if public else random_token(32)
    client = Client(
        client_id=f"rls_{random_token(12)}",
        secret_hash=digest(secret) if secret else None,
        name=name,
        structure_id=structure_id,
        scopes=" ".join(scopes),
        grant_types=grant_types,
        redirect_uris=redirect_uris or [],
        auth_method="none" if public else "client_secret_basic",
        created_by=created_by,
    )
    session.add(client)
    await session.flush()
    return client, secret


async def register_first_party_client(
    session: AsyncSession,
    *,
    client_id: str,
    secret: str,
    name: str,
    scopes: list[str],
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
) -> Client:
    """Create or bring up to date a first-party staff application (fixed id, confidential,
    authorization code + refresh token, no consent page). Run at each migration: a changed base
    URL or secret takes effect; a revoked one is restored, since the operator configures it, not
    an admin."""
    client = (await session.scalars(sa.select(Client).where(Client.client_id == client_id))).first()
    if client is None:
        client = Client(client_id=client_id)
        session.add(client)
    client.secret_hash = digest(secret)
    client.name = name
    client.structure_id = None
    client.scopes = " ".join(scopes)
    client.grant_types = ["authorization_code", "refresh_token"]
    client.redirect_uris = redirect_uris
    client.post_logout_redirect_uris = post_logout_redirect_uris
    client.auth_method = "client_secret_basic"
    client.first_party = True
    client.revoked_at = None
    await session.flush()
    return client


async def revoke_client(session: AsyncSession, client: Client) -> None:
    now = utcnow()
    client.revoked_at = now
    await session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.client_id == client.client_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        sa.update(AccessToken)
        .where(AccessToken.client_id == client.client_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# --- authorization codes ------------------------------------------------------------------


async def save_code(session: AsyncSession, code: str, info: CodeInfo, ttl: int) -> None:
    now = utcnow()
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=info.client_id,
            account_id=info.account_id,
            structure_id=info.structure_id,
            redirect_uri=info.redirect_uri,
            scope=info.scope,
            nonce=info.nonce,
            code_challenge=info.code_challenge,
            code_challenge_method=info.code_challenge_method,
            family_id=info.family_id,
            auth_time=info.auth_time,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await session.flush()


async def consume_code(session: AsyncSession, code: str, client_id: str) -> CodeInfo | None:
    """Mark the code used (exactly one caller wins). A replayed code revokes its tokens."""
    row = (
        await session.scalars(
            sa.select(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code))
        )
    ).first()
    if row is None or row.client_id != client_id:
        return None
    now = utcnow()
    result = await session.execute(
        sa.update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        await revoke_family(session, row.family_id)
        return None
    if row.expires_at <= now:
        return None
    return CodeInfo(
        client_id=row.client_id,
        account_id=row.account_id,
        structure_id=row.structure_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        family_id=row.family_id,
        auth_time=row.auth_time,
    )


# --- tokens ---------------------------------------------------------------------------------


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    now = utcnow()
    await session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        sa.update(AccessToken)
        .where(AccessToken.family_id == family_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def save_issued(session: AsyncSession, issued: IssuedToken) -> None:
    session.add(
        AccessToken(
            jti=issued.jti,
            family_id=issued.family_id,
            client_id=issued.client_id,
            account_id=issued.account_id,
            structure_id=issued.structure_id,
            scope=issued.scope,
            roles=issued.roles,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
        )
    )
    if issued.refresh_token and issued.account_id and issued.family_id:
        assert issued.refresh_expires_at is not None
        session.add(
            RefreshToken(
                token_hash=digest(issued.refresh_token),
                family_id=issued.family_id,
                client_id=issued.client_id,
                account_id=issued.account_id,
                structure_id=issued.structure_id,
                scope=issued.scope,
                created_at=issued.issued_at,
                expires_at=issued.refresh_expires_at,
            )
        )
    await session.flush()


async def find_refresh(session: AsyncSession, token: str) -> RefreshToken | None:
    return (
        await session.scalars(
            sa.select(RefreshToken).where(RefreshToken.token_hash == digest(token))
        )
    ).first()


async def rotate_refresh(session: AsyncSession, token: str) -> RefreshInfo | None:
    """Use a refresh token once. Reusing a rotated (or revoked) one revokes its whole family."""
    row = await find_refresh(session, token)
    if row is None:
        return None
    now = utcnow()
    result = await session.execute(
        sa.update(RefreshToken)
        .where(
            RefreshToken.id == row.id,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(rotated_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        await revoke_family(session, row.family_id)
        return None
    if row.expires_at <= now:
        return None
    return RefreshInfo(
        id=row.id,
        family_id=row.family_id,
        client_id=row.client_id,
        account_id=row.account_id,
        structure_id=row.structure_id,
        scope=row.scope,
        expires_at=row.expires_at,
    )


async def access_token(session: AsyncSession, jti: str) -> AccessToken | None:
    return await session.get(AccessToken, jti)


async def token_is_live(session: AsyncSession, record: AccessToken | RefreshToken) -> bool:
    """Not revoked, not expired, its client not revoked and its account (if any) active."""
    now = utcnow()
    if record.revoked_at is not None or record.expires_at <= now:
        return False
    if isinstance(record, RefreshToken) and record.rotated_at is not None:
        return False
    if await client_by_id(session, record.client_id) is None:
        return False
    if record.account_id is not None:
        account = await session.get(Account, record.account_id)
        if account is None or account.status != ACTIVE:
            return False
    return True


# --- login throttling and sessions ---------------------------------------------------------


def throttle_keys(email: str, address: str) -> tuple[str, str]:
    return f"email:{digest(normalize_email(email))[:40]}", f"ip:{address[:60]}"


async def login_blocked_until(session: AsyncSession, email: str, address: str) -> datetime | None:
    now = utcnow()
    blocked: list[datetime] = []
    for key in throttle_keys(email, address):
        row = await session.get(LoginThrottle, key)
        state = ThrottleState(row.failures, row.last_failure_at, row.locked_until) if row else None
        until = retry_at(state, now)
        if until is not None:
            blocked.append(until)
    return max(blocked) if blocked else None


async def record_login_failure(
    session: AsyncSession, email: str, address: str, policy: ThrottlePolicy
) -> None:
    now = utcnow()
    for key in throttle_keys(email, address):
        row = await session.get(LoginThrottle, key)
        state = ThrottleState(row.failures, row.last_failure_at, row.locked_until) if row else None
        new = after_failure(state, now, policy, per_ip=key.startswith("ip:"))
        if row is None:
            session.add(
                LoginThrottle(
                    key=key,
                    failures=new.failures,
                    last_failure_at=new.last_failure_at,
                    locked_until=new.locked_until,
                )
            )
        else:
            row.failures = new.failures
            row.last_failure_at = new.last_failure_at
            row.locked_until = new.locked_until
    await session.flush()


async def clear_login_failures(session: AsyncSession, email: str) -> None:
    key, _ = throttle_keys(email, "")
    await session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == key))


async def open_session(
    session: AsyncSession, account: Account, method: str, hours: int = 10
) -> str:
    sid = random_token(32)
    now = utcnow()
    session.add(
        LoginSession(
            id_hash=digest(sid),
            account_id=account.id,
            method=method,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    account.last_login_at = now
    await session.flush()
    return sid


async def session_account(
    session: AsyncSession, sid: str | None
) -> tuple[Account, LoginSession] | None:
    if not sid:
        return None
    login = await session.get(LoginSession, digest(sid))
    if login is None or login.expires_at <= utcnow():
        return None
    account = await session.get(Account, login.account_id)
    if account is None or account.status != ACTIVE:
        return None
    return account, login


async def close_session(session: AsyncSession, sid: str | None) -> None:
    if sid:
        await session.execute(sa.delete(LoginSession).where(LoginSession.id_hash == digest(sid)))


# --- invitations and password resets ------------------------------------------------------


async def create_invitation(
    session: AsyncSession,
    *,
    email: str,
    structure_id: uuid.UUID,
    role: str,
    invited_by: uuid.UUID | None,
    days: int = 7,
) -> tuple[Invitation, str]:
    token = random_token(32)
    now = utcnow()
    invitation = Invitation(
        token_hash=digest(token),
        email=normalize_email(email),
        structure_id=structure_id,
        role=role,
        invited_by=invited_by,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(invitation)
    await session.flush()
    return invitation, token


async def open_invitation(session: AsyncSession, token: str) -> Invitation | None:
    row = (
        await session.scalars(sa.select(Invitation).where(Invitation.token_hash == digest(token)))
    ).first()
    if row is None or row.accepted_at is not None or row.expires_at <= utcnow():
        return None
    return row


async def structure_invitations(session: AsyncSession, structure_id: uuid.UUID) -> list[Invitation]:
    result = await session.scalars(
        sa.select(Invitation)
        .where(
            Invitation.structure_id == structure_id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc())
    )
    return list(result)


async def pending_invitation(
    session: AsyncSession, structure_id: uuid.UUID, invitation_id: uuid.UUID
) -> Invitation | None:
    return (
        await session.scalars(
            sa.select(Invitation).where(
                Invitation.id == invitation_id,
                Invitation.structure_id == structure_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
        )
    ).first()


async def renew_invitation(session: AsyncSession, invitation: Invitation, days: int = 7) -> str:
    """A new link for the invitation (the previous one stops working)."""
    token = random_token(32)
    invitation.token_hash = digest(token)
    invitation.expires_at = utcnow() + timedelta(days=days)
    await session.flush()
    return token


async def pending_invitations(session: AsyncSession, email: str) -> list[Invitation]:
    result = await session.scalars(
        sa.select(Invitation).where(
            Invitation.email == normalize_email(email),
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    )
    return list(result.all())


async def accept_invitation(
    session: AsyncSession, invitation: Invitation, account: Account
) -> bool:
    """Single use: exactly one acceptance wins."""
    result = await session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow())
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    await add_membership(session, account.id, invitation.structure_id, invitation.role)
    return True


async def create_reset(session: AsyncSession, account: Account, hours: int = 1) -> str:
    token = random_token(32)
    now = utcnow()
    session.add(
        PasswordReset(
            token_hash=digest(token),
            account_id=account.id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    await session.flush()
    return token


async def open_reset(session: AsyncSession, token: str) -> PasswordReset | None:
    row = (
        await session.scalars(
            sa.select(PasswordReset).where(PasswordReset.token_hash == digest(token))
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


async def use_reset(session: AsyncSession, reset: PasswordReset) -> bool:
    result = await session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return getattr(result, "rowcount", 0) == 1
