-- Search by email domain ("@acme", "acme.com") without splitting addresses into words (hand-corrected: drizzle-kit splits the expression at its commas).
CREATE INDEX `users_email_domain_idx` ON `users` (substr("email", instr("email", '@') + 1));
