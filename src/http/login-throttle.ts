import { eq, lte, sql } from "drizzle-orm";
import { isIP } from "node:net";
import { sha256Hex } from "../crypto-tokens";
import { dialectOf, type Db } from "../db/client";
import { loginAttempts } from "../db/schema";

/**
 * Slows down password guessing. Every sign-in attempt is counted before the password is checked, in
 * one transaction, so attempts made in parallel are all counted. Two counters per attempt:
 * - per address and account: a few guesses at one account from one address;
 * - per address: more, for one address trying many accounts.
 * There is deliberately no counter per account alone: anyone could then lock an admin out from
 * anywhere. An admin signing in from their own address is never slowed by an attacker elsewhere.
 */
const WINDOW_MS = 15 * 60_000;
export const MAX_ATTEMPTS_PER_ACCOUNT = 5;
export const MAX_ATTEMPTS_PER_ADDRESS = 20;

const t = loginAttempts;

export class LoginThrottle {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one attempt; the seconds to wait when it is over a limit (refuse it unchecked), else 0. */
  async attempt(address: string, account: string): Promise<number> {
    const now = this.now();
    const counts = await this.db.transaction(
      async (tx) =>
        await Promise.all(
          this.keys(address, account).map(async ([key, limit]) => {
            const expired = sql`${t.expiresAt} <= ${now}`;
            const row = (
              await tx
                .insert(t)
                .values({ key, attempts: 1, expiresAt: now + WINDOW_MS })
                .onConflictDoUpdate({
                  target: t.key,
                  // Both read the row as it was: an ended window starts again at this attempt.
                  set: {
                    attempts: sql`CASE WHEN ${expired} THEN 1 ELSE ${t.attempts} + 1 END`,
                    expiresAt: sql`CASE WHEN ${expired} THEN ${now + WINDOW_MS} ELSE ${t.expiresAt} END`,
                  },
                })
                .returning({ attempts: t.attempts, expiresAt: t.expiresAt })
            )[0]!;
            return { ...row, limit };
          }),
        ),
    );
    const over = counts.filter((c) => c.attempts > c.limit);
    return over.length ? Math.max(...over.map((c) => Math.ceil((c.expiresAt - now) / 1000))) : 0;
  }

  /** A correct password: the account's count starts again, and the attempt does not count against the address. */
  async succeed(address: string, account: string): Promise<void> {
    const [[addressKey], [accountKey]] = this.keys(address, account);
    await this.db.transaction(async (tx) => {
      await tx.delete(t).where(eq(t.key, accountKey));
      await tx
        .update(t)
        .set({ attempts: dialectOf(tx).greatest(sql`${t.attempts} - 1`, 0) })
        .where(eq(t.key, addressKey));
    });
  }

  /** Drops counters whose window has ended; returns how many. */
  async prune(): Promise<number> {
    return await (
      await this.db.transaction(async (tx) =>
        tx.delete(t).where(lte(t.expiresAt, this.now())).returning({ key: t.key }),
      )
    ).length;
  }

  // The account part is hashed: people type passwords into the email field, and it is never shown.
  private keys(client: string, account: string): [[string, number], [string, number]] {
    const address = throttledNetwork(client);
    return [
      [`address:${address}`, MAX_ATTEMPTS_PER_ADDRESS],
      [`account:${sha256Hex(`${address}\n${account}`)}`, MAX_ATTEMPTS_PER_ACCOUNT],
    ];
  }
}

/**
 * What one client is counted as: an IPv4 address, or an IPv6 address's /64, the least a network
 * hands out (RFC 6177), so that rotating through the addresses one owns gains no attempts.
 */
function throttledNetwork(address: string): string {
  const bare = address.split("%")[0]!.toLowerCase();
  if (isIP(bare) !== 6) return address;
  const groups = (part: string) => (part ? part.split(":") : []).flatMap((g) => (g.includes(".") ? ["0", "0"] : [g]));
  const [head, tail] = bare.split("::") as [string, string?];
  const known = [...groups(head), ...(tail === undefined ? [] : groups(tail))].length;
  const full = [...groups(head), ...Array(tail === undefined ? 0 : 8 - known).fill("0"), ...groups(tail ?? "")];
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}
