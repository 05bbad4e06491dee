CREATE TABLE "enrichment_rate_calls" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "enrichment_rate_calls_at_idx" ON "enrichment_rate_calls" USING btree ("at");