"""One contract for every claim-check store of dead letters (subclassed by the unit and
integration tiers)."""

from __future__ import annotations

from datetime import UTC, datetime

from shadow.dlq_payloads import DeadLetterPayload, DeadLetterPayloads

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def payload(offset: int = 1348, value: bytes | None = b"v" * 100) -> DeadLetterPayload:
    headers = (("id", b"e-1"), ("empty", None), ("binary", b"\x00\xff"))
    return DeadLetterPayload("shadow.flow", "order", 1, offset, b"o-1", value, headers, T0)


class DeadLetterPayloadsContract:
    """Subclasses provide the ``payloads`` fixture (schema ensured, empty)."""

    def test_a_stored_payload_comes_back_whole(self, payloads: DeadLetterPayloads) -> None:
        kept = payload()
        claim_check = payloads.store(kept)
        assert claim_check == "shadow.flow/order:1@1348"
        got = payloads.get(claim_check)
        assert got == kept
        assert got is not None and got.size == 100

    def test_an_unknown_claim_check_is_none(self, payloads: DeadLetterPayloads) -> None:
        assert payloads.get("shadow.flow/order:1@1") is None

    def test_storing_a_redelivered_record_again_keeps_one_row(
        self, payloads: DeadLetterPayloads
    ) -> None:
        payloads.store(payload(value=b"first"))
        claim_check = payloads.store(payload(value=b"second"))
        got = payloads.get(claim_check)
        assert got is not None and got.value == b"second"
        assert payloads.delete([claim_check, "shadow.flow/order:1@1"]) == 1
        assert payloads.get(claim_check) is None

    def test_a_tombstone_without_key_is_kept(self, payloads: DeadLetterPayloads) -> None:
        kept = DeadLetterPayload("c", "t", 0, 7, None, None, (), T0)
        assert payloads.get(payloads.store(kept)) == kept
        assert kept.size == 0

    def test_ensure_schema_twice_keeps_rows(self, payloads: DeadLetterPayloads) -> None:
        claim_check = payloads.store(payload())
        payloads.ensure_schema()
        assert payloads.get(claim_check) is not None
