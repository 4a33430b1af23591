"""DDL of the shadow store (PostgreSQL schema ``shadow`` by default).

The schema name is a parameter so two identical shadow pipelines can run side by
side (A/A noise calibration); everything else uses :data:`DEFAULT_SCHEMA`.
"""

from __future__ import annotations

from cutover.shadow import DEFAULT_SCHEMA, checked_schema

__all__ = ["DEFAULT_SCHEMA", "TABLES", "checked_schema", "ddl"]


def ddl(schema: str = DEFAULT_SCHEMA) -> list[str]:
    """Statements creating the shadow store; each is idempotent.

    Text keys use the "C" collation: their indexes compare bytes instead of calling the
    locale's ``strcoll`` (the shadow writes several index entries per event). Comparators
    order keys with ``COLLATE "C"`` anyway, so sorting is unchanged.
    """
    s = checked_schema(schema)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"""CREATE TABLE IF NOT EXISTS {s}.processed_events (
            consumer varchar(100) COLLATE "C" NOT NULL, event_id varchar(255) COLLATE "C" NOT NULL,
            event_ts timestamptz NOT NULL, processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.stock (
            sku varchar(64) COLLATE "C" PRIMARY KEY, available bigint NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.reservations (
            order_id varchar(255) COLLATE "C" NOT NULL, sku varchar(64) COLLATE "C" NOT NULL,
            qty integer NOT NULL,
            released boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (order_id, sku))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.payments (
            order_id varchar(255) COLLATE "C" PRIMARY KEY, amount numeric(12,2) NOT NULL,
            status varchar(20) NOT NULL, attempts integer NOT NULL DEFAULT 1,
            updated_at timestamptz NOT NULL DEFAULT now())""",
        f"""CREATE TABLE IF NOT EXISTS {s}.shipments (
            order_id varchar(255) COLLATE "C" PRIMARY KEY, carrier varchar(40) NOT NULL,
            status varchar(20) NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())""",
        f"""CREATE TABLE IF NOT EXISTS {s}.notifications (
            order_id varchar(255) COLLATE "C" NOT NULL, template varchar(80) COLLATE "C" NOT NULL,
            recipient varchar(320) NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (order_id, template))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.order_status (
            order_id varchar(255) COLLATE "C" PRIMARY KEY, correlation_id varchar(255) NOT NULL DEFAULT '',
            status varchar(20) NOT NULL, status_rank smallint NOT NULL,
            total numeric(12,2) NOT NULL, customer_email varchar(320) NOT NULL,
            updated_at timestamptz NOT NULL, finished_at timestamptz,
            event_ts timestamptz NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.outbox (
            id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
            aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb NOT NULL,
            correlation_id varchar(255), causation_id varchar(255),
            created_at timestamptz NOT NULL DEFAULT now())""",
        f"""CREATE TABLE IF NOT EXISTS {s}.sagas (
            order_id varchar(255) COLLATE "C" PRIMARY KEY, state varchar(40) NOT NULL,
            steps jsonb NOT NULL, updated_at timestamptz NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.analytics_product_minute (
            minute timestamptz NOT NULL, sku varchar(64) COLLATE "C" NOT NULL, orders bigint NOT NULL,
            quantity bigint NOT NULL, revenue numeric(14,2) NOT NULL, PRIMARY KEY (minute, sku))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.delivery_anomalies (
            context varchar(100) NOT NULL, kind varchar(40) NOT NULL, count bigint NOT NULL,
            last_seen_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (context, kind))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.aggregate_sequences (
            consumer varchar(100) COLLATE "C" NOT NULL, context varchar(100) COLLATE "C" NOT NULL,
            aggregate_id varchar(255) COLLATE "C" NOT NULL,
            last_sequence bigint NOT NULL, PRIMARY KEY (consumer, context, aggregate_id))""",
        # stores made before sequences were kept per consumer: add the column, re-key
        f"""ALTER TABLE {s}.aggregate_sequences
            ADD COLUMN IF NOT EXISTS consumer varchar(100) COLLATE "C" NOT NULL DEFAULT ''""",
        f"""DO $$ BEGIN
            IF NOT EXISTS (
                SELECT 1 FROM pg_constraint c
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                WHERE c.conrelid = '{s}.aggregate_sequences'::regclass
                  AND c.contype = 'p' AND a.attname = 'consumer') THEN
                ALTER TABLE {s}.aggregate_sequences DROP CONSTRAINT aggregate_sequences_pkey;
                ALTER TABLE {s}.aggregate_sequences
                    ADD PRIMARY KEY (consumer, context, aggregate_id);
            END IF;
        END $$""",
    ]


TABLES: tuple[str, ...] = (
    "processed_events",
    "stock",
    "reservations",
    "payments",
    "shipments",
    "notifications",
    "order_status",
    "outbox",
    "sagas",
    "analytics_product_minute",
    "delivery_anomalies",
    "aggregate_sequences",
)
