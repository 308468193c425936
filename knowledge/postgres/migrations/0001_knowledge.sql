-- The knowledge base: documents, their passages with vectors (pgvector, cosine HNSW) and the
-- text-search vectors of the lexical half of hybrid retrieval. The same columns as the embedded
-- SQLite store, so `crisisbot migrate --from-sqlite` copies rows without re-embedding.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- Moves on every write to documents or passages; processes compare it to know they are stale.
CREATE SEQUENCE knowledge_generation;

CREATE TABLE documents (
    id text PRIMARY KEY,
    title text NOT NULL,
    url text,
    publisher text,
    kind text NOT NULL,
    published text CHECK (published ~ '^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$'),  -- may be partial
    language text NOT NULL,
    added_by text NOT NULL,
    added_at timestamptz NOT NULL,
    sha256 text NOT NULL UNIQUE,
    text text NOT NULL
);
CREATE UNIQUE INDEX documents_url ON documents (url) WHERE url IS NOT NULL;
CREATE INDEX documents_published ON documents (published);
CREATE INDEX documents_added_at ON documents (added_at);

-- all-MiniLM-L6-v2 gives 384 dimensions; another model is a new migration and a reindex.
CREATE TABLE passages (
    id bigserial PRIMARY KEY,
    document_id text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    start_offset integer NOT NULL,
    end_offset integer NOT NULL,
    text text NOT NULL,
    embedding vector(384) NOT NULL,
    -- the document's title and the passage's text, as the BM25 half of the embedded store reads them
    lexical tsvector NOT NULL,
    UNIQUE (document_id, ordinal),
    CHECK (start_offset <= end_offset)
);
CREATE INDEX passages_document ON passages (document_id);
CREATE INDEX passages_embedding ON passages USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX passages_lexical ON passages USING gin (lexical);
