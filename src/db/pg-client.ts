import postgres from "postgres";

/**
 * int8 read as a JS number: our SQLite table objects map ids, counters and millisecond timestamps
 * from numbers (a string would make an invalid Date). Safe: none comes near 2^53.
 */
const int8AsNumber = { to: 20, from: [20], serialize: (n: number) => String(n), parse: (raw: string) => Number(raw) };

/** Connections per node unless told otherwise. */
export const DEFAULT_POOL_SIZE = 10;

/** A postgres.js pool set up the way the PostgreSQL store needs (see docs/architecture.md, "PostgreSQL driver"). */
export function openPostgres(url: string, options: { max?: number; applicationName?: string } = {}) {
  return postgres(url, {
    max: options.max ?? DEFAULT_POOL_SIZE,
    types: { int8: int8AsNumber },
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "switchboard" },
  });
}

export type PostgresClient = ReturnType<typeof openPostgres>;
