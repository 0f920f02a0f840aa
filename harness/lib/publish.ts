// How a harness page hands its result to the puppeteer driver: window.__seedmask = { ok, result }
// or { ok: false, error }, and a line in the page's log element for a person looking at it.

export function publish(work: Promise<unknown>, log: HTMLElement, show: (result: unknown) => string = (r) => JSON.stringify(r, null, 2)): void {
  work.then(
    (result) => {
      (window as unknown as { __seedmask: unknown }).__seedmask = { ok: true, result };
      log.textContent = show(result);
    },
    (err: Error) => {
      (window as unknown as { __seedmask: unknown }).__seedmask = { ok: false, error: err.stack ?? err.message };
      log.textContent = `error: ${err.message}`;
    },
  );
}
