import { expect, test } from "bun:test";
import { countText } from "../../src/http/admin/lists";

test("a count reads exact up to the cap and as an estimate past it, on the dashboard and the lists alike", () => {
  expect(countText({ count: 0, capped: false })).toBe("0");
  expect(countText({ count: 9_999, capped: false })).toBe("9,999");
  expect(countText({ count: 10_000, capped: true })).toBe("10,000+");
});
