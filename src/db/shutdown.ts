/**
 * Ctrl-C (SIGINT) or SIGTERM while a server we started is running: stop it, then exit with 128 + the
 * signal's number. Without this a killed Node process would leave its PostgreSQL running.
 * Returns the function that removes the handlers again (call it once the server is stopped).
 */
export function stopOnSignal(
  stop: () => Promise<unknown>,
  say: (line: string) => void = () => {},
): () => void {
  const handler = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping…`);
    void stop().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  return () => {
    process.removeListener("SIGINT", handler);
    process.removeListener("SIGTERM", handler);
  };
}
