// Released content keys, in memory only, by key id: how the rest of the agent gets at them.
// Nothing here is ever written or logged; forgetting a key overwrites its bytes. The model
// loader take()s a model's key out of the store: from then on it is the loader's to wipe,
// which it does as soon as the session exists (or the load failed).

export interface ContentKeys {
  /** the 32-byte key released under `keyId`, if this process holds one */
  get(keyId: string): Uint8Array | undefined;
  /** key ids held (never the keys) */
  ids(): string[];
}

export class ContentKeyStore implements ContentKeys {
  private readonly keys = new Map<string, Uint8Array>();
  private readonly listeners: ((keyId: string) => void)[] = [];

  get(keyId: string): Uint8Array | undefined {
    return this.keys.get(keyId);
  }

  ids(): string[] {
    return [...this.keys.keys()];
  }

  set(keyId: string, key: Uint8Array): void {
    const old = this.keys.get(keyId);
    if (old && old !== key) old.fill(0);
    this.keys.set(keyId, key);
    for (const l of this.listeners) l(keyId);
  }

  /** Removes the key from the store and hands it over; the caller wipes it (fill(0)) when done. */
  take(keyId: string): Uint8Array | undefined {
    const k = this.keys.get(keyId);
    this.keys.delete(keyId);
    return k;
  }

  /** Drops every key (the device is no longer affirming, or the agent stops). */
  clear(): string[] {
    const dropped = this.ids();
    for (const k of this.keys.values()) k.fill(0);
    this.keys.clear();
    return dropped;
  }

  /** Called with the key id whenever a key arrives. */
  onReleased(listener: (keyId: string) => void): void {
    this.listeners.push(listener);
  }
}
