CREATE TABLE `delivery_attempt_counts` (
	`facility` text NOT NULL,
	`period_start` integer NOT NULL,
	`succeeded` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`facility`, `period_start`)
);
