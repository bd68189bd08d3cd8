-- maestro-db migration 0001 for store "main": the MAESTRO schema (SQLite era, mid-2025).
-- Tables as listed in ../shared/maestro-layout.md. Ids are UUID text except
-- users.id (integer) and documents.id (8 lowercase hex characters).
-- An optional down part follows the line "-- +down".
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  email TEXT,
  hashed_password TEXT NOT NULL,
  full_name TEXT,
  created_at TEXT,
  updated_at TEXT,
  settings JSON,
  is_admin BOOLEAN NOT NULL DEFAULT 0,
  is_active BOOLEAN NOT NULL DEFAULT 1,
  role TEXT DEFAULT 'user',
  user_type TEXT DEFAULT 'individual'
);
CREATE TABLE documents (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  original_filename TEXT NOT NULL,
  metadata_ JSON,
  created_at TEXT,
  updated_at TEXT,
  processing_status TEXT DEFAULT 'pending',
  upload_progress INTEGER DEFAULT 0,
  processing_error TEXT,
  file_size INTEGER,
  file_path TEXT
);
CREATE INDEX ix_documents_user_id ON documents(user_id);
CREATE INDEX ix_documents_status ON documents(processing_status);
CREATE TABLE chats (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  title TEXT,
  created_at TEXT,
  updated_at TEXT,
  chat_type TEXT DEFAULT 'research'
);
CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  chat_id TEXT NOT NULL REFERENCES chats(id),
  content TEXT,
  role TEXT,
  created_at TEXT
);
CREATE TABLE missions (
  id TEXT PRIMARY KEY,
  chat_id TEXT REFERENCES chats(id),
  user_request TEXT,
  status TEXT,
  mission_context JSON,
  error_info TEXT,
  created_at TEXT,
  updated_at TEXT
);
CREATE TABLE mission_execution_logs (
  id TEXT PRIMARY KEY,
  mission_id TEXT REFERENCES missions(id),
  timestamp TEXT,
  agent_name TEXT,
  action TEXT,
  status TEXT,
  input_summary TEXT,
  output_summary TEXT
);
CREATE TABLE document_groups (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  description TEXT,
  created_at TEXT,
  updated_at TEXT
);
CREATE TABLE document_group_association (
  document_id TEXT NOT NULL REFERENCES documents(id),
  document_group_id TEXT NOT NULL REFERENCES document_groups(id),
  PRIMARY KEY (document_id, document_group_id)
);
CREATE TABLE document_processing_jobs (
  id TEXT PRIMARY KEY,
  document_id TEXT REFERENCES documents(id),
  user_id INTEGER REFERENCES users(id),
  job_type TEXT,
  status TEXT,
  progress INTEGER DEFAULT 0,
  error_message TEXT,
  created_at TEXT,
  updated_at TEXT
);
CREATE TABLE writing_sessions (
  id TEXT PRIMARY KEY,
  chat_id TEXT REFERENCES chats(id),
  document_group_id TEXT REFERENCES document_groups(id),
  use_web_search BOOLEAN DEFAULT 0,
  current_draft_id TEXT,
  settings JSON,
  created_at TEXT,
  updated_at TEXT
);
CREATE TABLE drafts (
  id TEXT PRIMARY KEY,
  writing_session_id TEXT REFERENCES writing_sessions(id),
  title TEXT,
  content TEXT,
  version INTEGER DEFAULT 1,
  is_current BOOLEAN DEFAULT 1,
  created_at TEXT,
  updated_at TEXT
);
CREATE TABLE draft_references (
  id TEXT PRIMARY KEY,
  draft_id TEXT REFERENCES drafts(id),
  document_id TEXT REFERENCES documents(id),
  web_url TEXT,
  citation_text TEXT,
  context TEXT,
  created_at TEXT
);
CREATE TABLE writing_session_stats (
  id TEXT PRIMARY KEY,
  user_id INTEGER REFERENCES users(id),
  session_id TEXT,
  total_cost REAL DEFAULT 0,
  total_prompt_tokens INTEGER DEFAULT 0,
  total_completion_tokens INTEGER DEFAULT 0,
  created_at TEXT,
  updated_at TEXT
);
CREATE TABLE system_settings (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  value JSON,
  updated_at TEXT
);
-- +down
DROP TABLE system_settings;
DROP TABLE writing_session_stats;
DROP TABLE draft_references;
DROP TABLE drafts;
DROP TABLE writing_sessions;
DROP TABLE document_processing_jobs;
DROP TABLE document_group_association;
DROP TABLE document_groups;
DROP TABLE mission_execution_logs;
DROP TABLE missions;
DROP TABLE messages;
DROP TABLE chats;
DROP INDEX ix_documents_status;
DROP INDEX ix_documents_user_id;
DROP TABLE documents;
DROP TABLE users;
