-- Issue 10: administrators, their tokens and /setup. Data only; no schema change.
-- /setup opens only on a database that never had an administrator. Any person means one existed
-- (people are made only by admins, their API tokens or their write keys), so such a database is set up.
INSERT INTO `settings` (`key`, `value`, `updated_at`)
SELECT 'admin.first_created_at', (SELECT min(`created_at`) FROM `users`), cast(unixepoch('subsec') * 1000 as integer)
WHERE EXISTS (SELECT 1 FROM `users`);
--> statement-breakpoint
-- An API token belongs to an admin and dies with them: tokens of people who are no longer admins are
-- revoked, and so are ownerless ones (created_by_id was set NULL only when their maker was deleted).
UPDATE `api_tokens` SET `revoked_at` = cast(unixepoch('subsec') * 1000 as integer)
WHERE `revoked_at` IS NULL
  AND (`created_by_id` IS NULL OR `created_by_id` NOT IN (SELECT `user_id` FROM `user_roles` WHERE `role_id` = 1));
--> statement-breakpoint
-- A person always has a role: anyone left without one (role_ids: [] was accepted) becomes a customer.
INSERT INTO `user_roles` (`user_id`, `role_id`)
SELECT `id`, 3 FROM `users` WHERE `id` NOT IN (SELECT `user_id` FROM `user_roles`);
