"""Op and result shapes: JSON round trips and the payload hash."""

import uuid

from sync.ops import Flag, Op, OpKind, OpResult, Reason, Status, payload_hash

OP = Op(
    op_id=uuid.UUID("0190f5a0-0000-7000-8000-000000000001"),
    record_type="note",
    record_id=uuid.UUID("0190f5a0-0000-7000-8000-0000000000aa"),
    kind=OpKind.PATCH,
    stamp="001767225600000-00000-phone",
    base_version=3,
    fields={"title": "a", "count": 2},
    stamps={"title": "001767225600000-00001-phone"},
)


def test_op_survives_a_json_round_trip() -> None:
    assert Op.from_json(OP.to_json()) == OP


def test_payload_hash_ignores_key_order() -> None:
    reordered = Op.from_json({**OP.to_json(), "fields": {"count": 2, "title": "a"}})
    assert payload_hash(reordered) == payload_hash(OP)


def test_payload_hash_changes_with_a_field_value() -> None:
    changed = Op.from_json({**OP.to_json(), "fields": {"title": "b", "count": 2}})
    assert payload_hash(changed) != payload_hash(OP)


def test_field_without_its_own_stamp_uses_the_op_stamp() -> None:
    assert OP.field_stamp("count") == OP.stamp
    assert OP.field_stamp("title") == "001767225600000-00001-phone"


def test_result_survives_a_json_round_trip() -> None:
    result = OpResult(
        op_id=OP.op_id,
        status=Status.CONFLICT,
        version=4,
        reason=Reason.FIELD_CONFLICT,
        field_errors={"title": ["too long"]},
        current={"title": "x"},
        conflict_ids=(uuid.uuid4(),),
        flags=(Flag.CLOCK_CLAMPED,),
    )
    assert OpResult.from_json(result.to_json()) == result


def test_an_applied_results_receipt_is_its_status_and_version() -> None:
    result = OpResult(op_id=OP.op_id, status=Status.APPLIED, version=1)
    assert result.receipt() == {"status": "applied", "version": 1}
    assert OpResult.from_receipt(OP.op_id, result.receipt()) == result


def test_a_receipt_keeps_every_member_that_differs_from_its_default() -> None:
    result = OpResult(
        op_id=OP.op_id,
        status=Status.REJECTED,
        reason=Reason.INVALID_FIELDS,
        field_errors={"title": ["too long"]},
        current={"title": "x"},
        conflict_ids=(uuid.uuid4(),),
        flags=(Flag.POSSIBLE_DUPLICATE,),
        existing_id=uuid.uuid4(),
        candidate_ids=(uuid.uuid4(),),
    )
    assert "op_id" not in result.receipt()
    assert OpResult.from_receipt(OP.op_id, result.receipt()) == result


def test_a_receipt_stored_whole_still_rebuilds_its_result() -> None:
    result = OpResult(op_id=OP.op_id, status=Status.MERGED, version=5, current={"title": "y"})
    assert OpResult.from_receipt(OP.op_id, result.to_json()) == result
