CREATE TABLE "delivery_attempt_counts" (
	"facility" text NOT NULL,
	"period_start" bigint NOT NULL,
	"succeeded" bigint DEFAULT 0 NOT NULL,
	"failed" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "delivery_attempt_counts_facility_period_start_pk" PRIMARY KEY("facility","period_start")
);
