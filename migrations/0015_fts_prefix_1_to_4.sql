-- Prefix indexes for 1- and 4-letter search words too ("j", "thom"): without one, FTS5 merges every matching
-- word's list before the first row, so a count stopped at its cap still read all 260,000 "j" rows at 1M people.
-- The users_fts_* triggers keep writing into the rebuilt tables (they name them, not their options).
DROP TABLE `users_fts`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `users_fts` USING fts5(email, firstname, lastname, login, content='users', content_rowid='id', prefix='1 2 3 4');
--> statement-breakpoint
INSERT INTO `users_fts`(`users_fts`) VALUES ('rebuild');
--> statement-breakpoint
DROP TABLE `organizations_fts`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `organizations_fts` USING fts5(name, domain, content='organizations', content_rowid='id', prefix='1 2 3 4');
--> statement-breakpoint
INSERT INTO `organizations_fts`(`organizations_fts`) VALUES ('rebuild');
