-- Each person's searchable words (as users_fts holds them) on the row and in the name index, so a search sorted
-- by name walks that index, checks the words as it goes and stops after a page. A write of email, names or login
-- that does not also write the words leaves them null (a search then asks the full-text index for that row).
-- src/db/fts-words.ts fills the words (migrate.ts runs the data step below; drizzle's migrator reads a no-op
-- SELECT) before the index is rebuilt.
DROP INDEX `users_name_sort_idx`;--> statement-breakpoint
ALTER TABLE `users` ADD `name_words` text;--> statement-breakpoint
SELECT 'data step: users.name_words';--> statement-breakpoint
CREATE TRIGGER `users_name_words_stale` AFTER UPDATE OF email, firstname, lastname, login ON `users`
WHEN new.name_words IS old.name_words BEGIN
  UPDATE users SET name_words = NULL WHERE id = new.id;
END;--> statement-breakpoint
CREATE INDEX `users_name_sort_idx` ON `users` (coalesce("lastname", ''), coalesce("firstname", ''), `id`, `name_words`, `organization_id`);
