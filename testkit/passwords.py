"""Accounts without the cost of real password hashing.

Argon2 at the product's parameters costs about 0.2 CPU-seconds per sign-up on this machine: fine
for people, slow for a test that signs up dozens and impossible for a drill that seeds thousands.
Both ways here still go through `accounts.sign_up`, so the rows are the product's own and every
account can log in with its password.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from argon2 import PasswordHasher

from spaces import accounts, migrations
from spaces import db as dbm

PASSWORD = "correct horse"  # noqa: S105 (throwaway accounts in temporary databases)

# The same argon2id, with the smallest costs: the same code path, a fraction of the time.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@contextlib.contextmanager
def hashing_with(hasher) -> Iterator[None]:
    """`accounts` hashes with `hasher` inside the block."""
    real = accounts._hasher
    accounts._hasher = hasher
    try:
        yield
    finally:
        accounts._hasher = real


class _OneHash:
    """Hands out one hash made in advance (at the product's own cost, so logging in later does
    not rehash): thousands of sign-ups for the price of one."""

    def __init__(self, password: str) -> None:
        self.hashed = accounts._hasher.hash(password)

    def hash(self, _password: str) -> str:
        return self.hashed


def seed_accounts(database: Path, names: list[str], password: str = PASSWORD) -> dict[str, int]:
    """Accounts written by the product's own sign-up into the database at `database` (migrated
    first), all with one password hash; answers their ids by name."""
    db = dbm.connect(database)
    migrations.apply(db)
    try:
        with hashing_with(_OneHash(password)):
            return {name: accounts.sign_up(db, name, password)["id"] for name in names}
    finally:
        db.conn.close()
