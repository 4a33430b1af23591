"""Engines and the bootstrap of the helpdesk's database."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

import cutover
from examples.helpdesk.models import Agent, Base

SEED_AGENTS: tuple[tuple[str, str], ...] = (
    ("Ada", "ada@helpdesk.example"),
    ("Grace", "grace@helpdesk.example"),
    ("Linus", "linus@helpdesk.example"),
)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url``: pooled and pre-pinged on Postgres, plain on SQLite (tests)."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"check_same_thread": False})
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def create_schema(engine: Engine, *, seed: bool = True) -> None:
    """Create the helpdesk's and its services' tables where missing; seed the agents."""
    Base.metadata.create_all(engine)
    if not seed:
        return
    with Session(engine) as session, session.begin():
        if session.scalars(select(Agent).limit(1)).first() is None:
            session.add_all(Agent(name=n, email=e) for n, e in SEED_AGENTS)


def create_all(url: str) -> None:
    """The helpdesk's bootstrap (idempotent): its tables, then cutover's (``cutover init``)."""
    engine = make_engine(url, pool_size=1)
    try:
        create_schema(engine)
        cutover.init_state(engine)
    finally:
        engine.dispose()
