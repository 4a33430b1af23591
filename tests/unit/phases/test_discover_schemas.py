"""Discovery judged on three schemas (``discover_schemas.py``): the contexts a team would keep.

The expected contexts below were written before the clustering algorithm and are not to be
edited to fit its output: a context is named after its aggregate root (singular), hub tables
referenced by most others are shared (never the glue of one context), recorded writes beat
foreign keys, and a cluster holding most of the tables is proposed with low confidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from phases.discover import Proposal, TableInfo, WriteGroup, propose
from tests.unit.phases.discover_schemas import BLOG, BLOG_WRITES, SAAS, SAAS_WRITES, SAMPLE


def _contexts(proposal: Proposal) -> dict[str, list[str]]:
    return {c.name: c.tables for c in proposal.contexts}


def _confidence(proposal: Proposal) -> dict[str, str]:
    return {c.name: c.confidence for c in proposal.contexts}


def _propose(tables: Sequence[TableInfo], writes: Sequence[WriteGroup] = ()) -> Proposal:
    return propose(tables, [], writes=writes)


# ---------------------------------------------------------------- expectations (written first)
SAMPLE_CONTEXTS = {
    "order": ["customers", "order_items", "orders", "products"],
    "inventory": ["inventory_reservation_lines", "inventory_reservations", "inventory_stock"],
    "payment": ["payments"],
    "shipment": ["shipments"],
    "notification": ["notifications"],
}
BLOG_CONTEXTS_BY_FOREIGN_KEYS = {
    "article": ["article_tags", "articles", "comments", "favorites", "tags"],
    "follow": ["follows"],
    "notification": ["notifications"],
}
BLOG_CONTEXTS_BY_WRITES = {
    "article": ["article_tags", "articles", "favorites", "tags"],
    "comment": ["comments"],
    "follow": ["follows"],
    "notification": ["notifications"],
}
SAAS_CONTEXTS_BY_FOREIGN_KEYS = {
    "project": ["memberships", "projects", "task_comments", "tasks"],
    "invoice": ["invoice_lines", "invoices", "subscriptions"],
    "audit_log": ["audit_log"],
}
SAAS_CONTEXTS_BY_WRITES = {
    "project": ["memberships", "projects"],
    "task": ["task_comments", "tasks"],
    "subscription": ["subscriptions"],
    "invoice": ["invoice_lines", "invoices"],
}


# ---------------------------------------------------------------- the sample
def test_sample_contexts_follow_its_services() -> None:
    assert _contexts(_propose(SAMPLE)) == SAMPLE_CONTEXTS


def test_sample_has_no_shared_table_and_ignores_the_outbox() -> None:
    proposal = _propose(SAMPLE)
    assert (proposal.shared_tables, proposal.ignored_tables) == ([], ["outbox"])


def test_sample_contexts_are_proposed_with_high_confidence() -> None:
    assert set(_confidence(_propose(SAMPLE)).values()) == {"high"}


# ---------------------------------------------------------------- the blog
def test_blog_users_are_shared_not_the_glue_of_one_context() -> None:
    proposal = _propose(BLOG)
    assert proposal.shared_tables == ["users"]
    assert _contexts(proposal) == BLOG_CONTEXTS_BY_FOREIGN_KEYS


def test_blog_article_context_holding_most_tables_has_low_confidence_and_says_why() -> None:
    article = next(c for c in _propose(BLOG).contexts if c.name == "article")
    assert article.confidence == "low"
    assert any("5 of 8 tables" in why for why in article.evidence)


def test_blog_recorded_writes_split_comments_from_articles() -> None:
    proposal = _propose(BLOG, BLOG_WRITES)
    assert proposal.shared_tables == ["users"]
    assert _contexts(proposal) == BLOG_CONTEXTS_BY_WRITES


def test_blog_contexts_from_recorded_writes_have_high_confidence() -> None:
    assert set(_confidence(_propose(BLOG, BLOG_WRITES)).values()) == {"high"}


# ---------------------------------------------------------------- the multi-tenant SaaS
def test_saas_tenants_and_users_are_shared() -> None:
    proposal = _propose(SAAS)
    assert proposal.shared_tables == ["tenants", "users"]
    assert _contexts(proposal) == SAAS_CONTEXTS_BY_FOREIGN_KEYS


def test_saas_audit_log_written_by_every_transaction_is_shared() -> None:
    proposal = _propose(SAAS, SAAS_WRITES)
    assert proposal.shared_tables == ["audit_log", "tenants", "users"]
    assert _contexts(proposal) == SAAS_CONTEXTS_BY_WRITES


def test_saas_contexts_are_proposed_with_high_confidence() -> None:
    assert set(_confidence(_propose(SAAS)).values()) == {"high"}
