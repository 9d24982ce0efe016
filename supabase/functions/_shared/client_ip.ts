import { isIP } from "node:net";

/**
 * The client's IP as Supabase's edge reports it: the first hop of `x-forwarded-for`.
 * Anything that is not a plain IPv4/IPv6 address counts as unknown (no per-IP limit),
 * so a malformed header can never reach the database as an address. isIP accepts an
 * IPv6 zone id (`fe80::1%eth0`), which Postgres's inet refuses: not plain either.
 */
export function clientIpFrom(headers: Headers): string | undefined {
  const first = headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return first && !first.includes("%") && isIP(first) !== 0 ? first : undefined;
}
