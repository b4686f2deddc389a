"""The schema, as ordered sqlite-utils migrations. Never change a shipped one: add another."""

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("spaces")


@migrations()
def m001_accounts(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            bio TEXT NOT NULL DEFAULT '',
            protected INTEGER NOT NULL DEFAULT 0,
            caption_consent INTEGER,            -- NULL: never asked, 0: no, 1: yes
            view_captions INTEGER NOT NULL DEFAULT 0,
            is_admin INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX users_username ON users(username COLLATE NOCASE);

        CREATE TABLE api_tokens (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL
        );

        CREATE TABLE follows (
            follower_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            followee_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            PRIMARY KEY (follower_id, followee_id)
        );
        CREATE INDEX follows_followee ON follows(followee_id);

        CREATE TABLE follow_requests (
            requester_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            target_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            PRIMARY KEY (requester_id, target_id)
        );

        CREATE TABLE blocks (
            blocker_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            PRIMARY KEY (blocker_id, blocked_id)
        );

        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            user_a INTEGER NOT NULL REFERENCES users(id),
            user_b INTEGER NOT NULL REFERENCES users(id),
            updated_at REAL NOT NULL,
            UNIQUE (user_a, user_b)
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id),
            sender_id INTEGER NOT NULL REFERENCES users(id),
            body TEXT NOT NULL,
            link TEXT,
            created_at REAL NOT NULL,
            read_at REAL
        );
        CREATE INDEX messages_conversation ON messages(conversation_id, id);

        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            author_id INTEGER NOT NULL REFERENCES users(id),
            body TEXT NOT NULL,
            link TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX posts_author ON posts(author_id, id);
        """,
    )


@migrations()
def m002_spaces(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE spaces (
            id INTEGER PRIMARY KEY,
            host_id INTEGER NOT NULL REFERENCES users(id),
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            speaker_policy TEXT NOT NULL DEFAULT 'everyone',
            created_at REAL NOT NULL,
            ended_at REAL,
            ended_reason TEXT                  -- 'host', 'violation', 'restart', 'host_away'
        );
        CREATE INDEX spaces_live ON spaces(ended_at, host_id);

        -- One row per person who ever joined; role is their current place while present.
        CREATE TABLE participants (
            space_id INTEGER NOT NULL REFERENCES spaces(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            role TEXT NOT NULL,                -- 'host', 'speaker', 'listener'
            present INTEGER NOT NULL DEFAULT 1,
            requested_at REAL,                 -- a pending request to speak
            mic_on INTEGER NOT NULL DEFAULT 0,
            joined_at REAL NOT NULL,
            left_at REAL,
            PRIMARY KEY (space_id, user_id)
        );
        CREATE INDEX participants_live ON participants(space_id, present, role);

        CREATE TABLE space_invites (
            space_id INTEGER NOT NULL REFERENCES spaces(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            created_at REAL NOT NULL,
            PRIMARY KEY (space_id, user_id)
        );

        CREATE TABLE space_removals (
            space_id INTEGER NOT NULL REFERENCES spaces(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            created_at REAL NOT NULL,
            PRIMARY KEY (space_id, user_id)
        );

        CREATE TABLE reports (
            id INTEGER PRIMARY KEY,
            reporter_id INTEGER NOT NULL REFERENCES users(id),
            space_id INTEGER REFERENCES spaces(id),
            account_id INTEGER REFERENCES users(id),
            message_id INTEGER REFERENCES messages(id),
            reason TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'open',
            created_at REAL NOT NULL
        );
        CREATE INDEX reports_state ON reports(state, id);
        """,
    )


@migrations()
def m003_recordings(db: Database) -> None:
    _run(
        db,
        """
        -- One row per recorded part of a Space (a restart starts a new part).
        CREATE TABLE recordings (
            id INTEGER PRIMARY KEY,
            space_id INTEGER NOT NULL REFERENCES spaces(id),
            path TEXT NOT NULL,
            start_offset REAL NOT NULL,       -- seconds since the Space started
            created_at REAL NOT NULL,
            error TEXT
        );
        CREATE INDEX recordings_space ON recordings(space_id)
        """,
    )


@migrations()
def m004_captions_and_moderation(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE captions (
            id INTEGER PRIMARY KEY,
            space_id INTEGER NOT NULL REFERENCES spaces(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            start REAL NOT NULL,              -- seconds since the Space started
            end REAL NOT NULL,
            text TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX captions_space ON captions(space_id, start);

        ALTER TABLE spaces ADD COLUMN violation_at REAL;     -- a violation was found (retention)
        ALTER TABLE spaces ADD COLUMN purged_at REAL;        -- audio and captions are gone

        ALTER TABLE reports ADD COLUMN rule TEXT;
        ALTER TABLE reports ADD COLUMN note TEXT;
        ALTER TABLE reports ADD COLUMN decided_at REAL;
        ALTER TABLE reports ADD COLUMN decided_by INTEGER REFERENCES users(id);
        ALTER TABLE reports ADD COLUMN appeal_text TEXT;
        ALTER TABLE reports ADD COLUMN appealed_at REAL;
        ALTER TABLE reports ADD COLUMN appeal_outcome TEXT;  -- 'upheld', 'overturned'
        ALTER TABLE reports ADD COLUMN appeal_decided_at REAL;

        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor_id INTEGER REFERENCES users(id),
            action TEXT NOT NULL,
            report_id INTEGER REFERENCES reports(id),
            space_id INTEGER REFERENCES spaces(id),
            detail TEXT NOT NULL DEFAULT ''
        );
        ALTER TABLE users ADD COLUMN is_system INTEGER NOT NULL DEFAULT 0
        """,
    )
    # The account that sends moderation notices. "!" is no argon2 hash: nobody can log in as it.
    for name in ("spaces", "spaces_notices", "spaces_team"):
        if not db.execute(
            "SELECT 1 FROM users WHERE username = ? COLLATE NOCASE", (name,)
        ).fetchone():
            db.execute(
                "INSERT INTO users (username, password_hash, display_name, is_system, created_at)"
                " VALUES (?, '!', 'Spaces', 1, 0)",
                (name,),
            )
            break


@migrations()
def m005_stage_turns(db: Database) -> None:
    """Who was on stage and when, kept for review after people leave the stage."""
    _run(
        db,
        """
        -- Each time someone was on stage in a Space (stage_history.py); ended_at NULL: still is.
        CREATE TABLE stage_turns (
            id INTEGER PRIMARY KEY,
            space_id INTEGER NOT NULL REFERENCES spaces(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            started_at REAL NOT NULL,
            ended_at REAL
        );
        CREATE INDEX stage_turns_space ON stage_turns(space_id, ended_at);

        -- What is known of earlier Spaces: each person last on stage, from joining to leaving.
        INSERT INTO stage_turns (space_id, user_id, started_at, ended_at)
        SELECT p.space_id, p.user_id, p.joined_at, COALESCE(p.left_at, s.ended_at)
        FROM participants p JOIN spaces s ON s.id = p.space_id
        WHERE p.role IN ('host', 'speaker')
        """,
    )


@migrations()
def m006_sessions_and_expiring_tokens(db: Database) -> None:
    """Sign-ins become rows that logout and a password change can end; tokens get an id (to be
    revoked by), an expiry and a last use. Tokens from before could not expire: they are retired,
    and the terminal client asks its owner to run `spaces login` again."""
    _run(
        db,
        """
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,         -- sha256 of the random id the cookie holds
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,
            user_agent TEXT NOT NULL DEFAULT ''   -- a summary, "Firefox on Linux"
        );
        CREATE INDEX sessions_user ON sessions(user_id);

        DROP TABLE api_tokens;
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,  -- sha256 of the token the client holds
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            last_used_at REAL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX api_tokens_user ON api_tokens(user_id, created_at)
        """,
    )


@migrations()
def m007_cohosts(db: Database) -> None:
    """Co-hosts (issue 17): a flag on a speaker's participant row. A trigger ends it whenever the
    person stops being a present speaker (moved to listeners, stopped speaking, left, removed, the
    Space ended): every way off the stage ends it, including ways added later, in one place."""
    _run(db, "ALTER TABLE participants ADD COLUMN cohost INTEGER NOT NULL DEFAULT 0")
    # A trigger's body holds semicolons, so it cannot go through _run.
    db.execute(
        """
        CREATE TRIGGER participants_cohost_ends AFTER UPDATE OF role, present ON participants
        WHEN NEW.cohost = 1 AND (NEW.role <> 'speaker' OR NEW.present = 0)
        BEGIN
            UPDATE participants SET cohost = 0
            WHERE space_id = NEW.space_id AND user_id = NEW.user_id;
        END
        """
    )


@migrations()
def m008_pictures_and_pins(db: Database) -> None:
    """Profile pictures (pictures.py) and a post pinned to a live Space (pins.py)."""
    _run(
        db,
        """
        -- The current picture's version, part of its file name and URL; NULL: initials only.
        ALTER TABLE users ADD COLUMN picture_version TEXT;

        -- At most one pinned post per Space; a deleted post takes its pin with it.
        CREATE TABLE space_pins (
            space_id INTEGER PRIMARY KEY REFERENCES spaces(id),
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            pinned_by INTEGER NOT NULL REFERENCES users(id),
            pinned_at REAL NOT NULL
        );
        CREATE INDEX space_pins_post ON space_pins(post_id)
        """,
    )


@migrations()
def m009_schedule_and_notifications(db: Database) -> None:
    """Spaces scheduled for later (a row in `spaces` that is not live until its host starts it,
    so its link stays the same before and after), reminders, and notifications."""
    _run(
        db,
        """
        -- Set while a Space waits to start (UTC seconds); NULL once started, and for Spaces
        -- started at once. A cancelled one keeps it and gets ended_at ('cancelled', 'not_started').
        ALTER TABLE spaces ADD COLUMN scheduled_for REAL;
        -- When its host was told it is due (schedule.due), so they are told once.
        ALTER TABLE spaces ADD COLUMN host_reminded_at REAL;
        CREATE INDEX spaces_scheduled ON spaces(scheduled_for) WHERE scheduled_for IS NOT NULL;

        -- "Tell me when it starts": people waiting for a scheduled Space.
        CREATE TABLE space_reminders (
            space_id INTEGER NOT NULL REFERENCES spaces(id),
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            PRIMARY KEY (space_id, user_id)
        );

        -- 0: no notification when someone you follow starts a Space.
        ALTER TABLE users ADD COLUMN notify_follow_spaces INTEGER NOT NULL DEFAULT 1;

        -- What happened that concerns someone (notifications.py); pruned by notifications.prune.
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            url TEXT NOT NULL,
            created_at REAL NOT NULL,
            read_at REAL
        );
        CREATE INDEX notifications_user ON notifications(user_id, read_at, created_at)
        """,
    )


@migrations()
def m010_guests_and_search(db: Database) -> None:
    """Guest listeners (issue 18): a host may turn them off per Space. People search: names
    folded with Python's `casefold` (SQLite's own case folding knows ASCII only), indexed so a
    prefix search is a range scan; usernames (ASCII) use the existing NOCASE index."""
    _run(
        db,
        """
        ALTER TABLE spaces ADD COLUMN allow_guests INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE users ADD COLUMN display_name_fold TEXT NOT NULL DEFAULT '';
        CREATE INDEX users_display_name_fold ON users(display_name_fold);
        CREATE INDEX IF NOT EXISTS blocks_blocked ON blocks(blocked_id)
        """,
    )
    rows = list(db.execute("SELECT id, display_name FROM users"))
    for user_id, name in rows:
        db.execute(
            "UPDATE users SET display_name_fold = ? WHERE id = ?",
            ((name or "").casefold(), user_id),
        )


def _run(db: Database, script: str) -> None:
    """Statement by statement: `executescript` would commit the migration's transaction early."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            db.execute(statement)


def apply(db: Database) -> None:
    migrations.apply(db)
