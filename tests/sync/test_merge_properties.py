"""Properties of the field merge over random records and edits."""

import random

from hypothesis import given
from hypothesis import strategies as st

from sync.merge import Policy, ServerChange, ServerState, Side, merge_patch
from sync.ops import JSON

Scenario = tuple[ServerState, dict[str, JSON], dict[str, str]]

NAMES = ["a", "b", "c", "d"]
values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["x", "y"]))
stamps = st.integers(0, 5).map(lambda n: f"{n:015d}-00000-node")
policies = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(list(Policy)))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    current = draw(st.fixed_dictionaries(dict.fromkeys(NAMES, values)))
    changed = draw(st.lists(st.sampled_from(NAMES), unique=True))
    changes = {n: ServerChange(draw(stamps), draw(values)) for n in changed}
    client = draw(st.dictionaries(st.sampled_from(NAMES), values))
    client_stamps = {n: draw(stamps) for n in client}
    return ServerState(current, changes=changes), client, client_stamps


@given(scenarios(), policies)
def test_merge_never_drops_a_client_value_without_a_conflict_record(
    scenario: Scenario, table: dict[str, Policy]
) -> None:
    server, client, client_stamps = scenario
    outcome = merge_patch(server, client, client_stamps, table)
    recorded = {c.field: c for c in outcome.conflicts}
    for name, value in client.items():
        kept = outcome.writes.get(name, server.values[name]) == value
        assert kept or recorded[name].client_value == value


@given(scenarios(), policies)
def test_merge_never_drops_a_concurrent_server_value_without_a_conflict_record(
    scenario: Scenario, table: dict[str, Policy]
) -> None:
    server, client, client_stamps = scenario
    outcome = merge_patch(server, client, client_stamps, table)
    recorded = {c.field: c for c in outcome.conflicts}
    for name in server.changes:
        kept = outcome.writes.get(name, server.values[name]) == server.values[name]
        assert kept or recorded[name].server_value == server.values[name]


@given(scenarios(), policies)
def test_every_conflict_keeps_its_losing_value(
    scenario: Scenario, table: dict[str, Policy]
) -> None:
    server, client, client_stamps = scenario
    for conflict in merge_patch(server, client, client_stamps, table).conflicts:
        assert conflict.server_value != conflict.client_value
        server_won = conflict.winner is Side.SERVER
        standing = conflict.server_value if server_won else conflict.client_value
        assert {standing, conflict.loser_value} == {conflict.server_value, conflict.client_value}


@given(scenarios(), policies, st.randoms())
def test_merge_is_deterministic_whatever_the_field_order(
    scenario: Scenario,
    table: dict[str, Policy],
    rnd: random.Random,
) -> None:
    server, client, client_stamps = scenario
    names = list(client)
    rnd.shuffle(names)
    shuffled = {n: client[n] for n in names}
    assert merge_patch(server, client, client_stamps, table) == merge_patch(
        server, shuffled, client_stamps, table
    )


@given(scenarios(), policies)
def test_client_equal_to_server_is_a_no_op(scenario: Scenario, table: dict[str, Policy]) -> None:
    server, client, client_stamps = scenario
    same = {n: server.values[n] for n in client}
    outcome = merge_patch(server, same, client_stamps, table)
    assert outcome.writes == {}
    assert outcome.conflicts == ()


@given(scenarios(), policies)
def test_fields_the_server_did_not_touch_take_the_client_value(
    scenario: Scenario, table: dict[str, Policy]
) -> None:
    server, client, client_stamps = scenario
    outcome = merge_patch(server, client, client_stamps, table)
    for name, value in client.items():
        if name not in server.changes and value != server.values[name]:
            assert outcome.writes[name] == value
