"""The "bare ceiling" for ticket create: one plain INSERT per request, nothing else.

Same stack and settings as ``deskdrill serve``: uvicorn with one worker started the same
way, ``make_engine(Settings())`` (so the same SQLite pragmas, BEGIN IMMEDIATE and pool), a
sync endpoint, the same JSON body parsed by the same pydantic model (``TicketReceive``),
one session committed per request. No auth, no event trail, no search index.

Run: ``python -m benchmarks.bare_app --port 8001`` with DESKDRILL_DATABASE_URL set.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert

from deskdrill.db.engine import make_engine, make_sessionmaker, unit_of_work
from deskdrill.settings import Settings
from deskdrill.tickets.schemas import TicketReceive

metadata = MetaData()
bare_rows = Table(
    "bench_bare_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("drill_id", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings)
    metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    app = FastAPI(title="deskdrill bare ceiling")
    app.state.engine = engine

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/rows", status_code=201)
    def create_row(data: TicketReceive) -> dict[str, int]:
        with unit_of_work(factory) as session:
            result = session.connection().execute(
                insert(bare_rows).values(
                    drill_id=data.drill,
                    channel=data.channel,
                    category=data.category,
                    subject=data.subject,
                    body=data.body,
                    created_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            (row_id,) = result.inserted_primary_key or (0,)
        return {"id": int(row_id)}

    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory benchmarks.bare_app:app_factory``."""
    return create_app()


def main() -> None:
    """Serve exactly as ``deskdrill serve`` does (see deskdrill.cli.main.serve)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        "benchmarks.bare_app:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        reload=False,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
