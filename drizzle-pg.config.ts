import { defineConfig } from "drizzle-kit";

/** The PostgreSQL store's schema (the DDL mirror of the SQLite tables) and its migrations. */
export default defineConfig({
  dialect: "postgresql",
  schema: ["./src/db/pg-schema.ts"],
  out: "./migrations-pg",
});
