/**
 * The emulator's clock: real time plus an offset that tests advance. Object timestamps
 * (`created`, `expires_at`) and idempotency key retention use it; webhook signatures do not,
 * so receivers' 300 s tolerance keeps working after an advance.
 */
export class EmulatorClock {
  #offsetSeconds = 0;

  /** Unix seconds on the emulator clock. */
  now(): number {
    return Math.floor(Date.now() / 1000) + this.#offsetSeconds;
  }

  get offsetSeconds(): number {
    return this.#offsetSeconds;
  }

  advance(seconds: number): void {
    this.#offsetSeconds += seconds;
  }

  reset(): void {
    this.#offsetSeconds = 0;
  }

  toJSON(): { now: number; iso: string; offset_seconds: number } {
    const now = this.now();
    return { now, iso: new Date(now * 1000).toISOString(), offset_seconds: this.#offsetSeconds };
  }
}
