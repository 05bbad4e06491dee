CREATE TABLE `webhook_trigger_targets` (
	`trigger_id` integer NOT NULL,
	`webhook_id` integer NOT NULL,
	PRIMARY KEY(`trigger_id`, `webhook_id`),
	FOREIGN KEY (`trigger_id`) REFERENCES `webhook_triggers`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`webhook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_trigger_targets_webhook_idx` ON `webhook_trigger_targets` (`webhook_id`);--> statement-breakpoint
CREATE TABLE `webhook_triggers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`events` text NOT NULL,
	`match` text DEFAULT 'all' NOT NULL,
	`conditions` text DEFAULT '[]' NOT NULL,
	`note` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`created_by_id` integer,
	`updated_by_id` integer
);
--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`url` text NOT NULL,
	`method` text DEFAULT 'POST' NOT NULL,
	`signature_token_sealed` text,
	`signing_secret_sealed` text NOT NULL,
	`previous_secret_sealed` text,
	`previous_secret_expires_at` integer,
	`tls_verify` integer DEFAULT true NOT NULL,
	`timeout_seconds` integer DEFAULT 15 NOT NULL,
	`headers` text DEFAULT '{}' NOT NULL,
	`auth_type` text DEFAULT 'none' NOT NULL,
	`auth_username` text,
	`auth_secret_sealed` text,
	`active` integer DEFAULT true NOT NULL,
	`note` text,
	`custom_payload` text,
	`zammad_compat` integer DEFAULT false NOT NULL,
	`strict_order` integer DEFAULT false NOT NULL,
	`max_attempts` integer DEFAULT 5 NOT NULL,
	`retry_base_seconds` integer DEFAULT 30 NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`created_by_id` integer,
	`updated_by_id` integer
);
