CREATE TABLE "nodes" (
	"id" text PRIMARY KEY NOT NULL,
	"address" text NOT NULL,
	"version" text NOT NULL,
	"started_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL,
	"stopped_at" bigint,
	"activity" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "page_state" (
	"key" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"page" text NOT NULL,
	"data" text NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pending_upload_chunks" (
	"upload_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"data" "bytea" NOT NULL,
	CONSTRAINT "pending_upload_chunks_upload_id_seq_pk" PRIMARY KEY("upload_id","seq")
);
--> statement-breakpoint
CREATE TABLE "pending_uploads" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"user_id" bigint NOT NULL,
	"bytes" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "schedule_runs" (
	"schedule" text NOT NULL,
	"period_start" bigint NOT NULL,
	"node_id" text NOT NULL,
	"started_at" bigint NOT NULL,
	"lease_until" bigint NOT NULL,
	"finished_at" bigint,
	"outcome" text NOT NULL,
	"error" text,
	"attempts" bigint DEFAULT 1 NOT NULL,
	CONSTRAINT "schedule_runs_schedule_period_start_pk" PRIMARY KEY("schedule","period_start")
);
--> statement-breakpoint
ALTER TABLE "pending_upload_chunks" ADD CONSTRAINT "pending_upload_chunks_upload_id_pending_uploads_id_fk" FOREIGN KEY ("upload_id") REFERENCES "public"."pending_uploads"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pending_uploads" ADD CONSTRAINT "pending_uploads_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "nodes_last_seen_idx" ON "nodes" USING btree ("last_seen_at");--> statement-breakpoint
CREATE INDEX "page_state_expires_idx" ON "page_state" USING btree ("kind","expires_at");--> statement-breakpoint
CREATE INDEX "pending_uploads_expires_idx" ON "pending_uploads" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "schedule_runs_running_idx" ON "schedule_runs" USING btree ("outcome","lease_until");--> statement-breakpoint
CREATE INDEX "schedule_runs_started_idx" ON "schedule_runs" USING btree ("started_at");