/**
 * The local chain of bench/x402 in a process of its own (as a real RPC node would be): starts it
 * (test/helpers/chain.ts), prints `{url, token}` as one JSON line, and stops when its stdin closes.
 */
import { startChain } from '../test/helpers/chain.js';

const chain = await startChain({ tokenUnits: 10n ** 15n });
process.stdout.write(`${JSON.stringify({ url: chain.url, token: chain.token })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void chain.stop().finally(() => process.exit(0));
});
