/**
 * How a Pusher event and a Switchboard publication meet (docs/pusher.md, "The mapping").
 *
 * Pusher → Switchboard: an event `name` with data `text` (a string, as Pusher's HTTP API
 * takes it) is a publication whose data is `{"event": name, "data": value}`. `value` is the
 * parsed JSON when `text` is the compact JSON text of an object, array, number, boolean or
 * null (what every Pusher server library sends for an object), so Switchboard subscribers
 * get structured data; any other text (a plain string, JSON with spaces, a JSON string
 * literal) stays the string it was, so nothing is ever rewritten. A client event's data (any
 * JSON value in the frame) is kept as it came.
 *
 * Switchboard → Pusher: a publication whose data is an object with a string `event` (not a
 * reserved `pusher:`/`pusher_internal:` name) and no key other than `event` and `data` is
 * that event with that data; any other publication is the event `message` with the whole
 * data. Data goes out as a string: a string as it is, anything else as its JSON text.
 */

/** The event name Pusher clients see for a publication that is not `{event, data}`. */
export const PLAIN_EVENT = 'message';

/** True for names Pusher reserves for the protocol (`pusher:…`, `pusher_internal:…`). */
export function isReservedEvent(name: string): boolean {
  return name.startsWith('pusher:') || name.startsWith('pusher_internal:');
}

/** The value stored for a Pusher data string (see the module comment). */
export function valueOfText(text: string): unknown {
  const c = text.charCodeAt(0);
  // Only what could be compact JSON of a non-string: { [ digit - t f n.
  if (!(c === 123 || c === 91 || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110)) return text;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v !== 'string' && JSON.stringify(v) === text ? v : text;
  } catch {
    return text;
  }
}

/** A Switchboard publication's data for a Pusher event. */
export function publicationData(event: string, data: unknown): { event: string; data: unknown } {
  return { event, data };
}

/** The Pusher event (name and data string) of a publication's data. */
export function pusherEventOf(data: unknown): { event: string; data: string } {
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const o = data as Record<string, unknown>;
    const event = o.event;
    if (typeof event === 'string' && event.length > 0 && !isReservedEvent(event) && onlyEventAndData(o)) {
      return { event, data: textOf(o.data) };
    }
  }
  return { event: PLAIN_EVENT, data: textOf(data) };
}

function onlyEventAndData(o: Record<string, unknown>): boolean {
  for (const k in o) if (k !== 'event' && k !== 'data') return false;
  return true;
}

/** A value as Pusher event data: a string as it is, anything else as JSON (absent: `null`). */
export function textOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}
