"""Configuration and the SQLite defaults the whole product relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from deskdrill.db.engine import begin_read, make_engine, make_sessionmaker
from deskdrill.paths import resource_dir
from deskdrill.settings import DEFAULT_SECRET, Settings


class TestSettings:
    def test_default_secret_is_refused_outside_dev(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("DESKDRILL_SECRET_KEY", raising=False)
        monkeypatch.setenv("DESKDRILL_ENV", "prod")
        with pytest.raises(ValidationError, match="DESKDRILL_SECRET_KEY"):
            Settings()
        monkeypatch.setenv("DESKDRILL_ENV", "dev")
        assert Settings().secret_key == DEFAULT_SECRET
        monkeypatch.setenv("DESKDRILL_ENV", "prod")
        monkeypatch.setenv("DESKDRILL_SECRET_KEY", "a-long-and-random-production-secret")
        assert Settings().env == "prod"

    def test_environment_variables_and_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DESKDRILL_ENV", "dev")
        monkeypatch.setenv("DESKDRILL_PORT", "9001")
        monkeypatch.setenv("DESKDRILL_HOST", "0.0.0.0")
        monkeypatch.delenv("DESKDRILL_DATABASE_URL", raising=False)
        settings = Settings()
        assert (settings.host, settings.port) == ("0.0.0.0", 9001)
        assert settings.database_url == "sqlite:///./var/deskdrill.db"

    def test_resources_are_found_from_a_checkout(self) -> None:
        assert (resource_dir("web") / "templates" / "home.html").is_file()
        assert (resource_dir("migrations") / "env.py").is_file()
        assert resource_dir("scenarios").is_dir()


class TestSQLiteDefaults:
    def test_pragmas_on_every_connection(self, tmp_path: Path) -> None:
        settings = Settings(env="test", database_url=f"sqlite:///{tmp_path}/sub/dir/x.db")
        engine = make_engine(settings)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert (tmp_path / "sub" / "dir" / "x.db").exists()
        finally:
            engine.dispose()

    def test_writes_begin_immediate_and_reads_deferred(self, tmp_path: Path) -> None:
        """A write transaction holds the write lock from its first statement (so a second
        writer waits on the busy timeout instead of failing on lock upgrade), while a
        read-only one takes no lock at all."""
        settings = Settings(
            env="test", database_url=f"sqlite:///{tmp_path}/lock.db", sqlite_busy_timeout_ms=200
        )
        engine = make_engine(settings)
        sessions = make_sessionmaker(engine)
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (x INTEGER)"))
            with sessions() as writer, sessions() as reader, sessions() as other_writer:
                writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is taken
                begin_read(reader)
                assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
                with pytest.raises(Exception, match="locked"):
                    other_writer.execute(text("SELECT 1"))
                writer.rollback()
                reader.rollback()
        finally:
            engine.dispose()
