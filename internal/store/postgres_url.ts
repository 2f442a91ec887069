/**
 * PostgreSQL connection URLs as libpq reads them, and their redaction for logs.
 *
 * @module
 */

/**
 * `url` with its passwords replaced by `***`, for logs and messages: the one in the user info
 * (`postgres://me:secret@db/x`) and a `password=` query parameter.
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?]*:)[^@/?]*@/i, "$1***@")
    .replace(/([?&]password=)[^&#]*/gi, "$1***");
}
