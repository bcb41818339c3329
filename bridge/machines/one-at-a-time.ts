/**
 * Work queued per key (an account id): a check and the write that depends on it ("fewer than the cap?
 * then add one") run without another request of the same account in between. Other accounts do not wait.
 */
export class OneAtATime {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Run `work` once every earlier call for `key` has finished (whether it succeeded or not). */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const mine = (this.tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.tails.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.tails.get(key) === mine) this.tails.delete(key);
    }
  }
}
