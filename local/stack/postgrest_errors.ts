/**
 * PostgREST's error shape and its SQLSTATE → HTTP status table
 * (docs.postgrest.org/en/latest/references/errors.html), kept pure so it is testable alone.
 */

export interface PostgrestErrorBody {
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
}

export interface PostgrestError {
  status: number;
  body: PostgrestErrorBody;
  headers?: Record<string, string>;
}

const EXACT: Record<string, number> = {
  "23503": 409,
  "23505": 409,
  "25006": 405,
  "53400": 500,
  "P0001": 400,
  "42883": 404,
  "42P01": 404,
  "42P17": 500,
};

const BY_CLASS: Record<string, number> = {
  "08": 503,
  "09": 500,
  "0L": 403,
  "0P": 403,
  "25": 500,
  "28": 403,
  "2D": 500,
  "38": 500,
  "39": 500,
  "3B": 500,
  "40": 500,
  "53": 503,
  "54": 500,
  "55": 500,
  "57": 500,
  "58": 500,
  "F0": 500,
  "HV": 500,
  "P0": 500,
  "XX": 500,
};

/**
 * `authenticated` means the request ran as a role other than the anonymous one: PostgREST
 * answers an insufficient-privilege error with 403 then, and with 401 for anon.
 */
export function httpStatusForSqlState(code: string, authenticated: boolean): number {
  // RAISE sqlstate 'PT402' → HTTP 402: PostgREST's escape hatch for a chosen status.
  const custom = /^PT(\d{3})$/.exec(code);
  if (custom?.[1]) return Number(custom[1]);
  if (code === "42501") return authenticated ? 403 : 401;
  return EXACT[code] ?? BY_CLASS[code.slice(0, 2)] ?? 400;
}

export interface DatabaseErrorFields {
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** A Postgres error as PostgREST reports it, including `RAISE sqlstate 'PGRST'` JSON payloads. */
export function postgrestErrorFromDatabase(
  error: DatabaseErrorFields,
  authenticated: boolean,
): PostgrestError {
  if (error.code === "PGRST") return fromPgrstRaise(error);
  return {
    status: httpStatusForSqlState(error.code, authenticated),
    body: {
      code: error.code,
      message: error.message,
      details: error.detail ?? null,
      hint: error.hint ?? null,
    },
  };
}

export function postgrestError(
  status: number,
  code: string,
  message: string,
  details: string | null = null,
  hint: string | null = null,
): PostgrestError {
  return { status, body: { code, message, details, hint } };
}

/** `RAISE sqlstate 'PGRST' using message = '{…}', detail = '{"status":…,"headers":{…}}'`. */
function fromPgrstRaise(error: DatabaseErrorFields): PostgrestError {
  try {
    const message = JSON.parse(error.message) as Record<string, unknown>;
    const detail = JSON.parse(error.detail ?? "") as Record<string, unknown>;
    const status = detail.status;
    if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599) {
      throw new Error("status must be an HTTP status code");
    }
    const headers: Record<string, string> = {};
    if (detail.headers && typeof detail.headers === "object") {
      for (const [name, value] of Object.entries(detail.headers)) headers[name] = String(value);
    }
    return {
      status,
      headers,
      body: {
        code: String(message.code ?? ""),
        message: String(message.message ?? ""),
        details: typeof message.details === "string" ? message.details : null,
        hint: typeof message.hint === "string" ? message.hint : null,
      },
    };
  } catch {
    return postgrestError(
      500,
      "PGRST121",
      "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
      `Invalid JSON value for MESSAGE: '${error.message}'`,
    );
  }
}
