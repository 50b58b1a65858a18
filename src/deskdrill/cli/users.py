from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from deskdrill.accounts import service as accounts
from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.schemas import UserCreate
from deskdrill.cli.context import console, err_console, load_settings, session_scope
from deskdrill.core.clock import utc_now

app = typer.Typer(help="Manage accounts and API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    username: str,
    role: Annotated[Role, typer.Option(help="trainee, trainer, qa or admin")] = Role.trainee,
    tier: Annotated[Tier, typer.Option(help="support tier for trainees")] = Tier.L1,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="password (asked for when omitted; or DESKDRILL_PASSWORD)",
            envvar="DESKDRILL_PASSWORD",
        ),
    ] = None,
    language: Annotated[str, typer.Option(help="en or zh")] = "en",
) -> None:
    """Create an account."""
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(
            username=username,
            display_name=name,
            password=password,
            role=role,
            tier=tier,
            language=language,
        )
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    with session_scope() as session:
        user = accounts.create_user(session=session, data=data, now=utc_now())
        console.print(f"created {user.role} [bold]{user.username}[/bold] ({user.tier})")


@app.command("list")
def list_users() -> None:
    """List accounts."""
    with session_scope() as session:
        table = Table("username", "name", "role", "tier", "active")
        for user in accounts.list_users(session=session):
            table.add_row(
                user.username,
                user.display_name,
                user.role,
                user.tier,
                "yes" if user.active else "no",
            )
        console.print(table)


@app.command("token")
def token(
    username: str,
    name: Annotated[str, typer.Option(help="a label for the token")] = "cli",
    days: Annotated[int | None, typer.Option(help="days until it expires")] = None,
) -> None:
    """Issue an API token for a user and print it (it is shown only once)."""
    settings = load_settings()
    with session_scope(settings) as session:
        user = accounts.get_user(session=session, username=username)
        secret, row = accounts.issue_token(
            session=session,
            user=user,
            name=name,
            now=utc_now(),
            ttl=timedelta(days=days or settings.token_ttl_days),
        )
        err_console.print(f"token id {row.id} for {username}, expires {row.expires_at:%Y-%m-%d}")
        print(secret)


@app.command("tokens")
def tokens(username: str) -> None:
    """List a user's tokens (never the secrets)."""
    with session_scope() as session:
        user = accounts.get_user(session=session, username=username)
        table = Table("id", "name", "prefix", "created", "expires", "revoked")
        for row in accounts.list_tokens(session=session, user=user):
            table.add_row(
                str(row.id),
                row.name,
                row.prefix + "…",
                f"{row.created_at:%Y-%m-%d}",
                f"{row.expires_at:%Y-%m-%d}",
                f"{row.revoked_at:%Y-%m-%d}" if row.revoked_at else "",
            )
        console.print(table)


@app.command("revoke")
def revoke(token_id: int) -> None:
    """Revoke an API token by id."""
    with session_scope() as session:
        accounts.revoke_token(session=session, token_id=token_id, now=utc_now())
        console.print(f"revoked token {token_id}")
