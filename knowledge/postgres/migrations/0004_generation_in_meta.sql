-- The generation moves inside the writing transaction, as the embedded store's does.
--
-- 0003 took it from a sequence, and nextval moves at once, before the write commits: a process
-- reading in that moment saw the new generation with the old rows, cached them under it, and
-- would not have looked again. Kept in `meta` ('generation'), the new value becomes visible
-- with the rows it describes, and the notification is delivered only at commit. It moves once
-- per transaction that changes the knowledge, as the embedded store's moves once per write. The trigger
-- covers every write to the knowledge (the bot's, a migration's, an operator's by hand).
CREATE OR REPLACE FUNCTION notify_knowledge_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    generation bigint;
BEGIN
    -- Once per transaction, however many statements it runs: one change, one step.
    IF current_setting('crisisbot.generation_moved_in', true) = txid_current()::text THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('crisisbot.generation_moved_in', txid_current()::text, true);
    INSERT INTO meta (key, value) VALUES ('generation', '1')
        ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text
        RETURNING value::bigint INTO generation;
    PERFORM pg_notify('crisisbot_knowledge', generation::text);
    RETURN NULL;
END;
$$;

DROP SEQUENCE knowledge_generation;
