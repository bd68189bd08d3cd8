-- maestro-db migration 0002 for store "main": indexes later MAESTRO versions added
-- for the chat list and the mission log views (lookups by owner / parent id).
-- Indexes only: no table or column changes, so older app versions still run.
CREATE INDEX IF NOT EXISTS ix_chats_user_id ON chats(user_id);
CREATE INDEX IF NOT EXISTS ix_messages_chat_id ON messages(chat_id);
CREATE INDEX IF NOT EXISTS ix_mission_execution_logs_mission_id ON mission_execution_logs(mission_id);
-- +down
DROP INDEX IF EXISTS ix_mission_execution_logs_mission_id;
DROP INDEX IF EXISTS ix_messages_chat_id;
DROP INDEX IF EXISTS ix_chats_user_id;
