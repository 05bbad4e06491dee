CREATE TABLE `delivery_destinations` (
	`key` text PRIMARY KEY NOT NULL,
	`concurrency` integer,
	`strict_order` integer DEFAULT false NOT NULL,
	`last_success_at` integer,
	`last_failure_at` integer,
	`last_error` text,
	`failing_since` integer,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`disabled_at` integer,
	`disabled_reason` text,
	`paused_at` integer,
	`paused_until` integer,
	`pause_reason` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `delivery_jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`destination` text NOT NULL,
	`ordering_key` text,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`blocked` integer DEFAULT false NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`failed_attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`run_at` integer NOT NULL,
	`lease_until` integer,
	`delivery_id` text NOT NULL,
	`redelivery_of` integer,
	`last_error` text,
	`last_status` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `delivery_jobs_ready_idx` ON `delivery_jobs` (`destination`,`run_at`,`id`) WHERE status = 'pending' AND blocked = 0;--> statement-breakpoint
CREATE INDEX `delivery_jobs_ordering_idx` ON `delivery_jobs` (`ordering_key`,`id`) WHERE status IN ('pending', 'running');--> statement-breakpoint
CREATE INDEX `delivery_jobs_status_idx` ON `delivery_jobs` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `delivery_jobs_destination_idx` ON `delivery_jobs` (`destination`,`status`);--> statement-breakpoint
CREATE INDEX `delivery_jobs_delivery_id_idx` ON `delivery_jobs` (`delivery_id`);--> statement-breakpoint
CREATE TABLE `http_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`created_at` integer NOT NULL,
	`facility` text NOT NULL,
	`direction` text NOT NULL,
	`method` text NOT NULL,
	`url` text NOT NULL,
	`request_headers` text NOT NULL,
	`request_body` text,
	`response_status` integer,
	`response_headers` text,
	`response_body` text,
	`duration_ms` integer NOT NULL,
	`error` text,
	`attempt` integer,
	`delivery_id` text,
	`job_id` integer,
	`destination` text,
	`size_bytes` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `http_log_created_idx` ON `http_log` (`created_at`);--> statement-breakpoint
CREATE INDEX `http_log_job_idx` ON `http_log` (`job_id`);--> statement-breakpoint
CREATE INDEX `http_log_delivery_idx` ON `http_log` (`delivery_id`);--> statement-breakpoint
CREATE INDEX `http_log_destination_idx` ON `http_log` (`destination`,`id`);--> statement-breakpoint
CREATE INDEX `http_log_facility_idx` ON `http_log` (`facility`,`id`);