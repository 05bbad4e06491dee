CREATE TABLE `enrichment_rate_calls` (
	`seq` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `enrichment_rate_calls_at_idx` ON `enrichment_rate_calls` (`at`);