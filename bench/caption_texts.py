"""What the caption set's synthetic speakers say: two disjoint banks of sentence templates, names
and places, one for the TUNING part and one for the HELD-OUT part, filled by a seeded RNG.

Numbers are written as a caption should show them (digits from 10 up, words below); espeak-ng
reads digits aloud, so the transcript is the text it was given.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Bank:
    names: tuple[str, ...]
    places: tuple[str, ...]
    things: tuple[str, ...]
    templates: tuple[str, ...]


TUNING = Bank(
    names=("Maria", "David", "Priya", "Kenji", "Olga", "Samuel", "Fatima", "Lucas", "Aisha"),
    places=("Lisbon", "Nairobi", "Glasgow", "Osaka", "Toronto", "Valencia", "Dublin", "Lagos"),
    things=(
        "the garden project",
        "the evening radio show",
        "the new library",
        "the bike lane",
        "the school choir",
        "the food market",
        "the repair cafe",
    ),
    templates=(
        "{name} moved to {place} {n2} years ago and still talks about the weather there.",
        "We raised {n4} dollars for {thing} in just {n1} weeks.",
        "Thanks for having me, it is great to be back on the show.",
        "I think {thing} needs more volunteers before the summer.",
        "{name} asked whether {thing} could open on Sunday mornings.",
        "About {n2} percent of the people we asked had never heard of it.",
        "The meeting in {place} starts at {n1} in the evening.",
        "Can you tell us how {thing} got started?",
        "Most of our listeners live within {n2} miles of the station.",
        "{name} and {name2} built the first version in a weekend.",
        "Let me read a question from the audience before we move on.",
        "The tickets cost {n2} dollars and the proceeds go to {thing}.",
        "Honestly I did not expect so many people to turn up.",
        "Our budget last year was {n5} dollars, which is not much.",
        "If you want to help, send a message to {name} after the show.",
        "The train from {place} was {n2} minutes late again.",
        "We counted {n3} bicycles on the bridge this morning.",
        "That is a really good point and I want to come back to it.",
        "My grandmother grew up in {place} and taught me to cook.",
        "In {year} the whole street came together to plant trees.",
        "There were {n2} children in the choir and {n1} teachers.",
        "The next episode will be about {thing} and who runs it.",
        "I have been doing this for about {n2} years now.",
        "Please keep your questions short so that everyone gets a turn.",
    ),
)

HELDOUT = Bank(
    names=("Eleanor", "Rashid", "Chiara", "Bogdan", "Nadia", "Hiroshi", "Wanjiru", "Felix"),
    places=("Helsinki", "Marrakesh", "Winnipeg", "Porto", "Hanoi", "Adelaide", "Krakow", "Quito"),
    things=(
        "the community fridge",
        "the chess club",
        "the night bus",
        "the river cleanup",
        "the open studio",
        "the language cafe",
        "the tool library",
    ),
    templates=(
        "{name} opened {thing} in {place} with {n2} friends.",
        "Every Thursday about {n3} people come by to borrow something.",
        "The river cleanup collected {n4} kilograms of plastic last spring.",
        "I would love to hear what {name} thinks about that.",
        "The flight to {place} took {n2} hours and I slept through most of it.",
        "We started {thing} in {year} with almost no money at all.",
        "Could you say a little more about how the night bus works?",
        "{name} says the rent went up by {n2} percent this year.",
        "It is not perfect, but it is a lot better than nothing.",
        "The hall holds {n3} people, so we had to turn some away.",
        "Somebody left a piano outside {thing} and nobody knows who.",
        "Our first grant was {n5} dollars and it lasted two years.",
        "{name} and {name2} argued about the map for an hour.",
        "I remember the winter in {place} when the harbour froze.",
        "There are {n1} rules, and the first one is to be kind.",
        "The volunteers meet at {n1} on Saturday mornings.",
        "A lot of people do not know that {thing} is free.",
        "We printed {n4} flyers and handed out almost all of them.",
        "Let us take one more call before the news.",
        "The bus from {place} now runs every {n2} minutes.",
        "My neighbour {name} fixes bicycles for anyone who asks.",
        "That was the first time we sold out in {n2} years.",
    ),
)


def number(rng: random.Random, digits: int) -> str:
    """A number as captions show it: words below ten, digits from ten up."""
    words = ("two", "three", "four", "five", "six", "seven", "eight", "nine")
    if digits == 1:
        return rng.choice(words)
    low, high = 10 ** (digits - 1), 10**digits - 1
    value = rng.randint(max(10, low), high)
    return f"{value:,}" if value >= 10_000 else str(value)


def sentence(bank: Bank, rng: random.Random, numbers: bool = False) -> str:
    """One filled template (with `numbers`, one that has a number or a year in it)."""
    name, name2 = rng.sample(bank.names, 2)
    templates = [t for t in bank.templates if not numbers or "{n" in t or "{year" in t]
    return rng.choice(templates).format(
        name=name,
        name2=name2,
        place=rng.choice(bank.places),
        thing=rng.choice(bank.things),
        n1=number(rng, 1),
        n2=number(rng, 2),
        n3=number(rng, 3),
        n4=number(rng, 4),
        n5=number(rng, 5),
        year=rng.randint(1950, 2024),
    )


def sentences(bank: Bank, rng: random.Random, count: int, numbers: bool = False) -> list[str]:
    """`count` sentences, no sentence twice in a row."""
    out: list[str] = []
    while len(out) < count:
        s = sentence(bank, rng, numbers)
        if not out or s != out[-1]:
            out.append(s)
    return out
