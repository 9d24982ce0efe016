/**
 * Faults injected per route (`"POST /v1/checkout/sessions"`), consumed in the order they were
 * added. Each one models a real failure seen from a Stripe client; see README.md.
 */
import { invalidRequest } from "./errors.ts";

export type FaultMode = "before" | "after" | "saved_500" | "delay" | "drop_after";
export type FaultPhase = "before" | "after";

export interface Fault {
  id: number;
  route: string;
  mode: FaultMode;
  status: number;
  times: number;
  delay_ms: number;
  phase: FaultPhase;
  /** saved_500 only: whether the object is created before the 500 is saved. */
  effect: boolean;
}

const MODES: readonly FaultMode[] = ["before", "after", "saved_500", "delay", "drop_after"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function intField(
  input: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
): number {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw invalidRequest(`${key} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`, key);
  }
  return value;
}

/**
 * Normalises "POST /v1/checkout/sessions/cs_test_x/expire" style routes to their template
 * (the object id becomes `:id`; `/v1/customers/search` stays as it is).
 */
export function routeTemplate(method: string, path: string): string {
  const templated = path.replace(
    /^(\/v1\/(?:checkout\/sessions|customers|events|refunds|charges|payment_intents|disputes))\/(?!search$)[^/]+/,
    "$1/:id",
  );
  return `${method.toUpperCase()} ${templated}`;
}

export class FaultRegistry {
  #faults: Fault[] = [];
  #nextId = 1;

  add(input: unknown): Fault {
    if (!isRecord(input)) throw invalidRequest("fault must be a JSON object");
    const route = input.route;
    if (typeof route !== "string" || !/^(GET|POST) \/v1\//.test(route)) {
      throw invalidRequest(
        `route must look like "POST /v1/checkout/sessions", got ${JSON.stringify(route)}`,
        "route",
      );
    }
    const [method = "", path = ""] = route.split(" ");
    const mode = MODES.find((m) => m === input.mode);
    if (!mode) {
      throw invalidRequest(
        `mode must be one of ${MODES.join(", ")}, got ${JSON.stringify(input.mode)}`,
        "mode",
      );
    }
    const phase = input.phase === undefined ? "before" : input.phase;
    if (phase !== "before" && phase !== "after") {
      throw invalidRequest(
        `phase must be "before" or "after", got ${JSON.stringify(phase)}`,
        "phase",
      );
    }
    const fault: Fault = {
      id: this.#nextId++,
      route: routeTemplate(method, path),
      mode,
      status: mode === "saved_500" ? 500 : intField(input, "status", 500, 400),
      times: intField(input, "times", 1, 1),
      delay_ms: intField(input, "delay_ms", mode === "delay" ? 1000 : 0, 0),
      phase,
      effect: input.effect === true,
    };
    this.#faults.push(fault);
    return fault;
  }

  /** The next fault for the route, counting it as used. */
  take(route: string): Fault | undefined {
    const fault = this.#faults.find((f) => f.route === route && f.times > 0);
    if (!fault) return undefined;
    fault.times -= 1;
    if (fault.times === 0) this.#faults = this.#faults.filter((f) => f !== fault);
    return { ...fault };
  }

  list(): Fault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.#faults = [];
  }
}
