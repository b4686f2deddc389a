"""Finding people: prefix search over usernames and display names, blocked people hidden."""

import pytest

from spaces import accounts, blocks, people


@pytest.fixture
def crowd(make_user):
    return {
        "me": make_user("me"),
        "hana": make_user("hana", display_name="Hana Sato"),
        "hank": make_user("Hank_Hill"),
        "sato": make_user("sato_fan", display_name="Satoshi"),
        "bo": make_user("bo", display_name="Hanako"),
        "under": make_user("h_a"),
    }


def names(db, crowd, query: str) -> list[str]:
    return [p["username"] for p in people.search(db, crowd["me"]["id"], query)]


def test_a_prefix_of_a_username_or_display_name_finds_them_ignoring_case(db, crowd):
    assert names(db, crowd, "han") == ["hana", "Hank_Hill", "bo"]  # usernames, then names
    assert names(db, crowd, "HANK") == ["Hank_Hill"]
    assert names(db, crowd, "sato") == ["sato_fan"]  # display "Hana Sato": not a prefix
    assert names(db, crowd, "  @hana ") == ["hana", "bo"]
    assert names(db, crowd, "ana") == []


def test_the_exact_username_comes_first(db, crowd, make_user):
    make_user("hanabi")
    assert names(db, crowd, "hana")[0] == "hana"
    assert names(db, crowd, "hanab") == ["hanabi"]


def test_wildcards_typed_match_only_themselves(db, crowd):
    assert names(db, crowd, "h_") == ["h_a"]
    assert names(db, crowd, "%") == []
    assert names(db, crowd, "_") == []


def test_blocked_people_are_hidden_both_ways(db, crowd):
    blocks.block(db, crowd["me"]["id"], crowd["hana"]["id"])
    blocks.block(db, crowd["hank"]["id"], crowd["me"]["id"])
    assert names(db, crowd, "han") == ["bo"]


def test_blank_queries_and_system_accounts_find_nobody(db, crowd):
    assert names(db, crowd, "") == [] and names(db, crowd, "   ") == []
    assert names(db, crowd, "spaces") == []  # the moderation notices account


def test_results_carry_what_a_list_shows(db, crowd):
    assert people.search(db, crowd["me"]["id"], "bo") == [
        {"id": crowd["bo"]["id"], "username": "bo", "display_name": "Hanako"}
    ]


def test_display_names_in_any_script_are_found_ignoring_case(db, crowd, make_user):
    make_user("emile", display_name="Émile Zola")
    make_user("strasse", display_name="Straße")
    make_user("olga", display_name="Ольга")
    assert names(db, crowd, "émile") == ["emile"]
    assert names(db, crowd, "ÉMI") == ["emile"]
    assert names(db, crowd, "STRASSE") == ["strasse"]  # casefold: ß is ss
    assert names(db, crowd, "ОЛЬ") == ["olga"]
    assert names(db, crowd, "ль") == []  # a prefix, not anywhere in the name


def test_a_renamed_person_is_found_by_the_new_name_only(db, crowd):
    fields = {"bio": "", "protected": False, "caption_consent": False}
    accounts.update_settings(db, crowd["bo"]["id"], display_name="Ärger", **fields)
    assert names(db, crowd, "ärg") == ["bo"]
    assert names(db, crowd, "hanako") == []


def test_the_search_is_answered_from_indexes(db):
    plan = " ".join(
        row[3]
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM users WHERE"
            " (username COLLATE NOCASE >= 'a' AND username COLLATE NOCASE < 'b')"
            " OR (display_name_fold >= 'a' AND display_name_fold < 'b')"
        )
    )
    assert "users_username" in plan and "users_display_name_fold" in plan, plan
