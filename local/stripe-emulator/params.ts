/**
 * Parameter checking as Stripe does it: the full set of accepted parameters per endpoint
 * (anything else is `parameter_unknown`), then typed reads with Stripe's messages and codes.
 */
import { invalidRequest } from "./errors.ts";
import type { FormNode, FormRecord } from "./form.ts";

export type Shape =
  | { kind: "scalar" }
  | { kind: "map" }
  | { kind: "array"; of: Shape }
  | { kind: "object"; fields: Record<string, Shape> };

export const scalar: Shape = { kind: "scalar" };
export const map: Shape = { kind: "map" };
export const arrayOf = (of: Shape): Shape => ({ kind: "array", of });
export const objectOf = (fields: Record<string, Shape>): Shape => ({ kind: "object", fields });

const sub = (prefix: string, key: string): string => prefix === "" ? key : `${prefix}[${key}]`;

function describe(node: FormNode): string {
  return typeof node === "string" ? node : JSON.stringify(node);
}

/** Rejects any parameter the endpoint does not accept, naming the first one in `param`. */
export function checkShape(node: FormNode, shape: Shape, path: string): void {
  switch (shape.kind) {
    case "scalar":
      if (typeof node !== "string") throw invalidRequest(`Invalid string: ${describe(node)}`, path);
      return;
    case "map":
      if (typeof node === "string") {
        // An empty string unsets a hash in Stripe's encoding.
        if (node === "") return;
        throw invalidRequest(`Invalid object`, path, "parameter_invalid_object");
      }
      for (const [key, value] of Object.entries(node)) {
        if (typeof value !== "string") {
          throw invalidRequest(`Invalid string: ${describe(value)}`, sub(path, key));
        }
      }
      return;
    case "array":
      if (typeof node === "string") {
        if (node === "") return;
        throw invalidRequest(`Invalid array`, path, "parameter_invalid_array");
      }
      for (const [key, value] of Object.entries(node)) {
        if (!/^\d+$/.test(key)) {
          throw invalidRequest(`Invalid array`, path, "parameter_invalid_array");
        }
        checkShape(value, shape.of, sub(path, key));
      }
      return;
    case "object":
      if (typeof node === "string") {
        if (node === "" && path !== "") return;
        throw invalidRequest(`Invalid object`, path, "parameter_invalid_object");
      }
      for (const [key, value] of Object.entries(node)) {
        const field = shape.fields[key];
        if (!field) {
          throw invalidRequest(
            `Received unknown parameter: ${sub(path, key)}`,
            sub(path, key),
            "parameter_unknown",
          );
        }
        checkShape(value, field, sub(path, key));
      }
  }
}

interface ReadOptions {
  required?: boolean;
}

/** Typed reads from one level of the parameter tree; `prefix` names it in error messages. */
export class Params {
  constructor(private readonly node: FormRecord, readonly prefix = "") {}

  path(key: string): string {
    return sub(this.prefix, key);
  }

  has(key: string): boolean {
    return this.node[key] !== undefined;
  }

  private raw(key: string, options: ReadOptions): string | undefined {
    const value = this.node[key];
    if (value === undefined) {
      if (options.required) {
        throw invalidRequest(
          `Missing required param: ${this.path(key)}.`,
          this.path(key),
          "parameter_missing",
        );
      }
      return undefined;
    }
    if (typeof value !== "string") {
      throw invalidRequest(`Invalid string: ${describe(value)}`, this.path(key));
    }
    if (value === "") {
      throw invalidRequest(
        `You passed an empty string for '${
          this.path(key)
        }'. We assume empty values are an attempt to unset a parameter; however '${
          this.path(key)
        }' cannot be unset. You should remove '${
          this.path(key)
        }' from your request or supply a non-empty value.`,
        this.path(key),
        "parameter_invalid_empty",
      );
    }
    return value;
  }

  string(key: string, options: ReadOptions & { maxLength?: number } = {}): string | undefined {
    const value = this.raw(key, options);
    if (
      value !== undefined && options.maxLength !== undefined && value.length > options.maxLength
    ) {
      throw invalidRequest(
        `Invalid string: ${value.slice(0, 20)}...; must be at most ${options.maxLength} characters`,
        this.path(key),
        "string_length_exceeds_maximum",
      );
    }
    return value;
  }

  integer(
    key: string,
    options: ReadOptions & { min?: number; max?: number } = {},
  ): number | undefined {
    const value = this.raw(key, options);
    if (value === undefined) return undefined;
    if (!/^-?\d+$/.test(value)) {
      throw invalidRequest(
        `Invalid integer: ${value}`,
        this.path(key),
        "parameter_invalid_integer",
      );
    }
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed)) {
      throw invalidRequest(
        `Invalid integer: ${value}`,
        this.path(key),
        "parameter_invalid_integer",
      );
    }
    if (options.min !== undefined && parsed < options.min) {
      throw invalidRequest(
        `This value must be greater than or equal to ${options.min}.`,
        this.path(key),
      );
    }
    if (options.max !== undefined && parsed > options.max) {
      throw invalidRequest(
        `This value must be less than or equal to ${options.max}.`,
        this.path(key),
      );
    }
    return parsed;
  }

  boolean(key: string, options: ReadOptions = {}): boolean | undefined {
    const value = this.raw(key, options);
    if (value === undefined) return undefined;
    if (value !== "true" && value !== "false") {
      throw invalidRequest(`Invalid boolean: ${value}`, this.path(key));
    }
    return value === "true";
  }

  oneOf<T extends string>(
    key: string,
    values: readonly T[],
    options: ReadOptions = {},
  ): T | undefined {
    const value = this.raw(key, options);
    if (value === undefined) return undefined;
    const match = values.find((v) => v === value);
    if (match === undefined) {
      throw invalidRequest(
        `Invalid ${this.path(key)}: must be one of ${values.join(", ")}`,
        this.path(key),
      );
    }
    return match;
  }

  child(key: string, options: ReadOptions = {}): Params | undefined {
    const value = this.node[key];
    if (value === undefined || value === "") {
      if (options.required) {
        throw invalidRequest(
          `Missing required param: ${this.path(key)}.`,
          this.path(key),
          "parameter_missing",
        );
      }
      return undefined;
    }
    if (typeof value === "string") {
      throw invalidRequest(`Invalid object`, this.path(key), "parameter_invalid_object");
    }
    return new Params(value, this.path(key));
  }

  /** An array of hashes, in index order. */
  list(key: string): Params[] {
    const value = this.node[key];
    if (value === undefined || typeof value === "string") return [];
    return Object.keys(value)
      .sort((a, b) => Number(a) - Number(b))
      .map((index) => {
        const item = value[index];
        if (item === undefined || typeof item === "string") {
          throw invalidRequest(
            `Invalid object`,
            sub(this.path(key), index),
            "parameter_invalid_object",
          );
        }
        return new Params(item, sub(this.path(key), index));
      });
  }

  /** An array of strings, in index order. */
  strings(key: string): string[] {
    const value = this.node[key];
    if (value === undefined || typeof value === "string") return [];
    return Object.keys(value)
      .sort((a, b) => Number(a) - Number(b))
      .map((index) => {
        const item = value[index];
        return typeof item === "string" ? item : "";
      });
  }

  /** Stripe's metadata limits: 50 keys, key ≤ 40 characters, value ≤ 500; empty values unset. */
  metadata(key: string): Record<string, string> {
    const value = this.node[key];
    const out: Record<string, string> = {};
    if (value === undefined || typeof value === "string") return out;
    const entries = Object.entries(value);
    if (entries.length > 50) {
      throw invalidRequest(
        `Invalid ${this.path(key)}: metadata can have at most 50 keys`,
        this.path(key),
      );
    }
    for (const [k, v] of entries) {
      if (k.length > 40) {
        throw invalidRequest(
          `Metadata keys can have up to 40 characters; \`${k}\` has ${k.length}.`,
          sub(this.path(key), k),
        );
      }
      if (typeof v !== "string") {
        throw invalidRequest(`Invalid string: ${describe(v)}`, sub(this.path(key), k));
      }
      if (v.length > 500) {
        throw invalidRequest(
          `Metadata values can have up to 500 characters, but you passed in a value that is ${v.length} characters.`,
          sub(this.path(key), k),
        );
      }
      if (v !== "") out[k] = v;
    }
    return out;
  }
}
