"""Three schemas discovery is judged on, as pure data (no database): the sample monolith,
a blog (RealWorld-style) and a multi-tenant SaaS with a ``tenants`` hub.

Each is the tables with their columns and foreign keys, as SQLAlchemy reflection reports
them, plus (blog and SaaS) recorded writes: the tables each transaction wrote, repeated as
often as production traffic would. The expected contexts live in ``test_discover_schemas.py``
and were written before the algorithm.
"""

from __future__ import annotations

from phases.discover import TableInfo, WriteGroup


def _t(name: str, columns: str, *references: str) -> TableInfo:
    return TableInfo(name, tuple(columns.split()), tuple(sorted(references)))


def _writes(prefix: str, tables: str, times: int) -> list[WriteGroup]:
    return [WriteGroup(f"{prefix}-{i}", frozenset(tables.split())) for i in range(times)]


# legacy_app/models.py: the order API's tables and the four downstream services' own tables
# (their order_id columns carry no foreign key: each service owns its database tables).
SAMPLE = [
    _t("customers", "id name email created_at"),
    _t("products", "sku name price"),
    _t(
        "orders",
        "id customer_id customer_email status total currency payment_method mode "
        "correlation_id failure_reason compensation_errors created_at finished_at version",
        "customers",
    ),
    _t("order_items", "order_id line_no sku qty unit_price", "orders", "products"),
    _t(
        "outbox",
        "id aggregatetype aggregateid type payload correlation_id causation_id "
        "aggregate_version mode created_at",
    ),
    _t("inventory_stock", "sku on_hand"),
    _t(
        "inventory_reservations",
        "id order_id idempotency_key status reason correlation_id created_at released_at",
    ),
    _t("inventory_reservation_lines", "reservation_id sku qty", "inventory_reservations"),
    _t(
        "payments",
        "id order_id idempotency_key amount currency payment_method status requests "
        "correlation_id created_at refunded_at",
    ),
    _t("shipments", "id order_id idempotency_key carrier status correlation_id created_at"),
    _t(
        "notifications",
        "id order_id idempotency_key template recipient correlation_id created_at",
    ),
]

# A RealWorld ("Conduit") blog: every table but tags reaches users by foreign key.
BLOG = [
    _t("users", "id username email bio image password_hash created_at"),
    _t("follows", "follower_id followee_id created_at", "users"),
    _t(
        "articles",
        "id author_id slug title description body favorites_count created_at updated_at",
        "users",
    ),
    _t("tags", "id name"),
    _t("article_tags", "article_id tag_id", "articles", "tags"),
    _t("comments", "id article_id author_id body created_at", "articles", "users"),
    _t("favorites", "user_id article_id created_at", "articles", "users"),
    _t(
        "notifications",
        "id recipient_id actor_id kind subject_id created_at read_at",
        "users",
    ),
]

# What the blog's transactions wrote over a day: deleting an article also deletes its
# comments, favorites and tag links, but that is rare next to everything else.
BLOG_WRITES = [
    *_writes("register", "users", 40),
    *_writes("profile", "users", 15),
    *_writes("follow", "follows", 60),
    *_writes("publish", "articles tags article_tags", 30),
    *_writes("edit", "articles article_tags", 20),
    *_writes("favorite", "favorites articles", 80),
    *_writes("comment", "comments", 120),
    *_writes("notify", "notifications", 150),
    *_writes("delete", "articles comments favorites article_tags", 2),
]

# A multi-tenant SaaS: every table carries tenant_id; users are referenced by most tables.
SAAS = [
    _t("tenants", "id name plan_code created_at"),
    _t("users", "id tenant_id email name created_at", "tenants"),
    _t("projects", "id tenant_id owner_id name archived_at created_at", "tenants", "users"),
    _t(
        "memberships",
        "id tenant_id project_id user_id role created_at",
        "tenants",
        "projects",
        "users",
    ),
    _t(
        "tasks",
        "id tenant_id project_id assignee_id title status due_on updated_at",
        "tenants",
        "projects",
        "users",
    ),
    _t(
        "task_comments",
        "id tenant_id task_id author_id body created_at",
        "tenants",
        "tasks",
        "users",
    ),
    _t("subscriptions", "id tenant_id plan_code status renews_at", "tenants"),
    _t(
        "invoices",
        "id tenant_id subscription_id number total status issued_at",
        "tenants",
        "subscriptions",
    ),
    _t("invoice_lines", "invoice_id line_no description amount", "invoices"),
    _t(
        "audit_log",
        "id tenant_id actor_id action entity entity_id at",
        "tenants",
        "users",
    ),
]

# Every SaaS transaction also appends to audit_log.
SAAS_WRITES = [
    *_writes("signup", "tenants users subscriptions audit_log", 10),
    *_writes("create-project", "projects memberships audit_log", 25),
    *_writes("invite", "memberships audit_log", 40),
    *_writes("create-task", "tasks audit_log", 200),
    *_writes("update-task", "tasks audit_log", 300),
    *_writes("comment", "task_comments tasks audit_log", 150),
    *_writes("invoice-run", "invoices invoice_lines audit_log", 30),
    *_writes("change-plan", "subscriptions audit_log", 5),
]
