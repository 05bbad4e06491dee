DROP INDEX "users_name_sort_idx";--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "name_words" text;--> statement-breakpoint
CREATE INDEX "users_name_sort_idx" ON "users" USING btree (coalesce("lastname", ''),coalesce("firstname", ''),"id","name_words","organization_id");