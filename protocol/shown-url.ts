/**
 * An agent URL as messages, logs and audit rows show it: without its query, which may carry a key
 * (`?token=…`; helper finding, stop 29), and as `sov agent add|list` print it (stop 33).
 * `agent add` refuses a user name or password outright.
 */
export function shownUrl (url: URL): string {
  return url.origin + url.pathname + (url.search !== '' ? '?…' : '')
}
