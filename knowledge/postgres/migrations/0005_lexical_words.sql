-- The lexical half reads words as the embedded BM25 index does: split at every ASCII
-- punctuation mark, so the words of a link, a hyphenated name or leftover markup count
-- ("elizabeth-holmes-verdict" in a URL is three words). PostgreSQL's English parser alone keeps
-- a URL, a host or a hyphenated word as one token, and on realtimeqa-dev that left the hybrid
-- below the dense half alone (README, "PostgreSQL"). The same function builds the passages'
-- vectors (title and text) and the question's, so both are read alike. Only ASCII marks are
-- replaced: the database's locale then cannot change which letters count (Cyrillic stays).
CREATE FUNCTION lexical_vector(body text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_tsvector('english'::regconfig, regexp_replace(body, '[!-/:-@[-`{-~]+', ' ', 'g')) $$;

-- Only when there is something to update: the statement would move the generation even then.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM passages) THEN
        UPDATE passages p SET lexical = lexical_vector(d.title || ' ' || p.text)
            FROM documents d WHERE d.id = p.document_id;
    END IF;
END;
$$;
