-- The lexical column stems each passage by its language, as the embedded BM25 index does
-- (knowledge/stemming.py). English stays exactly as 0005 made it. Russian text goes through
-- PostgreSQL's 'russian' config (Snowball Russian and its stop words for Cyrillic words, the
-- English stemmer for ASCII words). PostgreSQL has no Ukrainian config: crisisbot stems the
-- Cyrillic words in Python (knowledge/ukrainian_stemmer.py) and this config only lower-cases
-- them ('simple'), while ASCII words ("HIMARS", "Biden") still get the English stemmer.
CREATE TEXT SEARCH CONFIGURATION crisisbot_ukrainian (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION crisisbot_ukrainian
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart WITH english_stem;

-- `language`: 'en', 'ru', or 'uk' (then `body` is already stemmed: knowledge/postgres/lexical.py).
CREATE FUNCTION lexical_vector(body text, language text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE language
        WHEN 'ru' THEN to_tsvector('russian'::regconfig, regexp_replace(body, '[!-/:-@[-`{-~]+', ' ', 'g'))
        WHEN 'uk' THEN to_tsvector('crisisbot_ukrainian'::regconfig, regexp_replace(body, '[!-/:-@[-`{-~]+', ' ', 'g'))
        ELSE lexical_vector(body) END $$;

-- Passages with Cyrillic text must be stemmed again, which needs Python (the Ukrainian
-- stemmer): crisisbot does it right after migrating, in one transaction, and then sets this
-- key (knowledge/postgres/lexical.py). A knowledge base without Cyrillic needs nothing.
INSERT INTO meta (key, value)
    SELECT 'lexical_languages', '1'
    WHERE NOT EXISTS (SELECT 1 FROM passages p JOIN documents d ON d.id = p.document_id
                      WHERE d.title ~ '[Ѐ-ӿ]' OR p.text ~ '[Ѐ-ӿ]');
