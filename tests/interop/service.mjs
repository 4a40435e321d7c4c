// What the long-lived services of the interop tests (upstream.mjs, mcp_server.mjs) share: they
// end with their parent, the Rust harness (tests/it/support/node.rs `NodeService`), which holds
// their stdin: EOF there means the test is over or crashed, so no orphan outlives it.

/** Closes `server` and exits when stdin reaches EOF, on SIGTERM or on SIGINT; logs why as `tag`. */
export function exitWithParent(server, tag) {
  let exiting = false;
  const shutdown = (why) => {
    if (exiting) return;
    exiting = true;
    console.error(`[${tag}] exiting (${why})`);
    server.close();
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
