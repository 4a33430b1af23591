"""Scratch databases on the stack's Postgres: create, and drop with their replication slots."""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from rehearsal.stack.endpoints import Endpoints


def create_database(endpoints: Endpoints, name: str) -> None:
    with psycopg.connect(endpoints.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def drop_database(endpoints: Endpoints, name: str, slot_timeout: float = 30.0) -> None:
    """Drop ``name`` after its replication slots: a deleted connector releases its slot
    asynchronously, so wait (up to ``slot_timeout``) for each slot to become inactive."""
    with psycopg.connect(endpoints.dsn("postgres"), autocommit=True) as conn:
        deadline = time.monotonic() + slot_timeout
        while True:
            slots = conn.execute(
                "select slot_name, active, active_pid from pg_replication_slots where database = %s",
                (name,),
            ).fetchall()
            for slot, active, _pid in slots:
                if not active:
                    conn.execute("select pg_drop_replication_slot(%s)", (slot,))
            if not any(active for _, active, _ in slots):
                break
            if time.monotonic() > deadline:
                for _slot, active, pid in slots:
                    if active and pid:
                        conn.execute("select pg_terminate_backend(%s)", (pid,))
                deadline = time.monotonic() + slot_timeout
            time.sleep(0.3)
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
