/**
 * A table for entries that come and go at request rate (requests in flight, sessions of one request
 * each), keyed by JSON-RPC ids or session ids.
 *
 * Why not a `Map`: when V8 rehashes a Map it keeps the old backing table, entries and all, pointing
 * at its successor (so that live iterators can follow). Under load the old table has often been
 * promoted to the old generation by then, and a minor GC treats whatever an old-generation object
 * points at as live: the successor table survives, and with it every request it holds (its HTTP
 * request and response, headers, body), which are promoted in turn; the chain runs on until the next
 * full GC. With the requests in flight in a Map, a quarter of the proxy's young allocations survived
 * each scavenge (~800 KB at 20 clients), every scavenge paused ~1.5 ms copying them, and the old
 * generation grew by ~70 MB/s between full GCs. A null-prototype object's dictionary has no such chain:
 * ~50 KB survive (docs/benchmarks.md, "What we changed").
 *
 * Keys: a number is stored as itself, so integer ids iterate in ascending order (for ids handed out
 * in increasing order, insertion order); a string gets a prefix, so that the ids `1` and `"1"` stay
 * distinct, and iterates after the integers in insertion order.
 */
export class IdTable<V> {
  private readonly entries = Object.create(null) as Record<string | number, V>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: string | number): V | undefined {
    return this.entries[keyOf(id)];
  }

  set(id: string | number, value: V): void {
    const key = keyOf(id);
    if (this.entries[key] === undefined) this.count += 1;
    this.entries[key] = value;
  }

  /** False when there was no entry. */
  delete(id: string | number): boolean {
    const key = keyOf(id);
    if (this.entries[key] === undefined) return false;
    delete this.entries[key];
    this.count -= 1;
    return true;
  }

  /** A snapshot of the values: integer keys in ascending order, then string keys in insertion order. */
  values(): V[] {
    return Object.values(this.entries);
  }
}

const keyOf = (id: string | number): string | number => (typeof id === 'number' ? id : `s${id}`);
