-- maestro-db migration 0001 for store "ai": the AI researcher's metadata database.
CREATE TABLE processed_documents (
  doc_id TEXT PRIMARY KEY,
  original_filename TEXT NOT NULL UNIQUE,
  processing_timestamp TEXT,
  metadata_json TEXT
);
-- +down
DROP TABLE processed_documents;
