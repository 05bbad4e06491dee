import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: ["./src/db/schema.ts", "./src/delivery/schema.ts", "./src/enrichment/schema.ts", "./src/crm-sync/schema.ts", "./src/webhooks/schema.ts"],
  out: "./migrations",
});
