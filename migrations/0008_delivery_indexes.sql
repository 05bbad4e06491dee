DROP INDEX `delivery_jobs_status_idx`;--> statement-breakpoint
DROP INDEX `delivery_jobs_ordering_idx`;--> statement-breakpoint
DROP INDEX `delivery_jobs_destination_idx`;--> statement-breakpoint
CREATE INDEX `delivery_jobs_active_idx` ON `delivery_jobs` (`destination`,`status`) WHERE status IN ('pending', 'running');--> statement-breakpoint
CREATE INDEX `delivery_jobs_failed_idx` ON `delivery_jobs` (`destination`,`id`) WHERE status = 'failed';--> statement-breakpoint
CREATE INDEX `delivery_jobs_ordering_idx` ON `delivery_jobs` (`ordering_key`,`id`) WHERE ordering_key IS NOT NULL AND status IN ('pending', 'running');--> statement-breakpoint
CREATE INDEX `delivery_jobs_destination_idx` ON `delivery_jobs` (`destination`,`id`);--> statement-breakpoint
DROP INDEX `http_log_created_idx`;