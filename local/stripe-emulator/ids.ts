/** Object ids shaped like Stripe's test-mode ids (`cs_test_…`, `cus_…`, `evt_…`). */
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function randomPart(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("");
}

export type IdPrefix =
  | "cs_test"
  | "cus"
  | "evt"
  | "pi"
  | "ch"
  | "re"
  | "dp"
  | "promo"
  | "req"
  | "li"
  | "prod"
  | "price";

export function newId(prefix: IdPrefix): string {
  // Checkout session ids are long in Stripe (they carry routing data); the rest are 24 chars.
  return `${prefix}_${randomPart(prefix === "cs_test" ? 58 : prefix === "req" ? 14 : 24)}`;
}
