CREATE TABLE `crm_sync_links` (
	`sync_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`external_id` text,
	`note` text,
	`create_job_id` integer,
	`user_deleted` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`sync_id`, `user_id`),
	FOREIGN KEY (`sync_id`) REFERENCES `crm_syncs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `crm_sync_skips` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sync_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`operation` text NOT NULL,
	`job_id` integer,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`sync_id`) REFERENCES `crm_syncs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `crm_sync_skips_sync_idx` ON `crm_sync_skips` (`sync_id`,`id`);--> statement-breakpoint
CREATE INDEX `crm_sync_skips_user_idx` ON `crm_sync_skips` (`sync_id`,`user_id`,`id`);--> statement-breakpoint
CREATE TABLE `crm_syncs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`auth_type` text DEFAULT 'none' NOT NULL,
	`auth_username` text,
	`auth_secret` text,
	`filter` text NOT NULL,
	`unique_id_path` text DEFAULT '' NOT NULL,
	`create_op` text NOT NULL,
	`update_op` text NOT NULL,
	`delete_op` text NOT NULL,
	`bulk_first_job_id` integer,
	`bulk_last_job_id` integer,
	`bulk_started_at` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
