"""Three-way field merge: one test per rule."""

from sync.merge import (
    FieldConflict,
    Policy,
    ServerChange,
    ServerState,
    Side,
    merge_delete,
    merge_patch,
)
from sync.ops import Reason, Status

EARLY = "001767225600000-00000-server"
LATE = "001767225700000-00000-phone"
POLICIES = {"note": Policy.NEWEST_STAMP, "status": Policy.SERVER_WINS}


def test_field_unchanged_on_the_server_takes_the_client_value() -> None:
    server = ServerState({"note": "old", "status": "open"})
    outcome = merge_patch(server, {"note": "new"}, {"note": LATE}, POLICIES)
    assert outcome.writes == {"note": "new"}
    assert outcome.conflicts == ()
    assert outcome.status is Status.APPLIED


def test_different_fields_changed_on_both_sides_merge_silently() -> None:
    server = ServerState(
        {"note": "old", "status": "closed"}, changes={"status": ServerChange(EARLY, "open")}
    )
    outcome = merge_patch(server, {"note": "new"}, {"note": LATE}, POLICIES)
    assert outcome.writes == {"note": "new"}
    assert outcome.conflicts == ()
    assert outcome.status is Status.MERGED


def test_same_value_on_both_sides_is_no_conflict() -> None:
    server = ServerState({"note": "same"}, changes={"note": ServerChange(EARLY, "old")})
    outcome = merge_patch(server, {"note": "same"}, {"note": LATE}, POLICIES)
    assert outcome.writes == {}
    assert outcome.conflicts == ()


def test_newest_stamp_policy_lets_the_later_client_edit_win_and_keeps_the_server_value() -> None:
    server = ServerState({"note": "server"}, changes={"note": ServerChange(EARLY, "base")})
    outcome = merge_patch(server, {"note": "client"}, {"note": LATE}, POLICIES)
    assert outcome.writes == {"note": "client"}
    assert outcome.conflicts == (FieldConflict("note", "base", "server", "client", Side.CLIENT),)
    assert outcome.conflicts[0].loser_value == "server"
    assert outcome.status is Status.CONFLICT


def test_newest_stamp_policy_keeps_a_later_server_edit_and_records_the_client_value() -> None:
    server = ServerState({"note": "server"}, changes={"note": ServerChange(LATE, "base")})
    outcome = merge_patch(server, {"note": "client"}, {"note": EARLY}, POLICIES)
    assert outcome.writes == {}
    assert outcome.conflicts[0].winner is Side.SERVER
    assert outcome.conflicts[0].loser_value == "client"


def test_server_wins_policy_keeps_the_server_value_even_against_a_later_client_edit() -> None:
    server = ServerState({"status": "closed"}, changes={"status": ServerChange(EARLY, "open")})
    outcome = merge_patch(server, {"status": "processing"}, {"status": LATE}, POLICIES)
    assert outcome.writes == {}
    assert outcome.conflicts == (
        FieldConflict("status", "open", "closed", "processing", Side.SERVER),
    )


def test_field_without_a_policy_falls_back_to_server_wins() -> None:
    server = ServerState({"name": "A"}, changes={"name": ServerChange(EARLY, "base")})
    outcome = merge_patch(server, {"name": "B"}, {"name": LATE}, POLICIES)
    assert outcome.writes == {}
    assert outcome.conflicts[0].winner is Side.SERVER


def test_edit_against_a_deleted_record_is_a_conflict_not_a_resurrection() -> None:
    server = ServerState({"note": "old"}, deleted=True)
    outcome = merge_patch(server, {"note": "new"}, {"note": LATE}, POLICIES)
    assert outcome.writes == {}
    assert outcome.record_conflict is Reason.UPDATE_VS_DELETE
    assert [c.client_value for c in outcome.conflicts] == ["new"]
    assert outcome.status is Status.CONFLICT


def test_delete_against_an_edited_record_is_a_conflict_not_a_loss() -> None:
    server = ServerState({"note": "edited"}, changes={"note": ServerChange(EARLY, "old")})
    outcome = merge_delete(server)
    assert outcome.record_conflict is Reason.DELETE_VS_UPDATE
    assert outcome.conflicts[0].server_value == {"note": "edited"}
    assert outcome.conflicts[0].client_value == {"deleted": True}


def test_delete_of_an_untouched_record_is_no_conflict() -> None:
    outcome = merge_delete(ServerState({"note": "old"}))
    assert outcome.status is Status.APPLIED
    assert outcome.conflicts == ()


def test_delete_of_a_deleted_record_is_a_no_op() -> None:
    outcome = merge_delete(ServerState({"note": "old"}, deleted=True))
    assert outcome.status is Status.APPLIED
