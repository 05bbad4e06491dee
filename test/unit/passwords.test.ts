import { describe, expect, test } from "bun:test";
import { isCommonPassword, passwordResemblesEmail, passwordSchema } from "../../src/domain/passwords";
import { DECOY_HASH } from "../../src/domain/admins";

describe("password rules", () => {
  test("the embedded list holds the most common passwords, compared without regard to case", () => {
    for (const p of ["123456", "password", "qwerty123456", "1q2w3e4r5t6y", "QAZWSXEDCRFV", "Sunshine"])
      expect(isCommonPassword(p)).toBe(true);
  });

  test("a listed password with digits or symbols added, or repeated, is common too", () => {
    for (const p of ["password2024!", "Dragon_1987", "monkey12345678", "qwertyqwerty", "abc123abc123abc123"])
      expect(isCommonPassword(p)).toBe(true);
  });

  test("passphrases and random strings are not", () => {
    for (const p of ["correct horse battery", "a long passphrase", "Tr0ub4dor&3-zebra", "2024password"])
      expect(isCommonPassword(p)).toBe(false);
  });

  test("the schema wants 12 to 256 characters and nothing common", () => {
    const issues = (p: string) => (passwordSchema.safeParse(p).error?.issues ?? []).map((i) => i.message);
    expect(issues("elevenchars")).toEqual(["must be at least 12 characters"]);
    expect(issues("twelve chars")).toEqual([]);
    expect(issues("x".repeat(257))).toContain("must be at most 256 characters");
    expect(issues("x")).toEqual(["must be at least 12 characters"]);
    expect(issues("iloveyou1234")).toEqual(["is one of the most common passwords"]);
  });

  test("twelve spaces, one repeated character or a short pattern are refused: they are length without strength", () => {
    const issues = (p: string) => (passwordSchema.safeParse(p).error?.issues ?? []).map((i) => i.message);
    const few = "must use at least 5 different characters";
    expect(issues(" ".repeat(12))).toEqual([few]);
    expect(issues("zzzzzzzzzzzzzz")).toEqual([few]);
    expect(issues("🙂".repeat(12))).toEqual([few]);
    expect(issues("ab12ab12ab12")).toEqual([few]);
    expect(issues("tram kite 47!")).toEqual([]);
  });

  test("the account's email, or its part before @, is refused whatever the case", () => {
    expect(passwordResemblesEmail("Ada.Admin@Example.com", "ada.admin@example.com")).toBe(
      "must not be your email address",
    );
    expect(passwordResemblesEmail("ADA.ADMIN.LOVELACE", "ada.admin.lovelace@example.com")).toBe(
      "must not be the first part of your email address",
    );
    expect(passwordResemblesEmail("ada.admin@example.org", "ada.admin@example.com")).toBeNull();
  });
});

describe("the decoy hash an unknown email is checked against", () => {
  test("is argon2id with the parameters of a hash made now, so both paths cost the same, and matches nothing", async () => {
    const params = (hash: string) => hash.split("$").slice(1, 4).join("$");
    const fresh = await Bun.password.hash("any password at all", { algorithm: "argon2id" });
    expect(params(DECOY_HASH)).toBe(params(fresh));
    expect(params(DECOY_HASH)).toStartWith("argon2id$");
    expect(await Bun.password.verify("decoy-password-never-matches!", DECOY_HASH)).toBe(false);
  });
});
