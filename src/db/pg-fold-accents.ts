import { type SQL, sql } from "drizzle-orm";

/**
 * Accents folded as the PostgreSQL search indexes fold them (pg-schema.ts) and as search queries must
 * (pg-search.ts). Its own module so that the server never loads the schema mirror, which only
 * drizzle-kit and the tests read. translate() is immutable (unlike unaccent), so it may serve in a
 * generated column.
 */
export const foldAccents = (text: SQL) =>
  sql`translate(${text}, 'àáâãäåāçćčèéêëēėęìíîïīñńòóôõöøōśšùúûüūýÿžźż', 'aaaaaaaccceeeeeeeiiiiinnooooooossuuuuuyyzzz')`;
