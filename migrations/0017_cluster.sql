CREATE TABLE `nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`address` text NOT NULL,
	`version` text NOT NULL,
	`started_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`stopped_at` integer,
	`activity` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `nodes_last_seen_idx` ON `nodes` (`last_seen_at`);--> statement-breakpoint
CREATE TABLE `page_state` (
	`key` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`page` text NOT NULL,
	`data` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `page_state_expires_idx` ON `page_state` (`kind`,`expires_at`);--> statement-breakpoint
CREATE TABLE `pending_upload_chunks` (
	`upload_id` text NOT NULL,
	`seq` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`upload_id`, `seq`),
	FOREIGN KEY (`upload_id`) REFERENCES `pending_uploads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `pending_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`user_id` integer NOT NULL,
	`bytes` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `pending_uploads_expires_idx` ON `pending_uploads` (`expires_at`);--> statement-breakpoint
CREATE TABLE `schedule_runs` (
	`schedule` text NOT NULL,
	`period_start` integer NOT NULL,
	`node_id` text NOT NULL,
	`started_at` integer NOT NULL,
	`lease_until` integer NOT NULL,
	`finished_at` integer,
	`outcome` text NOT NULL,
	`error` text,
	`attempts` integer DEFAULT 1 NOT NULL,
	PRIMARY KEY(`schedule`, `period_start`)
);
--> statement-breakpoint
CREATE INDEX `schedule_runs_running_idx` ON `schedule_runs` (`outcome`,`lease_until`);--> statement-breakpoint
CREATE INDEX `schedule_runs_started_idx` ON `schedule_runs` (`started_at`);