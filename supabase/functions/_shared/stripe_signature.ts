import { type Stripe, stripeCryptoProvider } from "./stripe.ts";

/** Stripe's default and recommended tolerance: older signatures may be replays. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface VerifyOptions {
  /** Milliseconds since the epoch; tests move it to check the tolerance. */
  nowMs?: number;
}

export type Verification =
  | { ok: true; event: unknown }
  | { ok: false; reason: string };

/**
 * Verifies `Stripe-Signature` over the raw body against each configured secret in
 * turn (during a rotation both the old and the new endpoint secret are valid). There
 * is no unsigned fallback: no header, no secret that matches → not ok.
 */
export async function verifyStripeSignature(
  stripe: Stripe,
  body: string,
  header: string | null,
  secrets: readonly string[],
  options: VerifyOptions = {},
): Promise<Verification> {
  if (header === null || header.trim() === "") {
    return { ok: false, reason: "no Stripe-Signature header" };
  }
  let reason = "no webhook secret configured";
  for (const secret of secrets) {
    try {
      const event = await stripe.webhooks.constructEventAsync(
        body,
        header,
        secret,
        SIGNATURE_TOLERANCE_SECONDS,
        stripeCryptoProvider,
        options.nowMs,
      );
      return { ok: true, event };
    } catch (error) {
      // A signature error means "not this secret": try the next one. A body that
      // verifies but is not JSON is no Stripe event either, so it fails the same way.
      reason = error instanceof Error ? error.message : String(error);
    }
  }
  return { ok: false, reason };
}
