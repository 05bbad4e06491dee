-- The fixed lookups, with Zammad's ids (as SQLite's 0001_seed_roles and 0003_lookups_and_search).
INSERT INTO "roles" ("id", "name") VALUES (1, 'Admin'), (2, 'Agent'), (3, 'Customer');
--> statement-breakpoint
INSERT INTO "ticket_states" ("id", "name") VALUES (1, 'new'), (2, 'open'), (3, 'pending'), (4, 'closed');
--> statement-breakpoint
INSERT INTO "ticket_priorities" ("id", "name") VALUES (1, '1 low'), (2, '2 normal'), (3, '3 high');
