/** The exact bytes of a parsed JSON body (as text), for routes that verify a signature over them. */
export const rawBodies = new WeakMap<Request, string>();
