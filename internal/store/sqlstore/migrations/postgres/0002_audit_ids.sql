-- Audit record ids come from a sequence: a counter row in sequences, locked
-- by every change until its transaction committed, made concurrent writers
-- wait for each other's commits (see NextSequence).
CREATE SEQUENCE audit_ids;
SELECT setval('audit_ids', COALESCE((SELECT value FROM sequences WHERE scope = 'audit'), 0) + 1, false);
DELETE FROM sequences WHERE scope = 'audit';
