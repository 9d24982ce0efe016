/** Calls per name (RPC function or edge function); tests assert round trips through these. */
export class CallCounters {
  #counts = new Map<string, number>();

  increment(name: string): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
  }

  /** One name's count, or the total over all names. */
  count(name?: string): number {
    if (name !== undefined) return this.#counts.get(name) ?? 0;
    let total = 0;
    for (const value of this.#counts.values()) total += value;
    return total;
  }

  reset(): void {
    this.#counts.clear();
  }
}
