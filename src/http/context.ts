import type { Core } from "../core";
import type { LoginThrottle } from "./login-throttle";

/** What every route module needs: the core, plus the parts only HTTP uses. */
export interface AppContext extends Core {
  loginThrottle: LoginThrottle;
}

/** Per-request facts the server wrapper knows and routes read (client address, request id, matched route). */
export type RequestMeta = { id: string; ip: string; route: string; bodyBytes?: number };
export const requestMeta = new WeakMap<Request, RequestMeta>();

export function metaOf(request: Request): RequestMeta {
  return requestMeta.get(request) ?? { id: "-", ip: "unknown", route: "" };
}
