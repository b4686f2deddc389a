"""Numbers in captions: shown the way people write them, compared the way people hear them."""

import pytest

from spaces.captions.numbers import show_numbers, spell, spoken_form, unsettled_tail


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (42, "forty two"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (1250, "one thousand two hundred fifty"),
        (1984, "one thousand nine hundred eighty four"),
        (20_000, "twenty thousand"),
        (3_000_017, "three million seventeen"),
    ],
)
def test_spell(n, words):
    assert spell(n) == words


@pytest.mark.parametrize(
    ("caption", "shown"),
    [
        ("forty people came", "40 people came"),
        ("Forty-two people came.", "42 people came."),
        ("we raised one thousand two hundred and fifty dollars", "we raised 1250 dollars"),
        ("twenty thousand", "20,000"),
        ("it took 7 days", "it took seven days"),
        ("seven days", "seven days"),
        ("no one came, not one", "no one came, not one"),
        ("in nineteen eighty four", "in 1984"),
        ("the twenty first time", "the twenty first time"),
        ("ten, twenty, thirty", "10, 20, 30"),
        ("one two three", "one two three"),
        ("rock and roll", "rock and roll"),
        ("a hundred people", "a hundred people"),
        ("the 40 winks", "the 40 winks"),
        ("well-known", "well-known"),
    ],
)
def test_captions_show_numbers_from_ten_in_digits_and_below_in_words(caption, shown):
    assert show_numbers(caption) == shown


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("We raised 40 dollars.", "we raised forty dollars"),
        ("1,250 people", "one thousand two hundred and fifty people"),
        ("17% of them", "seventeen percent of them"),
        ("It cost $5.", "it cost five dollars"),
        ("in 1984", "in nineteen eighty-four"),
        ("the 21st time", "the twenty first time"),
        ("2.5 miles", "two point five miles"),
        ("Don't stop!", "don't stop"),
    ],
)
def test_wer_hears_digits_and_words_alike(a, b):
    assert spoken_form(a) == spoken_form(b)


def test_spoken_form_is_lowercase_words_only():
    assert spoken_form("Maria moved to Lisbon 12 years ago, in 2013.") == (
        "maria moved to lisbon twelve years ago in two thousand thirteen"
    )


@pytest.mark.parametrize(
    ("words", "held"),
    [
        ("we counted forty", 1),
        ("we counted forty two", 2),
        ("we counted forty two bicycles", 0),
        ("it was one hundred and", 3),
        ("it was forty,", 0),
        ("no one", 1),
    ],
)
def test_a_partial_holds_back_a_number_the_next_word_may_change(words, held):
    assert unsettled_tail(words.split()) == held
