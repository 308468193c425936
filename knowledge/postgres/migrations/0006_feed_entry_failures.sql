-- Feed entries that failed to be added, kept with the subscription: how many times in a row,
-- the last error, and when the entry is next tried (it waits longer after each failure, so an
-- entry that always fails cannot cost a page fetch at every poll). Added or skipped entries
-- leave this table; unsubscribing removes a feed's rows with it.
CREATE TABLE feed_entry_failures (
    feed_url text NOT NULL REFERENCES feeds (url) ON DELETE CASCADE,
    entry_url text NOT NULL,
    failures integer NOT NULL,
    last_error text NOT NULL,
    retry_at timestamptz NOT NULL,
    PRIMARY KEY (feed_url, entry_url)
);
