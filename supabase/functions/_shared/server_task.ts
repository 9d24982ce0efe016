/**
 * The HTTP face of a job the project runs on itself (outbox-dispatch, stripe-reconcile):
 * POST with a secret key → one run → its JSON summary. pg_cron (README "Scheduling on
 * Supabase"), the local stack's intervals and `deno task outbox` / `deno task reconcile`
 * call it the same way; a run beside another changes nothing twice.
 */
import { ApiError, errorResponse, jsonResponse } from "./errors.ts";
import { requireSecretKey, type SecretKeyCheck } from "./auth.ts";

export function createServerTaskHandler(
  checkSecretKey: SecretKeyCheck,
  run: () => Promise<unknown>,
): (req: Request) => Promise<Response> {
  return async function handleServerTask(req: Request): Promise<Response> {
    try {
      if (req.method !== "POST") {
        return errorResponse(new ApiError("method_not_allowed"), { allow: "POST" });
      }
      await requireSecretKey(checkSecretKey, req);
      await req.body?.cancel();
      return jsonResponse(200, await run());
    } catch (error) {
      return errorResponse(error);
    }
  };
}
