CREATE TABLE `audience_members` (
	`audience_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	PRIMARY KEY(`audience_id`, `user_id`),
	FOREIGN KEY (`audience_id`) REFERENCES `audiences`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `audience_members_user_idx` ON `audience_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `audiences` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`key` text NOT NULL,
	`match` text DEFAULT 'all' NOT NULL,
	`conditions` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audiences_key_unique` ON `audiences` (`key`);--> statement-breakpoint
CREATE TABLE `enrichment_lookups` (
	`email` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`requested_at` integer NOT NULL,
	`checked_at` integer,
	`unknown_until` integer,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `enrichment_lookups_requested_idx` ON `enrichment_lookups` (`requested_at`);--> statement-breakpoint
CREATE TABLE `user_enrichments` (
	`user_id` integer PRIMARY KEY NOT NULL,
	`provider` text DEFAULT 'clearbit' NOT NULL,
	`email` text NOT NULL,
	`person` text,
	`company` text,
	`checked_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
