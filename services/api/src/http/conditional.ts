/**
 * RFC 9110 §13.1.2: does `If-None-Match` name the representation's current entity tag (weak comparison)?
 *
 * Not Koa's `ctx.fresh`: the `fresh` package it uses answers "stale" whenever the request carries
 * `Cache-Control: no-cache`, and fetch() adds exactly that to every request with a conditional header
 * (Fetch standard, HTTP-network-or-cache fetch, cache mode "no-store"). An origin server evaluates
 * If-None-Match whatever the request's cache directives say.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined || header === '') return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const current = opaque(etag);
  return header.split(',').some((tag) => opaque(tag) === current);
}
