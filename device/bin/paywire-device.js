#!/usr/bin/env node
// The `paywire-device` command: runs the compiled daemon (device/dist, built by `npm run build -w device`).
try {
  await import('../dist/device/cli.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/device/cli.js')) {
    process.stderr.write('paywire-device is not built yet: run `npm run build -w device` (or `npm run device -- --config …` from the sources)\n');
    process.exit(1);
  }
  throw err;
}
