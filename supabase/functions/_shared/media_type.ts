/**
 * A Content-Type header read as RFC 9110 §8.3.1 writes it: `type/subtype` then
 * `; name=value` parameters, a value a token or a quoted-string (`"…"`, `\` escaping the
 * next character). Names and the essence are case-insensitive, so they come lowercased.
 */
export interface MediaType {
  /** `type/subtype`, lowercased, without parameters. */
  essence: string;
  /** Every parameter in order (a name may repeat); `value` null when it is malformed. */
  parameters: { name: string; value: string | null }[];
}

export function parseMediaType(header: string): MediaType {
  const semicolon = header.indexOf(";");
  const essence = (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  const parameters: MediaType["parameters"] = [];
  let i = semicolon < 0 ? header.length : semicolon + 1;
  while (i < header.length) {
    const end = nextSemicolon(header, i);
    const part = header.slice(i, end);
    i = end + 1;
    const equals = part.indexOf("=");
    const name = (equals < 0 ? part : part.slice(0, equals)).trim().toLowerCase();
    if (name === "") continue;
    parameters.push({ name, value: equals < 0 ? null : parameterValue(part.slice(equals + 1)) });
  }
  return { essence, parameters };
}

/** The `;` that ends the parameter starting at `from`: one inside a quoted-string does not. */
function nextSemicolon(header: string, from: number): number {
  let quoted = false;
  for (let i = from; i < header.length; i++) {
    const char = header[i];
    if (quoted && char === "\\") i++;
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === ";") return i;
  }
  return header.length;
}

/** A token, or a quoted-string unquoted; null when empty or an unterminated/trailed quote. */
function parameterValue(raw: string): string | null {
  const text = raw.trim();
  if (!text.startsWith('"')) return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(text) ? text : null;
  let value = "";
  for (let i = 1; i < text.length; i++) {
    const char = text[i];
    if (char === "\\" && i + 1 < text.length) value += text[++i];
    else if (char === '"') return i === text.length - 1 ? value : null;
    else value += char;
  }
  return null;
}

/**
 * Whether a charset label names UTF-8 (the Encoding Standard's labels: `utf-8`, `utf8`,
 * `unicode-1-1-utf-8`, …, any case), the only encoding JSON may be sent in (RFC 8259 §8.1).
 */
export function isUtf8Label(label: string): boolean {
  try {
    return new TextDecoder(label.trim()).encoding === "utf-8";
  } catch {
    return false; // RangeError: not a label the Encoding Standard knows
  }
}
