"""The helpdesk's invariants, on records as the comparators hand them over."""

from __future__ import annotations

import json

from examples.helpdesk.invariants import document_matches_status, one_notice_per_change

RECEIVED = {"template": "ticket_received", "recipient": "riley@customer.example"}
ASSIGNED = {"template": "ticket_assigned", "recipient": "ada@helpdesk.example"}


def test_one_notice_per_change_holds_for_distinct_notices() -> None:
    assert one_notice_per_change([{"notices": [RECEIVED, ASSIGNED]}]) is None


def test_a_notice_sent_twice_is_named() -> None:
    reason = one_notice_per_change([{"notices": json.dumps([RECEIVED, RECEIVED])}])
    assert reason == "sent more than once: ticket_received to riley@customer.example"


def test_a_notice_in_two_records_of_one_ticket_counts_twice() -> None:
    assert one_notice_per_change([{"notices": [RECEIVED]}, {"notices": [RECEIVED]}]) is not None


def test_an_assigned_document_needs_an_assignee() -> None:
    assert document_matches_status([{"status": "assigned", "assignee": None}]) == (
        "assigned without an assignee"
    )


def test_a_resolved_document_holds() -> None:
    assert document_matches_status([{"status": "resolved", "assignee": None}]) is None


def test_two_documents_for_one_ticket_break_it() -> None:
    assert document_matches_status([{"status": "open"}, {"status": "open"}]) == (
        "2 documents for one ticket"
    )
