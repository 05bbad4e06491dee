import { z } from "zod";
// Embedded in the compiled binary; source and licence in common-passwords.LICENSE.
import commonList from "./common-passwords.txt" with { type: "text" };

const MIN_PASSWORD_LENGTH = 12;
/** Twelve spaces or "ab12ab12ab12" have the length but not the strength. */
const MIN_DISTINCT_CHARACTERS = 5;

let common: Set<string> | undefined;
/** Built on the first password checked, not at start-up (10,000 entries). */
const commonSet = () => (common ??= new Set(commonList.split("\n").filter(Boolean)));

/**
 * Whether a password is a common one: on the list (case-insensitive), a listed one with digits or
 * symbols added at the end ("password2024!"), or a listed one repeated ("qwertyqwerty"). The list's
 * short entries are what people lengthen to reach the minimum, so these forms are checked too.
 */
export function isCommonPassword(password: string): boolean {
  const p = password.toLowerCase();
  const COMMON = commonSet();
  if (COMMON.has(p)) return true;
  const stem = p.replace(/[\d\W_]+$/u, "");
  if (stem && COMMON.has(stem)) return true;
  for (let len = 1; len <= p.length / 2; len++) {
    if (p.length % len === 0 && p.slice(0, len).repeat(p.length / len) === p && COMMON.has(p.slice(0, len)))
      return true;
  }
  return false;
}

/** Length and the common list: what a password must pass whoever it belongs to. */
export const passwordSchema = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(256, "must be at most 256 characters")
  .refine(
    (p) => p.length < MIN_PASSWORD_LENGTH || new Set(p).size >= MIN_DISTINCT_CHARACTERS,
    `must use at least ${MIN_DISTINCT_CHARACTERS} different characters`,
  )
  .refine((p) => !isCommonPassword(p), "is one of the most common passwords");

/** Why a password is wrong for the account with this email, or null when it is not. */
export function passwordResemblesEmail(password: string, email: string): string | null {
  const p = password.trim().toLowerCase();
  const address = email.trim().toLowerCase();
  if (p === address) return "must not be your email address";
  if (p === address.split("@")[0]) return "must not be the first part of your email address";
  return null;
}
