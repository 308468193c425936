-- What people asked and how they voted, the admins' audit log and the feed subscriptions:
-- the tables the embedded store keeps beside the knowledge in its SQLite file.
CREATE TABLE feedback_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE asked (
    id bigserial PRIMARY KEY,
    asked_at timestamptz NOT NULL,
    platform text NOT NULL,
    user_hash text NOT NULL,
    question text NOT NULL,
    found boolean NOT NULL,
    document_ids jsonb NOT NULL,
    passage_ids jsonb NOT NULL,
    best_score real NOT NULL
);
CREATE INDEX asked_at ON asked (asked_at);

CREATE TABLE votes (
    answer_id bigint NOT NULL REFERENCES asked (id) ON DELETE CASCADE,
    user_hash text NOT NULL,
    value smallint NOT NULL CHECK (value IN (-1, 1)),
    voted_at timestamptz NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);

CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    platform text NOT NULL,
    user_id text NOT NULL,
    user_name text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    result text NOT NULL
);

CREATE TABLE feeds (
    url text PRIMARY KEY,
    title text,
    added_by text NOT NULL,
    added_at timestamptz NOT NULL,
    last_polled_at timestamptz,
    last_error text
);

CREATE TABLE feed_entries (
    feed_url text NOT NULL REFERENCES feeds (url) ON DELETE CASCADE,
    entry_url text NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (feed_url, entry_url)
);
