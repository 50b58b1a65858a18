"""Alembic, configured in code so it works from a checkout and from an installed wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url

from deskdrill.db.engine import ensure_sqlite_dir
from deskdrill.paths import resource_dir

# Objects that exist on one backend only, created by hand in the migrations: the SQLite
# FTS5 search table (and its shadow tables) and the PostgreSQL trigram indexes.
BACKEND_ONLY = frozenset({"ticket_search", "ix_tickets_subject_trgm", "ix_messages_body_trgm"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: leave the backend-only objects out of autogenerate comparisons."""
    return not (name in BACKEND_ONLY or (name or "").startswith("ticket_search_"))


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s")
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _scripts() -> ScriptDirectory:
    """This code's migrations (no database needed to list them)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head() -> str | None:
    """The revision this code's migrations end at."""
    return _scripts().get_current_head()


def behind(database_url: str) -> str | None:
    """Why the database at ``database_url`` cannot be used as it is, or None when its
    schema is this code's: a sentence that says what to run."""
    url = make_url(database_url)
    missing = "the database has no deskdrill schema yet: run 'deskdrill migrate' first"
    on_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_file and not Path(str(url.database)).expanduser().exists():
        # A relative path is relative to the folder the command runs in: a command run
        # elsewhere than the server finds no file, and migrating there makes another one.
        where = Path(str(url.database)).expanduser().absolute()
        return (
            f"there is no database at {where} (DESKDRILL_DATABASE_URL={database_url}): run "
            "'deskdrill migrate' to make one, or run this command where the server runs, "
            "or set DESKDRILL_DATABASE_URL to the server's database"
        )
    try:
        found = current(database_url)
    except Exception as error:  # an unreachable server, a file that is not a database
        cause = getattr(error, "orig", None) or error
        return f"the database cannot be read: {str(cause).splitlines()[0]}"
    scripts = _scripts()
    wanted = scripts.get_current_head()
    if found == wanted:
        return None
    if found is None:
        return missing
    if found not in {script.revision for script in scripts.walk_revisions()}:
        return (
            f"the database is at schema revision {found}, which this deskdrill does not "
            f"know (a newer version wrote it; this one needs {wanted})"
        )
    return (
        f"the database is at schema revision {found}, this deskdrill needs {wanted}: "
        "run 'deskdrill migrate' first"
    )
