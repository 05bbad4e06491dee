-- Ticket lookups with Zammad's ids and names.
INSERT INTO `ticket_states` (`id`, `name`) VALUES (1, 'new'), (2, 'open'), (3, 'pending'), (4, 'closed');
--> statement-breakpoint
INSERT INTO `ticket_priorities` (`id`, `name`) VALUES (1, '1 low'), (2, '2 normal'), (3, '3 high');
--> statement-breakpoint
-- Full-text indexes for search-as-you-type over 1M people: word prefixes of email, names and login.
CREATE VIRTUAL TABLE `users_fts` USING fts5(email, firstname, lastname, login, content='users', content_rowid='id', prefix='2 3');
--> statement-breakpoint
CREATE TRIGGER `users_fts_insert` AFTER INSERT ON `users` BEGIN
  INSERT INTO users_fts(rowid, email, firstname, lastname, login) VALUES (new.id, new.email, new.firstname, new.lastname, new.login);
END;
--> statement-breakpoint
CREATE TRIGGER `users_fts_delete` AFTER DELETE ON `users` BEGIN
  INSERT INTO users_fts(users_fts, rowid, email, firstname, lastname, login) VALUES ('delete', old.id, old.email, old.firstname, old.lastname, old.login);
END;
--> statement-breakpoint
CREATE TRIGGER `users_fts_update` AFTER UPDATE OF email, firstname, lastname, login ON `users` BEGIN
  INSERT INTO users_fts(users_fts, rowid, email, firstname, lastname, login) VALUES ('delete', old.id, old.email, old.firstname, old.lastname, old.login);
  INSERT INTO users_fts(rowid, email, firstname, lastname, login) VALUES (new.id, new.email, new.firstname, new.lastname, new.login);
END;
--> statement-breakpoint
INSERT INTO users_fts(rowid, email, firstname, lastname, login) SELECT id, email, firstname, lastname, login FROM users;
--> statement-breakpoint
CREATE VIRTUAL TABLE `organizations_fts` USING fts5(name, domain, content='organizations', content_rowid='id', prefix='2 3');
--> statement-breakpoint
CREATE TRIGGER `organizations_fts_insert` AFTER INSERT ON `organizations` BEGIN
  INSERT INTO organizations_fts(rowid, name, domain) VALUES (new.id, new.name, new.domain);
END;
--> statement-breakpoint
CREATE TRIGGER `organizations_fts_delete` AFTER DELETE ON `organizations` BEGIN
  INSERT INTO organizations_fts(organizations_fts, rowid, name, domain) VALUES ('delete', old.id, old.name, old.domain);
END;
--> statement-breakpoint
CREATE TRIGGER `organizations_fts_update` AFTER UPDATE OF name, domain ON `organizations` BEGIN
  INSERT INTO organizations_fts(organizations_fts, rowid, name, domain) VALUES ('delete', old.id, old.name, old.domain);
  INSERT INTO organizations_fts(rowid, name, domain) VALUES (new.id, new.name, new.domain);
END;
--> statement-breakpoint
INSERT INTO organizations_fts(rowid, name, domain) SELECT id, name, domain FROM organizations;
