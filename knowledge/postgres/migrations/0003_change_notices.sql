-- Several bot processes share one database: each write to the knowledge moves the generation
-- and tells every listening process (LISTEN crisisbot_knowledge), which then reloads what it
-- caches (the lexical index, the dense scale) instead of answering from stale state.
CREATE FUNCTION notify_knowledge_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('crisisbot_knowledge', nextval('knowledge_generation')::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER documents_changed AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION notify_knowledge_change();
CREATE TRIGGER passages_changed AFTER INSERT OR UPDATE OR DELETE ON passages
    FOR EACH STATEMENT EXECUTE FUNCTION notify_knowledge_change();
