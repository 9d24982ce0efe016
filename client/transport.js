// @ts-check
/**
 * How the client reaches a checkout function: one small interface, two adapters (plain
 * `fetch`, and supabase-js `functions.invoke`). A transport resolves with any HTTP answer and
 * throws `NetworkError` only when none came back, which is the one case where the client cannot
 * know whether the server acted, and so the case the idempotency key exists for.
 */

/**
 * @typedef {object} TransportRequest
 * @property {string} functionName e.g. "guest-checkout"
 * @property {string} [route] a route of the function, e.g. "cancel" for `guest-checkout/cancel`
 * @property {Record<string, string>} headers
 * @property {Record<string, unknown>} body sent as JSON
 */

/**
 * @typedef {object} TransportResponse
 * @property {number} status
 * @property {(name: string) => string | null} header
 * @property {unknown} body the parsed JSON body; null when there is none or it is not JSON
 */

/** @typedef {(request: TransportRequest) => Promise<TransportResponse>} Transport */

/** No HTTP answer: refused, reset, dropped, timed out. The request may or may not have run. */
export class NetworkError extends Error {
  /**
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(message, cause) {
    super(message, { cause });
    this.name = "NetworkError";
  }
}

/** A hung request must end so the client can retry it; Stripe's own client gives up at 80 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * @typedef {object} FetchTransportOptions
 * @property {string} functionsUrl e.g. `${SUPABASE_URL}/functions/v1`
 * @property {Record<string, string>} [headers] sent with every request (e.g. `apikey`)
 * @property {typeof fetch} [fetch]
 * @property {number} [timeoutMs]
 */

/**
 * @param {FetchTransportOptions} options
 * @returns {Transport}
 */
export function fetchTransport(options) {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const base = options.functionsUrl.replace(/\/+$/, "");
  return async (request) => {
    /** @type {Response} */
    let response;
    /** @type {string} */
    let text;
    try {
      // Headers, not object spread: "authorization" and "Authorization" are one header, and
      // the user's token must replace the anon key rather than be appended to it.
      const headers = new Headers(options.headers);
      for (const [name, value] of Object.entries(request.headers)) headers.set(name, value);
      headers.set("content-type", "application/json");
      response = await doFetch(`${base}/${functionPath(request)}`, {
        method: "POST",
        headers,
        body: JSON.stringify(request.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
      });
      // A connection dropped in the middle of the body is as unknown an outcome as no answer.
      text = await response.text();
    } catch (error) {
      throw new NetworkError(`${request.functionName}: no response (${describe(error)})`, error);
    }
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      body: parseJson(text),
    };
  };
}

/**
 * The part of a supabase-js client this adapter uses (`SupabaseClient` fits it).
 *
 * @typedef {object} FunctionsInvoker
 * @property {{ invoke(name: string, options: { body: Record<string, unknown>, headers: Record<string, string> }): Promise<{ error: unknown, data: unknown, response?: Response | undefined }> }} functions
 */

/**
 * supabase-js answers every non-2xx with `FunctionsHttpError` and keeps the `Response`; a
 * missing response means `FunctionsFetchError`, the network case.
 *
 * @param {FunctionsInvoker} client
 * @returns {Transport}
 */
export function supabaseTransport(client) {
  return async (request) => {
    const { data, error, response } = await client.functions.invoke(functionPath(request), {
      body: request.body,
      headers: request.headers,
    });
    if (!response) {
      throw new NetworkError(`${request.functionName}: no response (${describe(error)})`, error);
    }
    /** @type {unknown} */
    let body = data;
    if (error) {
      try {
        body = parseJson(await response.text());
      } catch (cause) {
        throw new NetworkError(`${request.functionName}: body lost (${describe(cause)})`, cause);
      }
    }
    return { status: response.status, header: (name) => response.headers.get(name), body };
  };
}

/**
 * @param {TransportRequest} request
 * @returns {string} e.g. `guest-checkout` or `guest-checkout/cancel`, each part URL-encoded
 */
function functionPath(request) {
  const name = encodeURIComponent(request.functionName);
  return request.route === undefined ? name : `${name}/${encodeURIComponent(request.route)}`;
}

/**
 * @param {string} text
 * @returns {unknown}
 */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}
