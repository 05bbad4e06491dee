import { describe, expect, test } from "bun:test";
import { verify as verifyHub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import {
  generateSigningSecret,
  hubSignature,
  hubSignature256,
  isSigningSecret,
  standardSignature,
  standardSignatureHeader,
} from "../../src/webhooks/signatures";

describe("webhook signatures", () => {
  test("the Standard Webhooks test vector", () => {
    const sig = standardSignature(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    );
    expect(sig).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  test("the standardwebhooks package verifies our signatures, also during a rotation", () => {
    const now = Math.floor(Date.now() / 1000);
    const oldSecret = generateSigningSecret();
    const newSecret = generateSigningSecret(64);
    const body = JSON.stringify({ name: 'Zoë "the" \\ O\'Brien\n' });
    const header = standardSignatureHeader([newSecret, oldSecret], "d3b0c442-98fc-4c1b-8f1d-2e3b6a7c8d9e", now, body);
    expect(header.split(" ")).toHaveLength(2);
    const headers = {
      "webhook-id": "d3b0c442-98fc-4c1b-8f1d-2e3b6a7c8d9e",
      "webhook-timestamp": String(now),
      "webhook-signature": header,
    };
    for (const secret of [oldSecret, newSecret])
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(newSecret).verify(body + " ", headers)).toThrow();
  });

  test("@octokit/webhooks-methods verifies X-Hub-Signature-256", async () => {
    const body = '{"ticket":{"title":"Ümlaut ☕"}}';
    expect(await verifyHub("s3cret token", body, hubSignature256("s3cret token", body))).toBe(true);
    expect(await verifyHub("other", body, hubSignature256("s3cret token", body))).toBe(false);
    expect(hubSignature("key", "The quick brown fox jumps over the lazy dog")).toBe(
      "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
    );
  });

  test("generated secrets are whsec_ + base64 of 24–64 bytes", () => {
    for (const n of [24, 32, 64]) {
      const s = generateSigningSecret(n);
      expect(isSigningSecret(s)).toBe(true);
      expect(Buffer.from(s.slice(6), "base64").length).toBe(n);
    }
    expect(() => generateSigningSecret(16)).toThrow();
    expect(isSigningSecret("whsec_c2hvcnQ=")).toBe(false);
    expect(isSigningSecret("sk_nope")).toBe(false);
  });
});
