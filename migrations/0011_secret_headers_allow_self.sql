ALTER TABLE `crm_syncs` ADD `secret_headers_sealed` text;--> statement-breakpoint
ALTER TABLE `crm_syncs` ADD `allow_self` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `secret_headers_sealed` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `allow_self` integer DEFAULT false NOT NULL;