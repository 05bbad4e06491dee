import { createHmac } from "node:crypto";

/**
 * A Clearbit-compatible provider on 127.0.0.1 speaking the Enrichment API v2 contract:
 * GET /v2/combined/find?email= (person and company, either may be null), GET /v2/companies/find?domain=,
 * the same under /stream (blocks until ready, never 202), Bearer sk_ keys, error bodies
 * {"error":{"type","message"}}, 202 queued then 200 with a signed webhook callback, 404, 401, 402,
 * 422, 429 with rate-limit headers. It counts every call.
 */
export type Person = Record<string, unknown>;
export type Company = Record<string, unknown>;
type Behaviour =
  | { kind: "found"; person: Person | null; company: Company | null }
  | { kind: "unknown" }
  /**
   * 202 for the first `times` asks (and a signed callback after
   * `callbackAfterMs` when a webhook_url is given), then 200.
   */
  | {
      kind: "queued";
      person: Person | null;
      company: Company | null;
      times?: number;
      callbackAfterMs?: number;
      retryAfterSeconds?: number;
    }
  | { kind: "status"; status: 402 | 422 | 500 | 503; type: string; message: string };

type FakeCall = {
  path: string;
  email: string | null;
  domain: string | null;
  auth: string | null;
  at: number;
  status: number;
};

export function makeCompany(domain: string, overrides: Partial<Company> = {}): Company {
  const base = domain.split(".")[0]!;
  const name = base[0]!.toUpperCase() + base.slice(1);
  return {
    id: `c-${base}`,
    name,
    legalName: `${name} Inc.`,
    domain,
    domainAliases: [`${base}.io`],
    site: {
      url: `https://${domain}`,
      title: name,
      phoneNumbers: ["+1 415-555-0100"],
      emailAddresses: [`hello@${domain}`],
    },
    category: {
      sector: "Information Technology",
      industryGroup: "Software & Services",
      industry: "Internet Software & Services",
      subIndustry: "Internet Software & Services",
      sicCode: "73",
      naicsCode: "51",
    },
    tags: ["Technology", "SAAS", "B2B"],
    description: `${name} makes software.`,
    foundedYear: 2008,
    location: "90 Sheridan St, San Francisco, CA 94103, USA",
    timeZone: "America/Los_Angeles",
    utcOffset: -8,
    geo: {
      streetNumber: "90",
      streetName: "Sheridan St",
      city: "San Francisco",
      postalCode: "94103",
      state: "California",
      stateCode: "CA",
      country: "United States",
      countryCode: "US",
      lat: 37.77,
      lng: -122.41,
    },
    logo: `https://logo.clearbit.com/${domain}`,
    facebook: { handle: base },
    linkedin: { handle: `company/${base}` },
    twitter: { handle: base, id: "1234", followers: 5000 },
    crunchbase: { handle: `organization/${base}` },
    emailProvider: false,
    type: "private",
    ticker: null,
    identifiers: { usEIN: "12-3456789" },
    phone: "+1 415-555-0100",
    metrics: {
      alexaUsRank: 1000,
      alexaGlobalRank: 3000,
      employees: 250,
      employeesRange: "251-1K",
      marketCap: null,
      raised: 25_000_000,
      annualRevenue: 40_000_000,
      estimatedAnnualRevenue: "$10M-$50M",
      fiscalYearEnd: 12,
    },
    indexedAt: "2024-01-01T00:00:00.000Z",
    tech: ["google_apps", "stripe", "segment"],
    techCategories: ["email_delivery_service", "payment"],
    parent: { domain: null },
    ultimateParent: { domain: null },
    ...overrides,
  };
}

export function makePerson(email: string, overrides: Partial<Person> = {}): Person {
  const [local, domain] = email.split("@") as [string, string];
  const [given, family = "Doe"] = local.split(/[._]/);
  const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);
  return {
    id: `p-${local}`,
    name: { fullName: `${cap(given!)} ${cap(family)}`, givenName: cap(given!), familyName: cap(family) },
    email,
    location: "San Francisco, CA, US",
    timeZone: "America/Los_Angeles",
    utcOffset: -8,
    geo: {
      city: "San Francisco",
      state: "California",
      stateCode: "CA",
      country: "United States",
      countryCode: "US",
      lat: 37.77,
      lng: -122.41,
    },
    bio: `${cap(given!)} builds things.`,
    site: `https://${given}.example.org`,
    avatar: `https://avatars.example.org/${local}.png`,
    employment: {
      domain,
      name: cap(domain.split(".")[0]!),
      title: "Head of Growth",
      role: "marketing",
      subRole: "growth",
      seniority: "director",
    },
    facebook: { handle: null },
    github: { handle: given, id: 1, avatar: null, company: null, blog: null, followers: 10, following: 2 },
    twitter: {
      handle: given,
      id: "99",
      bio: null,
      followers: 100,
      following: 50,
      statuses: 10,
      favorites: 1,
      location: null,
      site: null,
      avatar: null,
    },
    linkedin: { handle: `in/${given}` },
    googleplus: { handle: null },
    gravatar: { handle: null, urls: [], avatar: null, avatars: [] },
    fuzzy: false,
    emailProvider: false,
    indexedAt: "2024-01-01T00:00:00.000Z",
    ...overrides,
  };
}

export type FakeClearbit = {
  url: string;
  /** Base URL of the streaming host (same server, /stream prefix). */
  streamUrl: string;
  key: string;
  calls: FakeCall[];
  /** Scripted answer for an email (default: found, with a person and a company made from the email). */
  set(email: string, behaviour: Behaviour): void;
  /** Answer for emails not set explicitly: "found" (default) or "unknown". */
  setDefault(kind: "found" | "unknown"): void;
  /** Requests allowed per window before 429 (default: unlimited). */
  setRateLimit(limit: number | null, windowMs?: number): void;
  /** Every call answers this status (e.g. 401, 402) until cleared with null. */
  failAll(status: number | null): void;
  callsFor(email: string): number;
  callbacks: { url: string; status: number }[];
  /**
   * Callbacks to `publicOrigin` are delivered to `reachableOrigin`, as a reverse proxy in front of the appliance would.
   */
  routeCallbacks(publicOrigin: string, reachableOrigin: string): void;
  stop(): Promise<void>;
};

const errorBody = (type: string, message: string) => JSON.stringify({ error: { type, message } });

export function startFakeClearbit(opts: { key?: string } = {}): FakeClearbit {
  const key = opts.key ?? "sk_test_fake_clearbit_key_0123456789";
  const behaviours = new Map<string, Behaviour>();
  const asked = new Map<string, number>();
  const calls: FakeCall[] = [];
  const callbacks: { url: string; status: number }[] = [];
  let defaultKind: "found" | "unknown" = "found";
  let rate: { limit: number; windowMs: number } | null = null;
  let failStatus: number | null = null;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const sign = (body: string) => "sha1=" + createHmac("sha1", key.replace(/^sk_/, "")).update(body).digest("hex");

  const behaviourOf = (email: string): Behaviour => {
    const b = behaviours.get(email);
    if (b) return b;
    if (defaultKind === "unknown") return { kind: "unknown" };
    return { kind: "found", person: makePerson(email), company: makeCompany(email.split("@")[1]!) };
  };

  const routes = new Map<string, string>();
  const callback = (webhookUrl: string, id: string, type: string, status: number, body: unknown) => {
    const raw = JSON.stringify({ id, type, status, body });
    const target = new URL(webhookUrl);
    const via = routes.get(target.origin);
    fetch(via ? via + target.pathname + target.search : webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-request-signature": sign(raw),
        "user-agent": "ClearbitWebhooks/1.0",
      },
      body: raw,
    })
      .then((r) => callbacks.push({ url: webhookUrl, status: r.status }))
      .catch(() => callbacks.push({ url: webhookUrl, status: 0 }));
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const streaming = url.pathname.startsWith("/stream/");
      const path = streaming ? url.pathname.slice("/stream".length) : url.pathname;
      const email = url.searchParams.get("email");
      const domain = url.searchParams.get("domain");
      const now = Date.now();
      const call: FakeCall = { path, email, domain, auth: request.headers.get("authorization"), at: now, status: 0 };
      calls.push(call);
      const reply = (status: number, body: string, headers: Record<string, string> = {}) => {
        call.status = status;
        const inWindow = rate ? calls.filter((c) => c.at > now - rate!.windowMs).length : 0;
        const rateHeaders: Record<string, string> = rate
          ? {
              "X-RateLimit-Limit": String(rate.limit),
              "X-RateLimit-Remaining": String(Math.max(0, rate.limit - inWindow)),
              "X-RateLimit-Reset": String(Math.ceil(rate.windowMs / 1000)),
            }
          : {};
        return new Response(body, {
          status,
          headers: { "content-type": "application/json", ...rateHeaders, ...headers },
        });
      };
      if (call.auth !== `Bearer ${key}`) return reply(401, errorBody("auth_required", "The API key is invalid."));
      if (failStatus === 402) return reply(402, errorBody("over_quota", "You have reached your monthly quota."));
      if (failStatus) return reply(failStatus, errorBody("unavailable", `HTTP ${failStatus}`));
      if (rate && calls.filter((c) => c.at > now - rate!.windowMs).length > rate.limit) {
        return reply(429, errorBody("rate_limit", "Rate limit exceeded."), { "Retry-After": "1" });
      }
      if (path === "/v2/companies/find") {
        if (!domain || !/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(domain))
          return reply(422, errorBody("params_invalid", "domain is invalid"));
        const known = [...behaviours.values()].find(
          (b) => (b.kind === "found" || b.kind === "queued") && b.company?.domain === domain,
        );
        const company =
          known && (known.kind === "found" || known.kind === "queued")
            ? known.company
            : defaultKind === "found"
              ? makeCompany(domain)
              : null;
        return company
          ? reply(200, JSON.stringify(company))
          : reply(404, errorBody("unknown_record", "Unknown domain."));
      }
      if (path !== "/v2/combined/find") return reply(404, errorBody("not_found", "No such endpoint."));
      if (!email || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
        return reply(422, errorBody("params_invalid", "email is invalid"));
      const n = (asked.get(email) ?? 0) + 1;
      asked.set(email, n);
      const b = behaviourOf(email);
      switch (b.kind) {
        case "unknown":
          return reply(404, errorBody("unknown_record", "Unknown email address."));
        case "status":
          return reply(b.status, errorBody(b.type, b.message));
        case "found":
          return reply(200, JSON.stringify({ person: b.person, company: b.company }));
        case "queued": {
          if (streaming || n > (b.times ?? 1))
            return reply(200, JSON.stringify({ person: b.person, company: b.company }));
          const webhookUrl = url.searchParams.get("webhook_url");
          if (webhookUrl && n === 1) {
            const t = setTimeout(() => {
              timers.delete(t);
              callback(webhookUrl, url.searchParams.get("webhook_id") ?? email, "person_company", 200, {
                person: b.person,
                company: b.company,
              });
            }, b.callbackAfterMs ?? 50);
            timers.add(t);
          }
          return reply(
            202,
            errorBody("queued", "Lookup queued; try again later."),
            b.retryAfterSeconds ? { "Retry-After": String(b.retryAfterSeconds) } : {},
          );
        }
      }
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    streamUrl: `http://127.0.0.1:${server.port}/stream`,
    key,
    calls,
    callbacks,
    routeCallbacks: (publicOrigin, reachableOrigin) =>
      void routes.set(new URL(publicOrigin).origin, reachableOrigin.replace(/\/+$/, "")),
    set: (email, b) => void behaviours.set(email, b),
    setDefault: (kind) => void (defaultKind = kind),
    setRateLimit: (limit, windowMs = 60_000) => void (rate = limit === null ? null : { limit, windowMs }),
    failAll: (status) => void (failStatus = status),
    callsFor: (email) => calls.filter((c) => c.email === email).length,
    async stop() {
      for (const t of timers) clearTimeout(t);
      await server.stop(true);
    },
  };
}
